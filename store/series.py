"""Curves stored as chunks of packed float64 columns, one row per chunk instead of one per point."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from store.downsample import overview
from store.models import EpochMetric, SeriesChunk

SERIES_COLUMNS: dict[str, tuple[str, ...]] = {
    "range": ("step", "lr", "loss", "smoothed_loss", "accuracy"),
    "batch": ("step", "epoch", "lr", "loss"),
}
# Series whose chunks also get an overview chunk: about one point in OVERVIEW_FACTOR, by min/max buckets of
# these columns, so `max_points` on a long series reads ~1/OVERVIEW_FACTOR of its bytes.
DOWNSAMPLED_BY: dict[str, tuple[str, ...]] = {"range": ("loss", "smoothed_loss"), "batch": ("loss",)}
OVERVIEW_FACTOR = 32
OVERVIEW_SUFFIX = ":overview"
# Steps are INTEGER columns (32 bits on PostgreSQL): no stored step is above this, no query goes past it.
MAX_STEP = 2**31 - 1
EPOCH_COLUMNS = ("epoch", "step", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr")
INTEGER_COLUMNS = frozenset({"step", "epoch"})  # served as integers; the others as floats

Columns = dict[str, np.ndarray]


def encode(columns: Mapping[str, Sequence[float] | np.ndarray], names: Sequence[str]) -> bytes:
    """Columns in `names` order, each as little-endian float64, back to back."""
    return np.asarray([columns[name] for name in names], dtype="<f8").tobytes()


def decode(data: bytes, names: Sequence[str], count: int) -> Columns:
    packed = np.frombuffer(data, dtype="<f8").reshape(len(names), count)
    return {name: packed[i] for i, name in enumerate(names)}


def _insert(session: Session) -> Any:
    """The dialect's INSERT, so a chunk written twice (a retried flush) is kept once."""
    return (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite).insert


def overview_series(series: str) -> str:
    """The name under which the overview chunks of `series` are stored."""
    return series + OVERVIEW_SUFFIX


def append_chunk(
    *, session: Session, run_id: str, series: str, columns: Mapping[str, Sequence[float] | np.ndarray]
) -> int:
    """Store consecutive points of one series, and their overview; returns how many points were written."""
    written = _put_chunk(session=session, run_id=run_id, series=series, columns=columns)
    if written and series in DOWNSAMPLED_BY:
        _put_overview(session=session, run_id=run_id, series=series, columns=columns)
    return written


def _put_overview(
    *, session: Session, run_id: str, series: str, columns: Mapping[str, Sequence[float] | np.ndarray]
) -> None:
    arrays = {name: np.asarray(columns[name], dtype=np.float64) for name in SERIES_COLUMNS[series]}
    reduced = overview(arrays, DOWNSAMPLED_BY[series], OVERVIEW_FACTOR)
    _put_chunk(session=session, run_id=run_id, series=overview_series(series), columns=reduced)


def _put_chunk(
    *, session: Session, run_id: str, series: str, columns: Mapping[str, Sequence[float] | np.ndarray]
) -> int:
    names = _names(series)
    steps = np.asarray(columns["step"])
    if steps.size == 0:
        return 0
    row = {
        "run_id": run_id,
        "series": series,
        "first_step": int(steps[0]),
        "last_step": int(steps[-1]),
        "count": int(steps.size),
        "data": encode(columns, names),
    }
    statement = (
        _insert(session)(SeriesChunk).values(row).on_conflict_do_nothing().returning(SeriesChunk.count)
    )
    return int(session.execute(statement).scalar() or 0)


def read_series(
    *,
    session: Session,
    run_id: str,
    series: str,
    min_step: int | None = None,
    max_step: int | None = None,
    limit: int | None = None,
) -> Columns:
    """Points with min_step <= step <= max_step in step order, at most `limit` of them."""
    names = _names(series)
    where = _in_window(run_id, series, min_step, max_step)
    windows: Iterable[tuple[Any, ...]] = [()]
    if limit is not None:
        extents = chunk_extents(
            session=session, run_id=run_id, series=series, min_step=min_step, max_step=max_step
        )
        windows = _windows(extents, limit)
    parts: list[np.ndarray] = []
    taken = 0
    for window in windows:
        query = select(SeriesChunk.count, SeriesChunk.data).where(*where, *window)
        for count, data in _fetch(session, query.order_by(SeriesChunk.first_step)):
            block = np.frombuffer(data, dtype="<f8").reshape(len(names), count)
            if min_step is not None:
                block = block[:, block[0] >= min_step]
            if max_step is not None:
                block = block[:, block[0] <= max_step]
            parts.append(block)
            taken += block.shape[1]
        if limit is not None and taken >= limit:
            break
    packed = np.concatenate(parts, axis=1) if parts else np.empty((len(names), 0))
    if limit is not None:
        packed = packed[:, :limit]
    return {name: packed[i] for i, name in enumerate(names)}


