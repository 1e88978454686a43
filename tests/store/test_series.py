"""Curve chunks: exact round trips, chunk boundaries, truncation for resumes, concurrent writers."""

from __future__ import annotations

import threading

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from store import runs, series
from store.db import transaction
from store.models import RunKind


def batch_columns(first: int, count: int) -> dict[str, np.ndarray]:
    steps = np.arange(first, first + count, dtype=float)
    return {"step": steps, "epoch": steps // 100, "lr": 1e-3 * (1 + steps), "loss": 1.0 / (1 + steps)}


def make_run(session: Session) -> str:
    return runs.create_run(session=session, owner="o", kind=RunKind.TRAIN, request={}, max_attempts=1).id


def test_chunks_round_trip_exactly_across_boundaries(session: Session) -> None:
    run_id = make_run(session)
    for first in range(0, 1000, 300):
        series.append_chunk(session=session, run_id=run_id, series="batch", columns=batch_columns(first, 300))
    got = series.read_series(session=session, run_id=run_id, series="batch", min_step=250, max_step=905)
    assert got["step"].tolist() == list(range(250, 906))
    np.testing.assert_array_equal(got["lr"], 1e-3 * (1 + np.arange(250, 906)))


def test_a_chunk_written_twice_is_kept_once(session: Session) -> None:
    run_id = make_run(session)
    assert (
        series.append_chunk(session=session, run_id=run_id, series="batch", columns=batch_columns(0, 10))
        == 10
    )
    assert (
        series.append_chunk(session=session, run_id=run_id, series="batch", columns=batch_columns(0, 10)) == 0
    )
    assert series.read_series(session=session, run_id=run_id, series="batch")["step"].size == 10


def test_truncate_after_keeps_each_step_once_on_resume(session: Session) -> None:
    run_id = make_run(session)
    for first in (0, 50, 100):
        series.append_chunk(session=session, run_id=run_id, series="batch", columns=batch_columns(first, 50))
    series.truncate_after(session=session, run_id=run_id, series="batch", step=72)
    series.append_chunk(session=session, run_id=run_id, series="batch", columns=batch_columns(73, 77))
    steps = series.read_series(session=session, run_id=run_id, series="batch")["step"]
    assert steps.tolist() == list(range(150))


def test_epochs_are_recorded_once(session: Session) -> None:
    run_id = make_run(session)
    values = {
        "epoch": 0,
        "step": 10,
        "train_loss": 1.0,
        "train_accuracy": 0.5,
        "val_loss": 1.1,
        "val_accuracy": 0.4,
        "lr": 0.01,
    }
    assert series.record_epoch(session=session, run_id=run_id, values=values)
    assert not series.record_epoch(session=session, run_id=run_id, values=values)
    assert series.read_epochs(session=session, run_id=run_id)["epoch"] == [0]


def test_concurrent_writers_to_one_run_lose_nothing(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        run_id = make_run(session)

    def write(first: int) -> None:
        for offset in range(0, 500, 100):
            with transaction(session_factory) as session:
                columns = batch_columns(first + offset, 100)
                series.append_chunk(session=session, run_id=run_id, series="batch", columns=columns)

    threads = [threading.Thread(target=write, args=(start,)) for start in (0, 500, 1000, 1500)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with session_factory() as session:
        steps = series.read_series(session=session, run_id=run_id, series="batch")["step"]
    assert steps.tolist() == list(range(2000))
