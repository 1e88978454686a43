"""A worker stopped for a deploy (SIGTERM) drains: its job checkpoints at the next batch and resumes."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import clr
from tests.e2e.conftest import Service, service_env, start_service, wait_for_status, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]
EPOCHS = 6
TRAINING: dict[str, Any] = {
    "model": {"name": "vanilla_cnn"},
    "dataset": {"name": "digits", "resize": 32},  # epochs of a few seconds: heartbeats see inside them
    "optimizer": {"name": "sgd_momentum"},
    "epochs": EPOCHS,
    "batch_size": 16,
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


@dataclass(frozen=True)
class Drained:
    """A run seen right after its worker drained, then finished by another, and the same request again."""

    queued: dict[str, Any]
    checkpoint: Path
    finished: dict[str, Any]
    curves: dict[str, Any]
    reference: dict[str, Any]
    uninterrupted: dict[str, Any]


def drain_and_finish(
    service: Service, client: httpx.Client, run_id: str, path: str, body: dict[str, Any]
) -> Drained:
    """SIGTERM the running worker's main process only, as `docker stop` does; a second worker finishes the
    run; the same request is then run without interruption, for comparison."""
    worker = service.processes[-1]
    os.kill(worker.pid, signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
    queued = client.get(f"/runs/{run_id}").json()
    checkpoint = shutil.copy(
        service.home / "artifacts" / run_id / "checkpoint.pt", service.home / "drained.pt"
    )
    service.start_worker("w1")
    finished = wait_for_status(client, run_id, {"succeeded", "failed"})
    curves = client.get(f"/runs/{run_id}/curves").json()
    again = client.post(path, json=body).json()["id"]
    reference = wait_for_status(client, again, {"succeeded", "failed"})
    uninterrupted = client.get(f"/runs/{again}/curves").json()
    return Drained(queued, Path(checkpoint), finished, {**curves, "run_id": again}, reference, uninterrupted)


def test_sigterm_mid_training_requeues_the_run_and_another_worker_finishes_it_from_the_checkpoint(
    service: Service,
) -> None:
    with service.client() as client:
        run_id = client.post("/train", json=TRAINING).json()["id"]
        wait_until(lambda: _epochs(client, run_id) >= 1, timeout=180, what="epoch 0 recorded")
        first = time.monotonic()
        wait_until(lambda: _epochs(client, run_id) >= 2, timeout=180, what="epoch 1 recorded")
        time.sleep((time.monotonic() - first) / 3)  # a third into epoch 2 (progress comes only per chunk)
        drained = drain_and_finish(service, client, run_id, "/train", TRAINING)
    state = clr.load_checkpoint(drained.checkpoint)
    run, curves = drained.finished, drained.curves

    assert (drained.queued["status"], drained.queued["attempt"], drained.queued["drains"]) == ("queued", 1, 1)
    assert drained.queued["placement"]["worker"].startswith("w0@")
    assert 2 <= state.epoch < EPOCHS
    assert state.batch > 0  # a checkpoint inside the epoch
    assert run["status"] == "succeeded", run["error"]
    assert (run["attempt"], run["drains"]) == (2, 1)
    assert run["placement"]["worker"].startswith("w1@")
    assert curves["epochs"]["epoch"] == list(range(EPOCHS))
    steps = curves["batch"]["step"]
    assert steps == list(range(len(steps))) == list(range(run["result"]["steps"]))
    # resumed at the very batch it stopped at, same data order: every loss as if never interrupted
    assert curves == drained.uninterrupted


def test_sigterm_mid_range_test_requeues_it_and_another_worker_continues_the_curve(service: Service) -> None:
    body = {**TRAINING, "num_iter": 600}
    for name in ("epochs", "schedule"):
        body.pop(name)
    with service.client() as client:
        run_id = client.post("/lr-find", json=body).json()["id"]
        wait_until(lambda: _points(client, run_id) >= 64, timeout=120, what="the first points stored")
        drained = drain_and_finish(service, client, run_id, "/lr-find", body)
    state = clr.load_range_checkpoint(drained.checkpoint)

    assert (drained.queued["status"], drained.queued["attempt"], drained.queued["drains"]) == ("queued", 1, 1)
    assert 64 <= state.step < 600
    assert (drained.finished["status"], drained.finished["attempt"], drained.finished["drains"]) == (
        "succeeded",
        2,
        1,
    )
    assert drained.curves["step"] == list(range(drained.finished["result"]["num_points"]))
    assert drained.curves == drained.uninterrupted  # every point as if never interrupted
    assert drained.finished["result"] == drained.reference["result"]
