"""Deterministic min/max-bucket downsampling that keeps the first and last points and each series' minimum."""

from __future__ import annotations

import numpy as np


def keep_indices(*series: np.ndarray, max_points: int) -> np.ndarray:
    """Sorted indices of at most `max_points` points: first, last, each bucket's min and max of every series.

    All series have the same length. The interior is cut into equal index ranges (steps are evenly spaced);
    each range keeps the positions of its smallest and largest finite value of each series, so the global
    minimum of each series always survives. NaN and infinities are never chosen as a bucket's extreme.
    """
    if not series:
        raise ValueError("keep_indices needs at least one series")
    count = int(np.asarray(series[0]).size)
    if any(np.asarray(values).size != count for values in series):
        raise ValueError(f"all series must have the same length, got {[np.asarray(v).size for v in series]}")
    if max_points < 2 + len(series):
        raise ValueError(
            f"max_points must be at least {2 + len(series)} for {len(series)} series, got {max_points}"
        )
    if count <= max_points:
        return np.arange(count)
    buckets = (max_points - 2) // (2 * len(series))
    chosen = [np.array([0, count - 1])]
    for values in series:
        finite = np.isfinite(values)
        if buckets == 0:
            if finite.any():
                chosen.append(np.array([int(np.argmin(np.where(finite, values, np.inf)))]))
            continue
        chosen.append(_bucket_extremes(np.asarray(values, dtype=np.float64), finite, buckets))
    return np.unique(np.concatenate(chosen))


def _bucket_extremes(values: np.ndarray, finite: np.ndarray, buckets: int) -> np.ndarray:
    """Indices of the finite min and max of each of `buckets` equal ranges of the interior points.

    Buckets are contiguous index ranges, so `reduceat` finds their extremes in one pass instead of a sort;
    ties go to the earliest minimum and the latest maximum.
    """
    inside, usable = values[1:-1], finite[1:-1]
    size = inside.size
    starts = np.unique((np.arange(buckets) * size + buckets - 1) // buckets)
    starts = starts[starts < size]
    bucket_of = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, size]))
    lows = np.where(usable, inside, np.inf)
    highs = np.where(usable, inside, -np.inf)
    at_low = np.flatnonzero(usable & (lows == np.minimum.reduceat(lows, starts)[bucket_of]))
    at_high = np.flatnonzero(usable & (highs == np.maximum.reduceat(highs, starts)[bucket_of]))
    kept: np.ndarray = np.concatenate([_first_of_each(at_low, bucket_of), _last_of_each(at_high, bucket_of)])
    return kept + 1


def _first_of_each(positions: np.ndarray, bucket_of: np.ndarray) -> np.ndarray:
    """The earliest of `positions` (sorted) in each bucket."""
    groups = bucket_of[positions]
    picked: np.ndarray = positions[np.r_[True, groups[1:] != groups[:-1]]] if positions.size else positions
    return picked


def _last_of_each(positions: np.ndarray, bucket_of: np.ndarray) -> np.ndarray:
    """The latest of `positions` (sorted) in each bucket."""
    groups = bucket_of[positions]
    picked: np.ndarray = positions[np.r_[groups[1:] != groups[:-1], True]] if positions.size else positions
    return picked


def downsampled(
    columns: dict[str, np.ndarray], by: tuple[str, ...], max_points: int
) -> dict[str, np.ndarray]:
    """The points of `columns` that `keep_indices` keeps over the `by` series."""
    kept = keep_indices(*(columns[name] for name in by), max_points=max_points)
    return {name: values[kept] for name, values in columns.items()}


def overview(columns: dict[str, np.ndarray], by: tuple[str, ...], factor: int) -> dict[str, np.ndarray]:
    """About one point in `factor` of `columns`, chosen by `keep_indices` over the `by` series.

    The first and last points and each `by` series' minimum are kept, so overviews of consecutive chunks,
    put end to end, still hold every chunk's extremes; downsampling them is downsampling the whole.
    """
    count = int(columns[by[0]].size)
    return downsampled(columns, by, max(2 + 2 * len(by), count // factor))
