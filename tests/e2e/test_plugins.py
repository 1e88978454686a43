"""A plugin package's model and dataset through the API and a live Celery worker: runs, and fails clearly."""

from __future__ import annotations

import re
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


@pytest.mark.parametrize(
    ("path", "body", "detail", "frame"),
    [
        (
            "/lr-find",
            {"model": {"name": "faulty_net", "params": {"raise_in": "forward"}}, "num_iter": 20},
            "model plugin 'faulty_net' (clr_faulty:FAULTY_NET) raised Deliberate: faulty_net's forward fails",
            "forward",
        ),
        (
            "/train",
            {"model": {"name": "faulty_net", "params": {"raise_in": "forward"}}, "epochs": 1},
            "model plugin 'faulty_net' (clr_faulty:FAULTY_NET) raised Deliberate: faulty_net's forward fails",
            "forward",
        ),
        (
            "/lr-find",
            {"model": {"name": "faulty_net", "params": {"raise_in": "build"}}, "num_iter": 20},
            "model plugin 'faulty_net' (clr_faulty:FAULTY_NET) raised Deliberate: faulty_net refuses to "
            "build",
            "build_net",
        ),
        (
            "/lr-find",
            {"dataset": {"name": "faulty_set", "params": {"raise_in": "load"}}, "num_iter": 20},
            "dataset plugin 'faulty_set' (clr_faulty:FAULTY_SET) raised Deliberate: faulty_set refuses to "
            "load",
            "load_set",
        ),
        (
            "/lr-find",
            {"dataset": {"name": "faulty_set", "params": {"raise_in": "item"}}, "num_iter": 20},
            "dataset plugin 'faulty_set' (clr_faulty:FAULTY_SET) raised Deliberate: faulty_set cannot read "
            "item",
            "__getitem__",
        ),
    ],
    ids=["forward-in-a-range-test", "forward-in-training", "build", "load", "streamed-item"],
)
def test_a_plugin_that_raises_fails_its_run_naming_the_plugin_with_the_traceback_in_the_worker_log(
    service: Service, path: str, body: dict[str, Any], detail: str, frame: str
) -> None:
    """The suite's faulty plugins (tests/plugins/clr-plugin-faulty) raise in build, forward or load."""
    request = {"model": {"name": "vanilla_cnn"}, "dataset": {"name": "digits"}, "batch_size": 16, **body}
    with service.client() as client:
        answer = client.post(path, json=request)
        assert answer.status_code == 202, answer.text
        run = wait_for_status(client, answer.json()["id"], {"succeeded", "failed"})

    assert run["status"] == "failed"
    assert run["error"]["code"] == "plugin_error"
    assert run["error"]["detail"].startswith(detail)
    assert run["error"]["detail"].endswith(". The worker's log has the traceback.")
    assert "Traceback" not in run["error"]["detail"]
    log = "".join(file.read_text(errors="replace") for file in service.home.glob("w*.log"))  # every worker's
    logged = log[log.index(f"run {run['id']} failed") :]
    assert "Traceback (most recent call last):" in logged
    # the plugin's own frame, for its author
    assert re.search(rf'clr_faulty/__init__.py", line \d+, in {frame}\n', logged)


def test_a_csv_with_a_cell_that_is_not_a_number_is_422_at_submit_naming_the_line(service: Service) -> None:
    write_blobs(service.home / "data" / "tabular" / "broken.csv", bad_cell=True)
    with service.client() as client:
        answer = client.post("/lr-find", json={**tabular("tabular/broken.csv"), "num_iter": 20})

    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"] == ["body", "dataset"]
    assert "line 121: a feature is not a number: could not convert string to float: 'n/a'" in answer.text
