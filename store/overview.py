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


def steps_within_lr(
    *, session: Session, run_id: str, series: str, min_lr: float | None, max_lr: float | None
) -> range | None:
    """The steps whose points have min_lr <= lr <= max_lr, found from the overviews; None if lr ever falls.

    A range test's lr never decreases with the step, so the matching points are one step range. Every
    chunk's first and last points are in its overview, so the overview brackets each end of that range
    between two of its points, and only the points between them (within one chunk) are read.
    """
    chunks = chunk_extents(session=session, run_id=run_id, series=series)
    stored = chunk_extents(session=session, run_id=run_id, series=overview_series(series))
    if len(stored) != len(chunks):
        return None  # chunks written before overviews existed
    if not chunks:
        return range(0)
    points = read_series(session=session, run_id=run_id, series=overview_series(series))
    steps, lrs = points["step"].astype(np.int64), points["lr"]
    if not np.isfinite(lrs).all() or bool((np.diff(lrs) < 0).any()):
        return None
    first, last = int(steps[0]), int(steps[-1])
    if min_lr is not None:
        above = int(np.searchsorted(lrs, min_lr, side="left"))
        if above == steps.size:
            return range(0)
        if above > 0:
            between = read_series(
                session=session, run_id=run_id, series=series, min_step=int(steps[above - 1]) + 1,
                max_step=int(steps[above]),
            )  # fmt: skip
            first = int(between["step"][np.argmax(between["lr"] >= min_lr)])
    if max_lr is not None:
        below = int(np.searchsorted(lrs, max_lr, side="right")) - 1
        if below < 0:
            return range(0)
        if below < steps.size - 1:
            between = read_series(
                session=session, run_id=run_id, series=series, min_step=int(steps[below]),
                max_step=int(steps[below + 1]) - 1,
            )  # fmt: skip
            last = int(between["step"][np.flatnonzero(between["lr"] <= max_lr)[-1]])
    return range(first, last + 1)
