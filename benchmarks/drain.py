"""How long a worker takes to drain: SIGTERM mid-training to the run queued again, and to the worker gone.

Run: python -m benchmarks.drain [--repeats N]

PostgreSQL + Redis, one uvicorn, one relay and a Celery worker (prefork, one pool process, 1 torch thread) per
repeat. A training run is started; once its first epoch is stored the benchmark waits a random part of an
epoch, sends SIGTERM to the worker's main process (as `docker stop` does) and times the run reading `queued`
(the job stopped at its next batch, wrote its checkpoint and handed the run back) and the worker exiting.
"""

from __future__ import annotations

import argparse
import random
import signal
import statistics
import sys
import time
from typing import Any

import httpx

from benchmarks.common import (
    REDIS_URL,
    create_key,
    postgres_database,
    processes,
    service_env,
    temporary_home,
    wait_until,
)

MODELS: dict[str, dict[str, Any]] = {
    "vanilla_cnn": {"model": {"name": "vanilla_cnn"}, "dataset": {"name": "digits"}},
    "resnet18": {
        "model": {"name": "resnet18"},
        "dataset": {"name": "shapes", "params": {"num_samples": 400}},
    },
}


def drain_once(client: httpx.Client, worker: Any, body: dict[str, Any]) -> tuple[float, float]:
    run_id = client.post("/train", json={**body, "epochs": 100, "batch_size": 32}).json()["id"]

    def epochs() -> int:
        run = client.get(f"/runs/{run_id}").json()
        if run["status"] not in ("queued", "running"):
            raise SystemExit(f"run {run_id} ended {run['status']}: {run['error']}")
        return len(client.get(f"/runs/{run_id}/curves").json()["epochs"]["epoch"])

    wait_until(lambda: epochs() >= 1, timeout=600, what="the first epoch")
    start = time.perf_counter()
    wait_until(lambda: epochs() >= 2, timeout=600, what="the second epoch")
    time.sleep(random.uniform(0, time.perf_counter() - start))
    signalled = time.perf_counter()
    worker.send_signal(signal.SIGTERM)

    def queued() -> bool:
        return bool(client.get(f"/runs/{run_id}").json()["status"] == "queued")

    wait_until(queued, timeout=120, what="the run to be queued again", interval=0.01)
    requeued = time.perf_counter() - signalled
    worker.wait(timeout=120)
    exited = time.perf_counter() - signalled
    client.post(f"/runs/{run_id}/cancel")  # queued: cancelled at once, so the next worker starts afresh
    return requeued, exited


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    out = sys.stdout
    out.write(f"drain: SIGTERM to the worker mid-epoch, median of {args.repeats}\n")
    for name, body in MODELS.items():
        timings = []
        with temporary_home() as home, postgres_database() as url:
            env = service_env(home, url, REDIS_URL, CLR_WORKER_TORCH_THREADS="1")
            with processes(home) as started:
                base = started.uvicorn("api.app:make_default_app", env, "api")
                started.relay(env)
                auth = {"Authorization": f"Bearer {create_key(url)}"}
                with httpx.Client(base_url=base, headers=auth, timeout=30) as client:
                    for repeat in range(args.repeats):
                        worker = started.worker(env, f"worker{repeat}")
                        timings.append(drain_once(client, worker, body))
        requeued = statistics.median(t[0] for t in timings)
        exited = statistics.median(t[1] for t in timings)
        out.write(
            f"  {name:<12} run queued again after {requeued:.2f} s, worker exited after {exited:.2f} s  ("
            + ", ".join(f"{a:.2f}/{b:.2f}" for a, b in timings)
            + ")\n"
        )


if __name__ == "__main__":
    main()
