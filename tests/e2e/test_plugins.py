"""A plugin package's model and dataset through the API and a live Celery worker: runs, and fails clearly."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Service, wait_for_status
from tests.plugin_data import write_blobs

pytestmark = pytest.mark.e2e


def tabular(path: str) -> dict[str, Any]:
    return {
        "model": {"name": "tabular_mlp", "params": {"hidden": 32}},
        "dataset": {"name": "csv_features", "path": path, "params": {"label_column": "species"}},
        "batch_size": 16,
    }


def test_a_range_test_then_clr_training_run_on_the_example_plugins_model_and_dataset(
    service: Service,
) -> None:
    write_blobs(service.home / "data" / "tabular" / "blobs.csv", rows=300)
    with service.client() as client:
        answer = client.post("/lr-find", json={**tabular("tabular/blobs.csv"), "num_iter": 60, "end_lr": 1.0})
        assert answer.status_code == 202, answer.text
        lr_find = wait_for_status(client, answer.json()["id"], {"succeeded", "failed"})
        assert lr_find["status"] == "succeeded", lr_find["error"]
        assert lr_find["result"]["data"] == {"validation": "holdout", "train_samples": 240, "val_samples": 60}
        assert lr_find["result"]["suggested_max_lr"] > 0

        schedule = {"policy": "triangular", "from_lr_find": lr_find["id"], "step_size_epochs": 2}
        answer = client.post(
            "/train", json={**tabular("tabular/blobs.csv"), "epochs": 6, "schedule": schedule}
        )
        assert answer.status_code == 202, answer.text
        train = wait_for_status(client, answer.json()["id"], {"succeeded", "failed"})

    assert train["status"] == "succeeded", train["error"]
    assert train["request"]["schedule"]["max_lr"] == lr_find["result"]["suggested_max_lr"]
    assert train["result"]["epochs_completed"] == 6
    assert train["result"]["best_val_accuracy"] > 0.9  # three separated blobs


def test_a_plugin_that_raises_fails_its_run_naming_the_plugin_with_the_traceback_in_the_worker_log(
    service: Service,
) -> None:
    write_blobs(service.home / "data" / "tabular" / "broken.csv", bad_cell=True)
    with service.client() as client:
        answer = client.post("/lr-find", json={**tabular("tabular/broken.csv"), "num_iter": 20})
        assert answer.status_code == 202, answer.text  # the header and labels are fine: only loading fails
        run = wait_for_status(client, answer.json()["id"], {"succeeded", "failed"})

    assert run["status"] == "failed"
    error = run["error"]
    assert error["code"] == "plugin_error"
    assert "dataset plugin 'csv_features' (clr_tabular:CSV_FEATURES) raised ValueError" in error["detail"]
    assert "n/a" in error["detail"]
    assert "Traceback" not in error["detail"]
    log = "".join(path.read_text(errors="replace") for path in service.home.glob("w*.log"))  # every worker's
    assert "Traceback" in log
    assert "load_csv" in log  # the plugin's own frame, kept for its author
