"""A worker stopped for a deploy (SIGTERM) drains: its job checkpoints at the next batch and resumes."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

import clr
from tests.e2e.conftest import Service, service_env, start_service, wait_for_status, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]
EPOCHS = 6
TRAINING: dict[str, Any] = {
    "model": {"name": "vanilla_cnn"},
    "dataset": {"name": "digits"},
    "optimizer": {"name": "sgd_momentum"},
    "epochs": EPOCHS,
    "batch_size": 32,
    "schedule": {"policy": "triangular", "base_lr": 0.005, "max_lr": 0.05, "step_size_iter": 30},
}


@pytest.fixture
def service(
    own_database: Callable[[str], str], redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """PostgreSQL + Redis with one worker `w0`."""
    home = tmp_path_factory.mktemp("drain")
    env = service_env(home, own_database("postgres"), redis_url, CLR_HEARTBEAT_INTERVAL="0.5")
    service = start_service(env, home)
    yield service
    service.stop()


def _points(client: httpx.Client, run_id: str) -> int:
    return len(client.get(f"/runs/{run_id}/curves").json()["step"])


def _epochs(client: httpx.Client, run_id: str) -> int:
    return len(client.get(f"/runs/{run_id}/curves").json()["epochs"]["epoch"])


def test_sigterm_mid_training_requeues_the_run_and_another_worker_finishes_it_from_the_checkpoint(
    service: Service,
) -> None:
    with service.client() as client:
        run_id = client.post("/train", json=TRAINING).json()["id"]
        wait_until(lambda: _epochs(client, run_id) >= 1, timeout=120, what="epoch 0 recorded")
        first = time.monotonic()
        wait_until(lambda: _epochs(client, run_id) >= 2, timeout=120, what="epoch 1 recorded")
        time.sleep((time.monotonic() - first) / 2)  # into the middle of epoch 2
        worker = service.processes[-1]
        os.kill(worker.pid, signal.SIGTERM)  # the main process only, as `docker stop` does
        assert worker.wait(timeout=60) == 0
        drained = client.get(f"/runs/{run_id}").json()
        state = clr.load_checkpoint(service.home / "artifacts" / run_id / "checkpoint.pt")
        service.start_worker("w1")
        run = wait_for_status(client, run_id, {"succeeded", "failed"})
        curves = client.get(f"/runs/{run_id}/curves").json()
        # the same request trained without interruption, for comparison
        again = client.post("/train", json=TRAINING).json()["id"]
        wait_for_status(client, again, {"succeeded", "failed"})
        uninterrupted = client.get(f"/runs/{again}/curves").json()

    assert (drained["status"], drained["attempt"]) == ("queued", 0)
    assert drained["placement"]["worker"].startswith("w0@")
    assert 2 <= state.epoch < EPOCHS
    assert state.batch > 0  # a checkpoint inside the epoch
    assert run["status"] == "succeeded", run["error"]
    assert run["attempt"] == 1
    assert run["placement"]["worker"].startswith("w1@")
    assert curves["epochs"]["epoch"] == list(range(EPOCHS))
    steps = curves["batch"]["step"]
    assert steps == list(range(len(steps))) == list(range(run["result"]["steps"]))
    # resumed at the very batch it stopped at, same data order: every loss as if never interrupted
    assert curves["batch"]["loss"] == uninterrupted["batch"]["loss"]
    assert curves["epochs"] == uninterrupted["epochs"]


def test_sigterm_mid_range_test_requeues_it_and_another_worker_continues_the_curve(service: Service) -> None:
    body = {**TRAINING, "num_iter": 600}
    for name in ("epochs", "schedule"):
        body.pop(name)
    with service.client() as client:
        run_id = client.post("/lr-find", json=body).json()["id"]
        wait_until(lambda: _points(client, run_id) >= 64, timeout=120, what="the first points stored")
        worker = service.processes[-1]
        os.kill(worker.pid, signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
        drained = client.get(f"/runs/{run_id}").json()
        state = clr.load_range_checkpoint(service.home / "artifacts" / run_id / "checkpoint.pt")
        service.start_worker("w1")
        run = wait_for_status(client, run_id, {"succeeded", "failed"})
        curve = client.get(f"/runs/{run_id}/curves").json()
        again = client.post("/lr-find", json=body).json()["id"]
        reference = wait_for_status(client, again, {"succeeded", "failed"})
        uninterrupted = client.get(f"/runs/{again}/curves").json()

    assert (drained["status"], drained["attempt"]) == ("queued", 0)
    assert 64 <= state.step < 600
    assert (run["status"], run["attempt"]) == ("succeeded", 1)
    assert curve["step"] == list(range(run["result"]["num_points"]))
    assert {**curve, "run_id": again} == uninterrupted  # every point as if never interrupted
    assert run["result"] == reference["result"]
