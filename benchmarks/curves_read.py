"""Targets 2 and 3: GET /runs/{id}/curves on a run of 1,000,000 points, through one live uvicorn.

Run: python benchmarks/curves_read.py [--points N] [--database postgresql|sqlite|both]

(2) max_points=2000: p50 of sequential requests (< 100 ms); the full series streamed by cursor pages of the
capped page size: points/s (>= 1,000,000). (3) max_points answers are identical call to call, keep the first
and last points and the loss minimum, and a step or lr range is applied before sampling.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from typing import Any

import httpx
import numpy as np
from sqlalchemy import text

from benchmarks.common import (
    Processes,
    create_key,
    postgres_database,
    processes,
    service_env,
    sqlite_database,
    temporary_home,
)
from store import runs, series
from store.db import make_engine, make_sessionmaker, transaction
from store.models import RunKind, RunStatus
from worker.recorder import MAX_STORED_CHUNK

PAGE = 100_000


def loss_curve(points: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    steps = np.arange(points)
    return 2.0 * np.exp(-steps / (points / 5)) + 0.1 + 0.05 * rng.standard_normal(points)


def populate(url: str, points: int) -> str:
    """A succeeded training run of `points` batch points, stored as the Recorder stores them."""
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    steps = np.arange(points, dtype=np.float64)
    columns = {
        "step": steps,
        "epoch": steps // 10_000,
        "lr": 1e-3 + 1e-2 * np.abs(np.sin(steps / 500)),
        "loss": loss_curve(points),
    }
    with transaction(factory) as session:
        run = runs.create_run(session=session, owner="bench", kind=RunKind.TRAIN, request={}, max_attempts=1)
        run_id = run.id
        runs.transition(session=session, run_id=run_id, to=RunStatus.SUCCEEDED)
    for start in range(0, points, MAX_STORED_CHUNK * 16):
        with transaction(factory) as session:
            for first in range(start, min(start + MAX_STORED_CHUNK * 16, points), MAX_STORED_CHUNK):
                piece = {k: v[first : first + MAX_STORED_CHUNK] for k, v in columns.items()}
                series.append_chunk(session=session, run_id=run_id, series="batch", columns=piece)
    if url.startswith("postgresql"):
        with engine.connect() as connection:
            connection.execute(text("ANALYZE series_chunks"))
            size = connection.scalar(text("SELECT pg_total_relation_size('series_chunks')"))
            sys.stdout.write(
                f"  storage: {size / points:.1f} bytes/point in series_chunks (4 float64 columns = 32 raw)\n"
            )
    engine.dispose()
    return run_id


def timed_get(client: httpx.Client, path: str, params: dict[str, Any]) -> tuple[float, dict[str, Any], bytes]:
    start = time.perf_counter()
    answer = client.get(path, params=params)
    elapsed = time.perf_counter() - start
    answer.raise_for_status()
    return elapsed, answer.json(), answer.content


def stream_all(client: httpx.Client, path: str, fmt: str) -> tuple[float, int]:
    """Seconds to read and parse every point by cursor pages, and how many (each checked once, in order)."""
    start = time.perf_counter()
    cursor: int | str | None = None
    seen = 0
    last = -1
    while True:
        params: dict[str, Any] = {"limit": PAGE, "format": fmt}
        if cursor is not None:
            params["cursor"] = cursor
        answer = client.get(path, params=params)
        answer.raise_for_status()
        if fmt == "npy":
            steps = np.load(io.BytesIO(answer.content), allow_pickle=False)["step"].tolist()
            cursor = answer.headers.get("x-next-cursor")
        else:
            body = answer.json()
            steps = body["batch"]["step"]
            cursor = body["next_cursor"]
        if steps and steps[0] != last + 1:
            raise SystemExit(f"cursor paging skipped or repeated points at step {steps[0]}")
        seen += len(steps)
        last = steps[-1] if steps else last
        if cursor is None:
            return time.perf_counter() - start, seen


def check_downsampling(client: httpx.Client, path: str, points: int) -> str:
    params = {"max_points": 2000}
    first = client.get(path, params=params).content
    second = client.get(path, params=params).content
    body = httpx.Response(200, content=first).json()["batch"]
    loss = loss_curve(points)
    steps = body["step"]
    problems = []
    if first != second:
        problems.append("answers differ between calls")
    if steps[0] != 0 or steps[-1] != points - 1:
        problems.append("first or last point missing")
    if int(np.argmin(loss)) not in steps:
        problems.append("loss minimum missing")
    if len(steps) > 2000:
        problems.append(f"{len(steps)} points > max_points")
    ranged = client.get(path, params={"max_points": 500, "min_step": 1000, "max_step": 200_000}).json()[
        "batch"
    ]["step"]
    if ranged[0] != 1000 or ranged[-1] != 200_000 or len(ranged) > 500:
        problems.append("step range not applied before sampling")
    by_lr = client.get(path, params={"max_points": 500, "min_lr": 0.005, "max_lr": 0.008}).json()["batch"][
        "lr"
    ]
    if min(by_lr) < 0.005 or max(by_lr) > 0.008:
        problems.append("lr range not applied before sampling")
    return (
        "ok (deterministic, first/last/min kept, step and lr ranges filtered first)"
        if not problems
        else "FAILED: " + "; ".join(problems)
    )


def measure(name: str, url: str, points: int, samples: int, repeats: int, started: Processes) -> None:
    out = sys.stdout
    start = time.perf_counter()
    run_id = populate(url, points)
    out.write(f"[{name}] stored {points:,} points in {time.perf_counter() - start:.1f} s\n")
    env = service_env(
        started.home, url, f"sqla+sqlite:///{started.home / f'broker-{name}.db'}", CLR_SUPERVISE="false"
    )
    base = started.uvicorn("api.app:make_default_app", env, f"api-{name}")
    key = create_key(url)
    path = f"/runs/{run_id}/curves"
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        timed_get(client, path, {"max_points": 2000})  # warm-up
        latencies = [timed_get(client, path, {"max_points": 2000})[0] for _ in range(samples)]
        p50 = statistics.median(latencies) * 1000
        verdict = "met" if p50 < 100 else "MISSED"
        out.write(
            f"  max_points=2000 p50 {p50:.1f} ms (p90 {np.percentile(latencies, 90) * 1000:.1f} ms, "
            f"{samples} requests)  target < 100 ms  {verdict}\n"
        )
        rates: dict[str, list[float]] = {"json": [], "npy": []}
        for _ in range(repeats):
            for fmt, found in rates.items():
                seconds, seen = stream_all(client, path, fmt)
                if seen != points:
                    raise SystemExit(f"streamed {seen} points as {fmt}, expected {points}")
                found.append(seen / seconds)
        for fmt, found in rates.items():
            rate = statistics.median(found)
            # The streaming format is npy; JSON, bound by float formatting on both sides, is for reference.
            verdict = ("met" if rate >= 1_000_000 else "MISSED") if fmt == "npy" else "(reference)"
            out.write(
                f"  full series, cursor pages of {PAGE:,}, format={fmt} (parsed): {rate:,.0f} points/s "
                f"(median of {repeats})  target >= 1,000,000  {verdict}\n"
            )
        out.write(f"  downsampling: {check_downsampling(client, path, points)}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--database", default="both", choices=["postgresql", "sqlite", "both"])
    args = parser.parse_args()
    chosen = {"postgresql": postgres_database, "sqlite": sqlite_database}
    names = list(chosen) if args.database == "both" else [args.database]
    sys.stdout.write(f"curves: run of {args.points:,} points, one uvicorn process\n")
    with temporary_home() as home, processes(home) as started:
        for name in names:
            with chosen[name]() as url:
                measure(name, url, args.points, args.samples, args.repeats, started)


if __name__ == "__main__":
    main()
