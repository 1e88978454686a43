"""Downsampling a long series through stored overviews keeps what downsampling every point keeps."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from store import overview, runs, series
from store.models import RunKind, SeriesChunk

CHUNK = 1000
CHUNKS = 40
MAX_POINTS = 100  # 40,000 points >= OVERVIEW_FACTOR x 100: the overview path


def noisy_columns(first: int, count: int) -> dict[str, np.ndarray]:
    steps = np.arange(first, first + count, dtype=float)
    noise = np.random.default_rng(first).normal(0, 0.05, count)
    loss = 2.0 / (1 + steps / 5000) + noise
    return {"step": steps, "epoch": steps // 4000, "lr": 1e-3 * (1 + np.sin(steps / 700)), "loss": loss}


@pytest.fixture
def long_run(session: Session) -> tuple[str, dict[str, np.ndarray]]:
    run_id = runs.create_run(session=session, owner="o", kind=RunKind.TRAIN, request={}, max_attempts=1).id
    for first in range(0, CHUNK * CHUNKS, CHUNK):
        series.append_chunk(
            session=session, run_id=run_id, series="batch", columns=noisy_columns(first, CHUNK)
        )
    return run_id, series.read_series(session=session, run_id=run_id, series="batch")


def assert_keeps_extremes(
    got: dict[str, np.ndarray], every: dict[str, np.ndarray], low: int, high: int
) -> None:
    window = (every["step"] >= low) & (every["step"] <= high)
    steps = got["step"]
    assert 0 < steps.size <= MAX_POINTS
    assert np.all(np.diff(steps) > 0)
    assert (steps[0], steps[-1]) == (low, high)
    minimum = every["step"][window][np.argmin(every["loss"][window])]
    assert minimum in steps
    positions = np.searchsorted(every["step"], steps)
    for name in ("epoch", "lr", "loss"):
        np.testing.assert_array_equal(got[name], every[name][positions])  # real points, not averages


def assert_same_points(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert got.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name])


@pytest.mark.parametrize(("low", "high"), [(0, CHUNK * CHUNKS - 1), (1500, 35_500), (999, 39_001)])
def test_the_overview_path_keeps_first_last_and_minimum_of_the_window(
    session: Session, long_run: tuple[str, dict[str, np.ndarray]], low: int, high: int
) -> None:
    run_id, every = long_run
    first = overview.read_downsampled(
        session=session, run_id=run_id, series="batch", max_points=MAX_POINTS, min_step=low, max_step=high
    )
    again = overview.read_downsampled(
        session=session, run_id=run_id, series="batch", max_points=MAX_POINTS, min_step=low, max_step=high
    )
    assert_keeps_extremes(first, every, low, high)
    assert_same_points(first, again)


def test_chunks_without_overviews_are_reduced_from_their_points(
    session: Session, long_run: tuple[str, dict[str, np.ndarray]]
) -> None:
    run_id, every = long_run
    stored = overview.read_downsampled(session=session, run_id=run_id, series="batch", max_points=MAX_POINTS)
    session.execute(delete(SeriesChunk).where(SeriesChunk.series == series.overview_series("batch")))
    rebuilt = overview.read_downsampled(session=session, run_id=run_id, series="batch", max_points=MAX_POINTS)
    assert_keeps_extremes(rebuilt, every, 0, CHUNK * CHUNKS - 1)
    assert_same_points(stored, rebuilt)


def test_truncating_for_a_resume_cuts_the_overviews_too(
    session: Session, long_run: tuple[str, dict[str, np.ndarray]]
) -> None:
    run_id, every = long_run
    series.truncate_after(session=session, run_id=run_id, series="batch", step=20_500)
    stored = series.read_series(session=session, run_id=run_id, series=series.overview_series("batch"))
    assert stored["step"].max() <= 20_500
    got = overview.read_downsampled(session=session, run_id=run_id, series="batch", max_points=MAX_POINTS)
    kept = every["step"] <= 20_500
    assert_keeps_extremes(got, {name: values[kept] for name, values in every.items()}, 0, 20_500)


def test_a_short_window_is_downsampled_from_every_point(
    session: Session, long_run: tuple[str, dict[str, np.ndarray]]
) -> None:
    run_id, every = long_run
    got = overview.read_downsampled(
        session=session, run_id=run_id, series="batch", max_points=MAX_POINTS, min_step=100, max_step=2_100
    )
    assert_keeps_extremes(got, every, 100, 2_100)
