"""Target 4: the API under wrk on loopback, one uvicorn process each, against a trivial FastAPI app.

Run: python benchmarks/api_load.py [--seconds S] [--repeats N] [--skip-training]

(a) PostgreSQL + Redis: GET /runs/{id} and POST /lr-find at 64 connections, interleaved with the same requests
to benchmarks/trivial_app.py started the same way; requests/s ratios (>= 0.5 and >= 0.25), non-2xx answers
(0) and p99 against 3x the trivial app's. (b) The embedded default (SQLite + SQLAlchemy broker, one worker):
GET /runs/{id} p99 at 8 connections while a training job runs (< 100 ms).
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys

import httpx

from benchmarks.common import (
    REDIS_URL,
    create_key,
    flush_redis,
    postgres_database,
    processes,
    require_wrk,
    service_env,
    temporary_home,
    wait_until,
    wrk,
)
from cli.main import embedded_worker_threads
from store.migrate import upgrade
from store.settings import Settings

LR_FIND = {"model": {"name": "vanilla_cnn"}, "dataset": {"name": "digits"}, "batch_size": 16}
TRAIN = {
    "model": {"name": "vanilla_cnn"},
    "dataset": {"name": "digits"},
    "epochs": 200,
    "batch_size": 16,
    "optimizer": {"name": "sgd_momentum"},
    "schedule": {"policy": "triangular", "base_lr": 0.005, "max_lr": 0.05, "step_size_iter": 100},
}


def under_load(seconds: float, repeats: int, only: str | None = None) -> None:
    out = sys.stdout
    with postgres_database() as url, temporary_home() as home, processes(home) as started:
        flush_redis()
        env = service_env(home, url, REDIS_URL, CLR_MAX_QUEUED_PER_OWNER="100000000")
        service = started.uvicorn("api.app:make_default_app", env, "api")
        started.relay(env)  # as `clr-service api` starts it: its CPU is part of what a submit costs
        trivial = started.uvicorn("benchmarks.trivial_app:make_app", env, "trivial")
        auth = {"Authorization": f"Bearer {create_key(url)}"}
        run_id = httpx.post(f"{service}/lr-find", json=LR_FIND, headers=auth).json()["id"]
        cases = {
            "GET /runs/{id}": (f"/runs/{run_id}", None, 0.5),
            "POST /lr-find": ("/lr-find", json.dumps(LR_FIND), 0.25),
        }
        headers = {**auth, "Content-Type": "application/json"}
        out.write(
            f"(a) 64 connections, {seconds:.0f} s per wrk run, median of {repeats}, PostgreSQL + Redis\n"
        )
        for name, (path, body, target) in cases.items():
            if only is not None and not name.startswith(only):
                continue
            results: dict[str, list[dict[str, float]]] = {"trivial": [], "service": []}
            wrk(service + path, connections=64, seconds=2, headers=headers, body=body)  # warm-up
            for r in range(repeats):
                order = [("trivial", trivial), ("service", service)]
                for label, base in order if r % 2 == 0 else order[::-1]:
                    results[label].append(
                        wrk(base + path, connections=64, seconds=seconds, headers=headers, body=body)
                    )
            med = {
                label: {k: statistics.median(x[k] for x in runs) for k in runs[0]}
                for label, runs in results.items()
            }
            ratio = med["service"]["rps"] / med["trivial"]["rps"]
            p99_ratio = med["service"]["p99_ms"] / med["trivial"]["p99_ms"]
            bad = sum(x["non_2xx"] + x["socket_errors"] for x in results["service"])
            ok = ratio >= target and p99_ratio <= 3 and bad == 0
            out.write(
                f"  {name:<16} service {med['service']['rps']:>7.0f} req/s vs trivial "
                f"{med['trivial']['rps']:>7.0f}: {ratio:.2f}x (target >= {target}); p99 "
                f"{med['service']['p99_ms']:.1f} vs {med['trivial']['p99_ms']:.1f} ms = {p99_ratio:.2f}x "
                f"(<= 3); non-2xx/errors {bad:.0f}  {'met' if ok else 'MISSED'}\n"
            )
        flush_redis()


def while_training(seconds: float) -> None:
    out = sys.stdout
    with temporary_home() as home, processes(home) as started:
        database = f"sqlite:///{home / 'clr.db'}"
        upgrade(database)
        env = service_env(home, database, f"sqla+sqlite:///{home / 'broker.db'}")
        env.pop("CLR_DATABASE_URL")
        env.pop("CLR_BROKER_URL")  # the embedded default: everything under CLR_HOME
        service = started.uvicorn("api.app:make_default_app", env, "api")
        # As `clr-service serve` starts it: the worker's torch threads leave the API a core.
        threads = embedded_worker_threads(Settings())
        started.relay(env)
        started.worker({**env, "CLR_WORKER_TORCH_THREADS": str(threads)})
        auth = {"Authorization": f"Bearer {create_key(database)}"}
        with httpx.Client(base_url=service, headers=auth, timeout=30) as client:
            run_id = client.post("/train", json=TRAIN).json()["id"]
            wait_until(
                functools.partial(_stepping, client, run_id),
                timeout=180,
                what="training batches to be recorded",
            )
            result = wrk(f"{service}/runs/{run_id}", connections=8, seconds=seconds, headers=auth)
            run = client.get(f"/runs/{run_id}").json()
            client.post(f"/runs/{run_id}/cancel")
        still = run["status"] == "running"
        ok = result["p99_ms"] < 100 and result["non_2xx"] == 0 and still
        out.write(
            f"(b) embedded default, GET /runs/{{id}} at 8 connections while training "
            f"(step {run['progress']['step']}, {run['status']}): p99 {result['p99_ms']:.1f} ms, "
            f"p50 {result['p50_ms']:.1f} ms, {result['rps']:.0f} req/s, "
            f"non-2xx {result['non_2xx']:.0f}  target p99 < 100 ms  {'met' if ok else 'MISSED'}\n"
        )


def _stepping(client: httpx.Client, run_id: str) -> bool:
    """Whether the run is training: running, with batches already recorded."""
    run = client.get(f"/runs/{run_id}").json()
    return bool(run["status"] == "running" and run["progress"]["step"] > 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--only", choices=["GET", "POST"], help="only this method in part (a)")
    args = parser.parse_args()
    require_wrk()
    under_load(args.seconds, args.repeats, args.only)
    if not args.skip_training:
        while_training(args.seconds)


if __name__ == "__main__":
    main()
