"""Fault injection through a live service: a killed worker, a broker outage, cancels, failing jobs."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Service, service_env, start_service, wait_for_status, wait_until
from tests.reliability.conftest import OwnRedis

pytestmark = pytest.mark.e2e

DIGITS_CNN: dict[str, Any] = {"model": {"name": "vanilla_cnn"}, "dataset": {"name": "digits"}}
FAST_SUPERVISION = {"CLR_SWEEP_INTERVAL": "0.5", "CLR_DISPATCH_TIMEOUT": "1"}


@pytest.fixture(scope="module")
def sqlite_service(
    own_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """The embedded stack (SQLite + SQLAlchemy broker) with one worker, shared by this module's tests."""
    home = tmp_path_factory.mktemp("reliability-sqlite")
    broker = f"sqla+sqlite:///{home / 'broker.db'}"
    env = service_env(home, own_database("sqlite"), broker, CLR_HEARTBEAT_INTERVAL="0.5")
    service = start_service(env, home)
    yield service
    service.stop()


@pytest.fixture
def postgres_service(
    own_database: Callable[[str], str], own_redis: OwnRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """PostgreSQL + a Redis of our own, with fast heartbeats and sweeps, and one worker `w0`."""
    home = tmp_path_factory.mktemp("reliability-postgres")
    env = service_env(
        home,
        own_database("postgres"),
        own_redis.url,
        CLR_HEARTBEAT_TIMEOUT="3",
        CLR_HEARTBEAT_INTERVAL="0.5",
        **FAST_SUPERVISION,
    )
    service = start_service(env, home)
    yield service
    service.stop()


def _submit(client: httpx.Client, path: str, body: dict[str, Any]) -> str:
    answer = client.post(path, json=body)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def _epochs_done(client: httpx.Client, run_id: str) -> int | None:
    run = client.get(f"/runs/{run_id}").json()
    assert run["status"] in {"queued", "running"}, run
    epochs = client.get(f"/runs/{run_id}/curves").json()["epochs"]["epoch"]
    return len(epochs) if len(epochs) >= 2 else None


EPOCHS = 20  # long enough that a quiet machine is still training when the test stops its worker
CHECKPOINTED_TRAINING = {
    **DIGITS_CNN,
    "optimizer": {"name": "sgd_momentum"},
    "epochs": EPOCHS,
    "batch_size": 32,
    "schedule": {"policy": "triangular", "base_lr": 0.005, "max_lr": 0.05, "step_size_iter": 30},
}


def _training_past_two_epochs(client: httpx.Client) -> str:
    run_id = _submit(client, "/train", CHECKPOINTED_TRAINING)
    wait_until(lambda: _epochs_done(client, run_id), timeout=120, what="two epochs done")
    return run_id


def _assert_each_epoch_and_step_once(run: dict[str, Any], curves: dict[str, Any]) -> None:
    assert run["status"] == "succeeded", run
    assert run["attempt"] == 2
    assert curves["epochs"]["epoch"] == list(range(EPOCHS))
    steps = curves["batch"]["step"]
    assert curves["next_cursor"] is None
    assert steps == list(range(len(steps)))  # strictly increasing, no duplicate, no gap
    assert len(steps) == run["result"]["steps"] == curves["epochs"]["step"][-1]  # steps done


def test_training_survives_a_sigkilled_worker_and_each_epoch_is_recorded_once(
    postgres_service: Service,
) -> None:
    with postgres_service.client() as client:
        run_id = _training_past_two_epochs(client)
        worker = postgres_service.processes[-1]
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        assert client.get(f"/runs/{run_id}").json()["status"] == "running"
        postgres_service.start_worker("w1")
        run = wait_for_status(client, run_id, {"succeeded", "failed"}, timeout=180)
        curves = client.get(f"/runs/{run_id}/curves").json()

    _assert_each_epoch_and_step_once(run, curves)


def _status_and_attempt(client: httpx.Client, run_id: str) -> tuple[str, int]:
    run = client.get(f"/runs/{run_id}").json()
    return run["status"], run["attempt"]


def test_a_worker_stopped_until_reaped_then_continued_writes_nothing_into_the_retried_run(
    postgres_service: Service,
) -> None:
    stale_log = postgres_service.home / "w0.log"
    with postgres_service.client() as client:
        run_id = _training_past_two_epochs(client)
        stale = postgres_service.processes[-1]
        os.killpg(stale.pid, signal.SIGSTOP)  # silent, not dead: its heartbeats stop past the timeout
        try:
            wait_until(
                lambda: _status_and_attempt(client, run_id) == ("queued", 1), timeout=60, what="the reaper"
            )
            postgres_service.start_worker("w1")
            wait_until(
                lambda: _status_and_attempt(client, run_id) == ("running", 2), timeout=60, what="the retry"
            )
        finally:
            os.killpg(stale.pid, signal.SIGCONT)
        wait_until(
            lambda: "was superseded" in stale_log.read_text(),
            timeout=60,
            what="the stale worker to be fenced",
        )
        run = wait_for_status(client, run_id, {"succeeded", "failed", "cancelled"}, timeout=180)
        curves = client.get(f"/runs/{run_id}/curves").json()

    # The continued worker added no point, no epoch, and did not change the run's status.
    _assert_each_epoch_and_step_once(run, curves)


def test_runs_accepted_while_redis_is_down_run_exactly_once_when_it_is_back(
    postgres_service: Service, own_redis: OwnRedis
) -> None:
    own_redis.stop()
    body = {**DIGITS_CNN, "batch_size": 16, "end_lr": 1.0, "num_iter": 30}
    with postgres_service.client() as client:
        run_ids = []
        for _ in range(3):
            started = time.monotonic()
            run_ids.append(_submit(client, "/lr-find", body))
            assert time.monotonic() - started < 10
        assert all(client.get(f"/runs/{i}").json()["status"] == "queued" for i in run_ids)
        own_redis.start()
        finished = [
            wait_for_status(client, i, {"succeeded", "failed", "cancelled"}, timeout=120) for i in run_ids
        ]
        curves = [client.get(f"/runs/{i}/curves").json() for i in run_ids]

    assert [run["status"] for run in finished] == ["succeeded"] * 3, [run["error"] for run in finished]
    assert [run["attempt"] for run in finished] == [1, 1, 1]
    assert all(curve["step"] == list(range(30)) for curve in curves)


def _batch_points(client: httpx.Client, run_id: str) -> int | None:
    if client.get(f"/runs/{run_id}").json()["status"] != "running":
        return None
    return len(client.get(f"/runs/{run_id}/curves").json()["batch"]["step"]) or None


def test_cancel_stops_a_running_training_within_moments_and_keeps_its_curves(
    sqlite_service: Service,
) -> None:
    schedule = {"policy": "triangular", "base_lr": 0.005, "max_lr": 0.05, "step_size_iter": 30}
    body = {**DIGITS_CNN, "epochs": 200, "batch_size": 32, "schedule": schedule}
    with sqlite_service.client() as client:
        run_id = _submit(client, "/train", body)
        wait_until(lambda: _batch_points(client, run_id), timeout=120, what="batch points while running")
        answer = client.post(f"/runs/{run_id}/cancel")
        assert answer.status_code == 202, answer.text
        assert answer.json()["status"] in {"cancelling", "cancelled"}
        run = wait_for_status(client, run_id, {"cancelled", "succeeded", "failed"}, timeout=10)
        curves = client.get(f"/runs/{run_id}/curves").json()
        again = client.post(f"/runs/{run_id}/cancel")

    assert run["status"] == "cancelled", run
    assert len(curves["batch"]["step"]) > 0
    assert curves["batch"]["step"] == list(range(len(curves["batch"]["step"])))
    assert again.status_code == 409, again.text


def test_a_job_that_raises_fails_with_a_problem_and_the_worker_takes_the_next_job(
    sqlite_service: Service,
) -> None:
    (Path(sqlite_service.env["CLR_DATA_ROOTS"]) / "cifar").mkdir(exist_ok=True)
    broken = {"model": {"name": "vanilla_cnn"}, "dataset": {"name": "cifar10", "path": "cifar"}, "epochs": 1}
    with sqlite_service.client() as client:
        failed = wait_for_status(
            client, _submit(client, "/train", broken), {"succeeded", "failed"}, timeout=60
        )
        next_id = _submit(client, "/lr-find", {**DIGITS_CNN, "batch_size": 16, "num_iter": 20})
        after = wait_for_status(client, next_id, {"succeeded", "failed"}, timeout=60)

    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "dataset_missing", failed["error"]
    assert failed["error"]["detail"]
    assert after["status"] == "succeeded", after["error"]


def test_training_that_diverges_fails_with_code_diverged_and_keeps_its_curves(
    sqlite_service: Service,
) -> None:
    schedule = {"policy": "triangular", "base_lr": 10.0, "max_lr": 100.0, "step_size_iter": 5}
    body = {**DIGITS_CNN, "epochs": 2, "batch_size": 32, "schedule": schedule}
    with sqlite_service.client() as client:
        run_id = _submit(client, "/train", body)
        run = wait_for_status(client, run_id, {"succeeded", "failed"}, timeout=60)
        curves = client.get(f"/runs/{run_id}/curves").json()

    assert run["status"] == "failed", run
    assert run["error"]["code"] == "diverged", run["error"]
    assert len(curves["batch"]["step"]) > 0
