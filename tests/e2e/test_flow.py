"""The whole flow over HTTP through real worker processes, on both stacks."""

from __future__ import annotations

import numpy as np
import pytest

import clr
from tests.e2e.conftest import Service, wait_for_status, wait_until

pytestmark = pytest.mark.e2e

DIGITS_CNN = {"model": {"name": "vanilla_cnn"}, "dataset": {"name": "digits"}}


def test_lr_find_on_digits_succeeds_with_a_curve_that_falls_then_rises(service: Service) -> None:
    with service.client() as client:
        answer = client.post(
            "/lr-find",
            json={**DIGITS_CNN, "batch_size": 16, "end_lr": 1.0, "optimizer": {"name": "sgd_momentum"}},
        )
        assert answer.status_code == 202, answer.text
        run_id = answer.json()["id"]
        assert answer.headers["location"] == f"/runs/{run_id}"
        run = wait_for_status(client, run_id, {"succeeded", "failed"})
        assert run["status"] == "succeeded", run["error"]
        curves = client.get(f"/runs/{run_id}/curves").json()

    smoothed = np.asarray(curves["smoothed_loss"])
    lowest = int(np.argmin(smoothed))
    assert 0 < lowest < smoothed.size - 1
    assert smoothed[lowest] < 0.95 * smoothed[0]
    assert smoothed[-1] > 1.3 * smoothed[lowest]
    result = run["result"]
    assert 1e-7 <= result["suggested_max_lr"] <= 1.0
    assert result["suggested_base_lr"] == pytest.approx(result["suggested_max_lr"] / 6)


def test_training_with_triangular_clr_follows_the_policy_and_learns_digits(service: Service) -> None:
    schedule = {"policy": "triangular", "base_lr": 0.005, "max_lr": 0.05, "step_size_iter": 30}
    body = {
        **DIGITS_CNN,
        "optimizer": {"name": "sgd_momentum"},
        "epochs": 6,
        "batch_size": 32,
        "schedule": schedule,
    }
    with service.client() as client:
        answer = client.post("/train", json=body)
        assert answer.status_code == 202, answer.text
        run_id = answer.json()["id"]
        partial = wait_until(lambda: _partial_curve(client, run_id), timeout=120, what="a partial curve")
        run = wait_for_status(client, run_id, {"succeeded", "failed"})
        assert run["status"] == "succeeded", run["error"]
        curves = client.get(f"/runs/{run_id}/curves").json()

    assert 0 < partial < len(curves["batch"]["step"])
    spec = clr.ScheduleSpec(policy="triangular", base_lr=0.005, max_lr=0.05, step_size_iter=30)
    expected = [clr.lr_at(spec, int(step)) for step in curves["batch"]["step"]]
    np.testing.assert_allclose(curves["batch"]["lr"], expected, rtol=1e-9)
    assert curves["epochs"]["epoch"] == list(range(6))
    assert curves["epochs"]["val_accuracy"][-1] > 0.8


def _partial_curve(client: object, run_id: str) -> int | None:
    """The number of points readable while the run is still running, if it is."""
    run = client.get(f"/runs/{run_id}").json()  # type: ignore[attr-defined]
    if run["status"] != "running":
        return None
    points = len(client.get(f"/runs/{run_id}/curves").json()["batch"]["step"])  # type: ignore[attr-defined]
    return points or None
