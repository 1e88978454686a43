"""Target 6: seconds from POST /lr-find to the run reading `running`, with Redis and with the embedded broker.

Run: python benchmarks/job_start.py [--repeats N]

One uvicorn, one relay and one Celery worker (prefork, concurrency 1) per stack, the worker idle on its queue.
Each repeat posts a range test, polls GET /runs/{id} every 10 ms until it reads `running`, then cancels it and
waits for the worker to be free again. Targets: < 1 s with Redis (PostgreSQL), < 2 s embedded (SQLite).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from collections.abc import Callable, Set
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import httpx

from benchmarks.common import (
    REDIS_URL,
    create_key,
    flush_redis,
    postgres_database,
    processes,
    service_env,
    temporary_home,
    wait_until,
)
from store.migrate import upgrade
from store.models import TERMINAL_STATUSES

LR_FIND = {
    "model": {"name": "vanilla_cnn"},
    "dataset": {"name": "digits"},
    "batch_size": 16,
    "num_iter": 2000,
}


def start_times(home: Path, database: str, broker: str, repeats: int) -> list[float]:
    env = service_env(home, database, broker, CLR_WORKER_TORCH_THREADS="1")
    with processes(home) as started:
        base = started.uvicorn("api.app:make_default_app", env, "api")
        started.relay(env)
        started.worker(env)
        auth = {"Authorization": f"Bearer {create_key(database)}"}
        seconds: list[float] = []
        with httpx.Client(base_url=base, headers=auth, timeout=30) as client:
            # The first run warms the worker up (imports torch, loads data) and is not counted.
            for attempt in range(repeats + 1):
                start = time.perf_counter()
                run_id = client.post("/lr-find", json=LR_FIND).json()["id"]
                status = wait_until(
                    functools.partial(_status_in, client, run_id, {"running"} | TERMINAL_STATUSES),
                    timeout=120,
                    what="the run to start",
                    interval=0.01,
                )
                if status != "running":
                    raise SystemExit(f"run {run_id} ended as {status} before it was seen running")
                if attempt:
                    seconds.append(time.perf_counter() - start)
                client.post(f"/runs/{run_id}/cancel")
                stopped = functools.partial(_status_in, client, run_id, TERMINAL_STATUSES)
                wait_until(stopped, timeout=120, what="the run to stop")
                time.sleep(0.5)  # the worker acknowledges and goes back to its queue
    return seconds


def _status_in(client: httpx.Client, run_id: str, statuses: Set[str]) -> str | None:
    status: str = client.get(f"/runs/{run_id}").json()["status"]
    return status if status in statuses else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    out = sys.stdout
    stacks: list[tuple[str, float, Callable[[Path], AbstractContextManager[str]]]] = [
        ("PostgreSQL + Redis", 1.0, lambda home: postgres_database()),
        (
            "embedded SQLite + SQLAlchemy broker",
            2.0,
            lambda home: nullcontext(f"sqlite:///{home / 'clr.db'}"),
        ),
    ]
    out.write(f"job start: POST /lr-find -> running, median of {args.repeats}\n")
    for name, target, database in stacks:
        with temporary_home() as home, database(home) as url:
            if url.startswith("sqlite"):
                upgrade(url)
                broker = f"sqla+sqlite:///{home / 'broker.db'}"
            else:
                flush_redis()
                broker = REDIS_URL
            seconds = start_times(home, url, broker, args.repeats)
        median = statistics.median(seconds)
        out.write(
            f"  {name:<36} median {median:.3f} s, max {max(seconds):.3f} s  target < {target:.0f} s  "
            f"{'met' if median < target else 'MISSED'}  (" + ", ".join(f"{s:.2f}" for s in seconds) + ")\n"
        )


if __name__ == "__main__":
    main()
