"""`max_points` on long series: min/max-bucket downsampling through the stored overview chunks."""

from __future__ import annotations

import itertools

import numpy as np
from sqlalchemy.orm import Session

from store.downsample import downsampled, overview
from store.series import (
    DOWNSAMPLED_BY,
    OVERVIEW_FACTOR,
    SERIES_COLUMNS,
    Columns,
    chunk_extents,
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
    sizes = chunk_extents(session=session, run_id=run_id, series=series, min_step=min_step, max_step=max_step)
    inside = [
        (first, last)
        for first, last, _ in sizes
        if (min_step is None or first >= min_step) and (max_step is None or last <= max_step)
    ]
    if not inside or sum(count for _, _, count in sizes) < OVERVIEW_FACTOR * max_points:
        columns = read_series(
            session=session, run_id=run_id, series=series, min_step=min_step, max_step=max_step
        )
        return downsampled(columns, by, max_points)
    start, end = inside[0][0], inside[-1][1]
    stored = chunk_extents(
        session=session, run_id=run_id, series=overview_series(series), min_step=start, max_step=end
    )
    if len(stored) < len(inside):
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
    return downsampled(_joined(parts, series), by, max_points)


def _joined(parts: list[Columns], series: str) -> Columns:
    return {name: np.concatenate([part[name] for part in parts]) for name in SERIES_COLUMNS[series]}
