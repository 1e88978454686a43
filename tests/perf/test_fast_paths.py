"""What the speed work touched: page reads that fetch only some chunks, reduceat buckets, the npy format."""

from __future__ import annotations

import io
from collections.abc import Callable

import httpx
import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from store import series
from store.db import transaction
from store.downsample import keep_indices
from store.models import Run, RunKind, RunStatus

POINTS = 1000


def write_batch(factory: sessionmaker[Session], run_id: str, sizes: list[int]) -> dict[str, np.ndarray]:
    """POINTS batch points in chunks of the given sizes (cycled), with a NaN loss at step 500."""
    step = np.arange(POINTS, dtype=float)
    columns = {"step": step, "epoch": step // 100, "lr": 1e-3 * (1 + step % 7), "loss": np.cos(step / 50)}
    columns["loss"][500] = np.nan
    with transaction(factory) as session:
        start, i = 0, 0
        while start < POINTS:
            end = start + sizes[i % len(sizes)]
            piece = {key: values[start:end] for key, values in columns.items()}
            series.append_chunk(session=session, run_id=run_id, series="batch", columns=piece)
            start, i = end, i + 1
    return columns


@pytest.fixture
def batch_run(
    make_run: Callable[..., Run], session_factory: sessionmaker[Session]
) -> tuple[Run, dict[str, np.ndarray]]:
    run = make_run(RunKind.TRAIN, RunStatus.RUNNING)
    return run, write_batch(session_factory, run.id, [1, 37, 256, 5])


@pytest.mark.parametrize("limit", [1, 2, 36, 37, 38, 299, 1000, 5000])
@pytest.mark.parametrize("min_step", [None, 0, 1, 37, 400])
def test_a_limited_read_matches_the_full_read_cut_to_the_limit(
    make_run: Callable[..., Run], session_factory: sessionmaker[Session], limit: int, min_step: int | None
) -> None:
    run = make_run(RunKind.TRAIN, RunStatus.RUNNING)
    columns = write_batch(session_factory, run.id, [1, 37, 256, 5])
    with session_factory() as session:
        page = series.read_series(
            session=session, run_id=run.id, series="batch", min_step=min_step, limit=limit
        )
        capped = series.read_series(
            session=session, run_id=run.id, series="batch", min_step=min_step, max_step=600, limit=limit
        )
    first = min_step or 0
    np.testing.assert_array_equal(page["step"], columns["step"][first : first + limit])
    np.testing.assert_array_equal(page["loss"], columns["loss"][first : first + limit])
    np.testing.assert_array_equal(capped["step"], columns["step"][first : min(first + limit, 601)])


def _reference_extremes(values: np.ndarray, buckets: int) -> set[int]:
    """The former sort-based bucket extremes: each bucket's first minimum and last maximum."""
    finite = np.isfinite(values)
    interior = np.flatnonzero(finite[1:-1]) + 1
    bucket_of = (interior - 1) * buckets // (values.size - 2)
    order = np.lexsort((values[interior], bucket_of))
    ordered = bucket_of[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], ordered.size] - 1
    return {int(i) for i in interior[order[np.concatenate([starts, ends])]]}


@pytest.mark.parametrize("seed", range(40))
def test_bucket_extremes_match_a_sort_based_reference_with_ties_and_non_finite_values(seed: int) -> None:
    rng = np.random.default_rng(seed)
    count = int(rng.integers(10, 400))
    values = rng.integers(0, 4, count).astype(float) if seed % 2 else rng.standard_normal(count)
    values[rng.random(count) < 0.2] = [np.nan, np.inf, -np.inf][seed % 3]
    max_points = int(rng.integers(4, count))
    kept = {int(i) for i in keep_indices(values, max_points=max_points)}
    buckets = (max_points - 2) // 2
    expected = {0, count - 1} | (_reference_extremes(values, buckets) if buckets else set())
    if not buckets and np.isfinite(values).any():
        expected.add(int(np.argmin(np.where(np.isfinite(values), values, np.inf))))
    assert kept == expected


def test_a_million_points_downsample_to_the_budget_keeping_ends_and_minimum() -> None:
    values = np.random.default_rng(0).standard_normal(1_000_000)
    kept = keep_indices(values, max_points=2000)
    assert kept.size <= 2000
    assert kept[0] == 0
    assert kept[-1] == values.size - 1
    assert int(np.argmin(values)) in kept
    assert int(np.argmax(values)) in kept
    np.testing.assert_array_equal(kept, keep_indices(values, max_points=2000))


@pytest.mark.anyio
@pytest.mark.parametrize("limit", [1, 37, 300, 1000])
async def test_npy_pages_return_every_point_once_with_nan_kept(
    client: httpx.AsyncClient, auth: dict[str, str], batch_run: tuple[Run, dict[str, np.ndarray]], limit: int
) -> None:
    run, columns = batch_run
    pages: list[np.ndarray] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"format": "npy", "limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        answer = await client.get(f"/runs/{run.id}/curves", params=params, headers=auth)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/x-npy"
        pages.append(np.load(io.BytesIO(answer.content), allow_pickle=False))
        cursor = answer.headers.get("x-next-cursor")
        if cursor is None:
            break
    table = np.concatenate(pages)
    assert table.dtype.names == ("step", "epoch", "lr", "loss")
    np.testing.assert_array_equal(table["step"], np.arange(POINTS))
    np.testing.assert_array_equal(table["loss"], columns["loss"])  # NaN compares equal here
    assert np.isnan(table["loss"][500])


@pytest.mark.anyio
async def test_npy_downsampling_matches_the_json_answer(
    client: httpx.AsyncClient, auth: dict[str, str], batch_run: tuple[Run, dict[str, np.ndarray]]
) -> None:
    run, _ = batch_run
    path = f"/runs/{run.id}/curves"
    params = {"max_points": 50, "min_step": 10, "max_step": 900}
    as_json = (await client.get(path, params=params, headers=auth)).json()["batch"]
    answer = await client.get(path, params={**params, "format": "npy"}, headers=auth)
    table = np.load(io.BytesIO(answer.content), allow_pickle=False)
    assert table["step"].tolist() == as_json["step"]
    assert "x-next-cursor" not in answer.headers
