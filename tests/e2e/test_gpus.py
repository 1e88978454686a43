"""`clr-service worker --gpus`: one pool process per GPU, each pinned to its own, recorded on the run.

This host has no GPU; CUDA_VISIBLE_DEVICES, the variable a GPU node sets too, tells the worker which devices
it may use, so the assignment is checked for real while the jobs themselves compute on the CPU.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Service, service_env, start_service, wait_for_status, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]
TRAINING: dict[str, Any] = {
    "model": {"name": "vanilla_cnn"},
    "dataset": {"name": "digits"},
    "epochs": 8,  # long enough that both are seen running at once on a quiet machine
    "schedule": {"policy": "constant"},
}


@pytest.fixture(scope="module")
def two_gpu_worker(
    own_database: Callable[[str], str], redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """An API and relay, and `clr-service worker` on a node whose CUDA_VISIBLE_DEVICES lists two GPUs."""
    home = tmp_path_factory.mktemp("gpus")
    env = service_env(home, own_database("postgres"), redis_url, CUDA_VISIBLE_DEVICES="0,1")
    service = start_service(env, home, workers=0)
    command = [sys.executable, "-m", "cli", "worker", "--queues", env["CLR_QUEUE"], "--hostname", "gpus@%h"]
    service.processes.append(service._spawn(command, "gpus"))
    yield service
    service.stop()


def test_two_jobs_at_once_run_in_two_pool_processes_each_pinned_to_its_own_gpu(
    two_gpu_worker: Service,
) -> None:
    with two_gpu_worker.client() as client:
        ids = [client.post("/train", json={**TRAINING, "seed": seed}).json()["id"] for seed in (1, 2)]

        def both_running() -> list[dict[str, Any]] | None:
            found = [client.get(f"/runs/{run_id}").json() for run_id in ids]
            return found if all(run["status"] == "running" for run in found) else None

        running = wait_until(both_running, timeout=120, what="both runs running at once")
        finished = [wait_for_status(client, run_id, {"succeeded", "failed"}) for run_id in ids]

    places = [run["placement"] for run in running]
    assert sorted(place["slot"] for place in places) == [0, 1]
    assert {place["slot"]: place["gpu"] for place in places} == {0: "0", 1: "1"}
    assert len({place["pid"] for place in places}) == 2
    assert all(place["worker"].startswith("gpus@") and place["device"] == "cpu" for place in places)
    assert [run["status"] for run in finished] == ["succeeded", "succeeded"]
    assert [run["placement"] for run in finished] == places


def test_gpus_that_are_not_visible_are_refused_before_the_worker_starts(two_gpu_worker: Service) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cli", "worker", "--gpus", "1,2"],
        env=two_gpu_worker.env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2
    assert "indices 0 to 1 of ['0', '1']" in " ".join(done.stderr.split())


def test_a_run_records_where_it_ran(two_gpu_worker: Service) -> None:
    with two_gpu_worker.client() as client:
        run_id = client.post("/train", json={**TRAINING, "epochs": 1}).json()["id"]
        run = wait_for_status(client, run_id, {"succeeded", "failed"})
        listed = client.get("/runs").json()["items"]

    assert run["placement"]["host"]
    assert run["placement"]["device_name"] == "cpu"
    assert next(item for item in listed if item["id"] == run_id)["placement"] == run["placement"]