def chunk_extents(
    *, session: Session, run_id: str, series: str, min_step: int | None = None, max_step: int | None = None
) -> list[tuple[int, int, int]]:
    """(first_step, last_step, count) of the chunks with points in the step window, in step order."""
    query = select(SeriesChunk.first_step, SeriesChunk.last_step, SeriesChunk.count).where(
        *_in_window(run_id, series, min_step, max_step)
    )
    rows = session.execute(query.order_by(SeriesChunk.first_step))
    return [(first, last, count) for first, last, count in rows]


def _in_window(run_id: str, series: str, min_step: int | None, max_step: int | None) -> list[Any]:
    where = [SeriesChunk.run_id == run_id, SeriesChunk.series == series]
    if min_step is not None:
        where.append(SeriesChunk.last_step >= min_step)
    if max_step is not None:
        where.append(SeriesChunk.first_step <= max_step)
    return where


def _names(series: str) -> tuple[str, ...]:
    return SERIES_COLUMNS[series.removesuffix(OVERVIEW_SUFFIX)]


def _windows(sizes: list[tuple[int, int, int]], limit: int) -> Iterator[tuple[Any, ...]]:
    """Step ranges of chunks to fetch in turn, each with just enough chunks for a page.

    Counting from the chunks' extents first keeps a page of a long series from reading it all.
    """
    start = 0
    while start < len(sizes):
        # The first chunk may straddle min_step, so it counts for nothing towards the page.
        end, points = start + 1, 0
        while end < len(sizes) and points < limit:
            points += sizes[end][2]
            end += 1
        last = sizes[end - 1][0]
        yield (SeriesChunk.first_step >= sizes[start][0], SeriesChunk.first_step <= last)
        start = end


def _fetch(session: Session, query: Any) -> Sequence[Any]:
    """Rows of `query`; on PostgreSQL in the binary protocol, which spares hex-decoding every bytea."""
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql" or dialect.driver != "psycopg":
        return session.execute(query).all()
    compiled = query.compile(dialect=dialect)
    driver = session.connection().connection.driver_connection
    with driver.cursor(binary=True) as cursor:  # type: ignore[union-attr]
        cursor.execute(str(compiled), compiled.params)
        return cursor.fetchall()  # type: ignore[no-any-return]


def truncate_after(*, session: Session, run_id: str, series: str, step: int) -> None:
    """Drop every point after `step`, so a resumed run writes each step exactly once; overviews follow."""
    stored = [series, overview_series(series)] if series in DOWNSAMPLED_BY else [series]
    session.execute(
        delete(SeriesChunk).where(
            SeriesChunk.run_id == run_id, SeriesChunk.series.in_(stored), SeriesChunk.first_step > step
        )
    )
    straddling = session.scalars(
        select(SeriesChunk).where(
            SeriesChunk.run_id == run_id, SeriesChunk.series == series, SeriesChunk.last_step > step
        )
    ).all()
    names = SERIES_COLUMNS[series]
    for chunk in straddling:
        columns = decode(chunk.data, names, chunk.count)
        keep = columns["step"] <= step
        kept = {name: values[keep] for name, values in columns.items()}
        chunk.data = encode(kept, names)
        chunk.count = int(keep.sum())
        chunk.last_step = int(columns["step"][keep][-1])
        if series in DOWNSAMPLED_BY:
            session.execute(
                delete(SeriesChunk).where(
                    SeriesChunk.run_id == run_id,
                    SeriesChunk.series == overview_series(series),
                    SeriesChunk.first_step == chunk.first_step,
                )
            )
            _put_overview(session=session, run_id=run_id, series=series, columns=kept)
    session.flush()


def record_epoch(*, session: Session, run_id: str, values: Mapping[str, float | int | None]) -> bool:
    """One row per (run, epoch); a repeated epoch is ignored. Returns whether it was new."""
    row = {"run_id": run_id, **{name: values[name] for name in EPOCH_COLUMNS}}
    statement = (
        _insert(session)(EpochMetric).values(row).on_conflict_do_nothing().returning(EpochMetric.epoch)
    )
    return session.execute(statement).scalar() is not None


def truncate_epochs_after(*, session: Session, run_id: str, epoch: int) -> None:
    session.execute(delete(EpochMetric).where(EpochMetric.run_id == run_id, EpochMetric.epoch > epoch))


def read_epochs(*, session: Session, run_id: str) -> dict[str, list[Any]]:
    rows = session.scalars(
        select(EpochMetric).where(EpochMetric.run_id == run_id).order_by(EpochMetric.epoch)
    ).all()
    return {name: [getattr(row, name) for row in rows] for name in EPOCH_COLUMNS}
