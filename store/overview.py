"""`max_points` on long series: min/max-bucket downsampling through the stored overview chunks."""

from __future__ import annotations

import itertools

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.downsample import keep_indices, overview
from store.models import SeriesChunk
from store.series import (
    DOWNSAMPLED_BY,
    OVERVIEW_FACTOR,
    SERIES_COLUMNS,
    Columns,
    overview_series,
    read_series,
)


def read_downsampled(
    *,
    session: Session,
    run_id: str,
    series: str,
    max_points: int,
    min_step: int | None = None,
    max_step: int | None = None,
) -> Columns:
    """At most `max_points` points of the step window by min/max buckets: its first, last and minima kept.

    A window of OVERVIEW_FACTOR x max_points points or more is reduced from the stored overviews of the chunks
    wholly inside it, plus overviews computed from the points of the (at most two) chunks its ends cut
    through; so it reads about 1/OVERVIEW_FACTOR of the bytes and still keeps every extreme.
    """
    by = DOWNSAMPLED_BY[series]
    sizes = _chunk_sizes(session, run_id, series, min_step, max_step)
    inside = [
        (first, last)
        for first, last, _ in sizes
        if (min_step is None or first >= min_step) and (max_step is None or last <= max_step)
    ]
    if not inside or sum(count for _, _, count in sizes) < OVERVIEW_FACTOR * max_points:
        columns = read_series(
            session=session, run_id=run_id, series=series, min_step=min_step, max_step=max_step
        )
        return _keep(columns, by, max_points)
    start, end = inside[0][0], inside[-1][1]
    if _stored_overviews(session, run_id, series, start, end) < len(inside):
        # Chunks written before overviews existed: reduce from their points.
        points = read_series(session=session, run_id=run_id, series=series, min_step=start, max_step=end)
        cuts = [0, *np.searchsorted(points["step"], [first for first, _ in inside[1:]]), points["step"].size]
        pieces = [{name: values[a:b] for name, values in points.items()} for a, b in itertools.pairwise(cuts)]
        middle = _joined([overview(piece, by, OVERVIEW_FACTOR) for piece in pieces], series)
    else:
        middle = read_series(
            session=session, run_id=run_id, series=overview_series(series), min_step=start, max_step=end
        )
    parts = [middle]
    if sizes[0][0] < start:
        head = read_series(
            session=session, run_id=run_id, series=series, min_step=min_step, max_step=start - 1
        )
        parts.insert(0, overview(head, by, OVERVIEW_FACTOR))
    if sizes[-1][1] > end:
        tail = read_series(session=session, run_id=run_id, series=series, min_step=end + 1, max_step=max_step)
        parts.append(overview(tail, by, OVERVIEW_FACTOR))
    return _keep(_joined(parts, series), by, max_points)


def _joined(parts: list[Columns], series: str) -> Columns:
    return {name: np.concatenate([part[name] for part in parts]) for name in SERIES_COLUMNS[series]}


def _keep(columns: Columns, by: tuple[str, ...], max_points: int) -> Columns:
    kept = keep_indices(*(columns[name] for name in by), max_points=max_points)
    return {name: values[kept] for name, values in columns.items()}


def _chunk_sizes(
    session: Session, run_id: str, series: str, min_step: int | None, max_step: int | None
) -> list[tuple[int, int, int]]:
    """(first_step, last_step, count) of the chunks with points in the step window, in step order."""
    query = select(SeriesChunk.first_step, SeriesChunk.last_step, SeriesChunk.count).where(
        SeriesChunk.run_id == run_id, SeriesChunk.series == series
    )
    if min_step is not None:
        query = query.where(SeriesChunk.last_step >= min_step)
    if max_step is not None:
        query = query.where(SeriesChunk.first_step <= max_step)
    return [
        (first, last, count) for first, last, count in session.execute(query.order_by(SeriesChunk.first_step))
    ]


def _stored_overviews(session: Session, run_id: str, series: str, start: int, end: int) -> int:
    query = select(func.count()).where(
        SeriesChunk.run_id == run_id,
        SeriesChunk.series == overview_series(series),
        SeriesChunk.first_step >= start,
        SeriesChunk.first_step <= end,
    )
    return int(session.scalar(query) or 0)
