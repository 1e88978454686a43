"""Target 1: points/s the worker's Recorder persists into PostgreSQL and SQLite, and its cost to the loop.

Run: python benchmarks/ingest.py [--points N] [--repeats N]

Throughput: a producer pushes `--points` per-batch points in clr's chunks of 256 (tuples, as clr emits them)
as fast as it can; the figure is points / (first push .. Recorder exit, i.e. after the final flush), and the
stored count is checked against what was pushed. Loop cost: a simulated training loop (a small matmul per
step) timed with a no-op sink and with the Recorder, interleaved; the ratio is recorder / no-op time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext

import numpy as np
from sqlalchemy import func, select

from benchmarks.common import postgres_database, sqlite_database
from store import runs
from store.db import make_engine, make_sessionmaker, transaction
from store.models import RunKind, SeriesChunk
from worker.recorder import Recorder

CHUNK = 256
TARGETS = {"postgresql": 200_000, "sqlite": 100_000}


def chunks(points: int, offset: int = 0) -> Iterator[dict[str, tuple[float, ...]]]:
    """clr.BatchChunk-shaped dicts of tuples covering steps offset .. offset + points - 1."""
    rng = np.random.default_rng(0)
    for start in range(offset, offset + points, CHUNK):
        steps = range(start, min(start + CHUNK, offset + points))
        yield {
            "step": tuple(steps),
            "epoch": tuple(step // 1000 for step in steps),
            "lr": tuple(1e-3 + 1e-6 * (step % 1000) for step in steps),
            "loss": tuple(rng.random(len(steps)).tolist()),
        }


def new_run(factory: object) -> str:
    with transaction(factory) as session:  # type: ignore[arg-type]
        run = runs.create_run(session=session, owner="bench", kind=RunKind.TRAIN, request={}, max_attempts=1)
        runs.start_run(session=session, run_id=run.id, worker="bench")
        return run.id


def stored_points(factory: object, run_id: str) -> int:
    with factory() as session:  # type: ignore[operator]
        return int(
            session.scalar(
                select(func.coalesce(func.sum(SeriesChunk.count), 0)).where(
                    SeriesChunk.run_id == run_id,
                    SeriesChunk.series == "batch",  # not its overview chunks
                )
            )
        )


def ingest_rate(url: str, points: int) -> float:
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    run_id = new_run(factory)
    prepared = list(chunks(points))
    start = time.perf_counter()
    with Recorder(factory, run_id, attempt=1) as recorder:
        for chunk in prepared:
            recorder.add_points("batch", chunk)
    elapsed = time.perf_counter() - start
    stored = stored_points(factory, run_id)
    engine.dispose()
    if stored != points:
        raise SystemExit(f"lost points: pushed {points}, stored {stored}")
    return points / elapsed


def loop_seconds(steps: int, sink: Callable[[dict[str, tuple[float, ...]]], None]) -> float:
    """A stand-in training loop: a 96x96 matmul per step, a chunk handed to `sink` every 256 steps."""
    weights = np.random.default_rng(1).random((96, 96))
    pending = chunks(steps)
    start = time.perf_counter()
    x = weights
    for step in range(steps):
        x = np.tanh(x @ weights * 0.01)
        if (step + 1) % CHUNK == 0:
            sink(next(pending))
    return time.perf_counter() - start


def _sink(recorder: Recorder | None) -> Callable[[dict[str, tuple[float, ...]]], None]:
    if recorder is None:
        return lambda chunk: None
    return lambda chunk: recorder.add_points("batch", chunk)


def loop_cost(url: str, steps: int, repeats: int) -> tuple[float, float]:
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    bare: list[float] = []
    recorded: list[float] = []
    for r in range(repeats):
        order: list[tuple[list[float], Callable[[], AbstractContextManager[Recorder | None]]]] = [
            (bare, lambda: nullcontext(None)),
            (recorded, lambda: Recorder(factory, new_run(factory), attempt=1)),
        ]
        for times, make in order if r % 2 == 0 else order[::-1]:
            with make() as recorder:
                times.append(loop_seconds(steps, _sink(recorder)))
    engine.dispose()
    return statistics.median(bare), statistics.median(recorded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loop-steps", type=int, default=20_000)
    args = parser.parse_args()
    out = sys.stdout
    out.write(f"ingest: {args.points} points in chunks of {CHUNK}, median of {args.repeats}\n")
    for name, database in (("postgresql", postgres_database), ("sqlite", sqlite_database)):
        with database() as url:
            rates = [ingest_rate(url, args.points) for _ in range(args.repeats)]
            bare, recorded = loop_cost(url, args.loop_steps, args.repeats)
        rate = statistics.median(rates)
        verdict = "met" if rate >= TARGETS[name] else "MISSED"
        out.write(
            f"  {name:<11} {rate:>12,.0f} points/s  target >= {TARGETS[name]:,}  {verdict}  (runs: "
            + ", ".join(f"{r:,.0f}" for r in rates)
            + ")\n"
        )
        out.write(
            f"  {name:<11} loop with recorder / bare loop: {recorded / bare:.3f} "
            f"({recorded:.3f} s vs {bare:.3f} s, {args.loop_steps} steps)\n"
        )


if __name__ == "__main__":
    main()
