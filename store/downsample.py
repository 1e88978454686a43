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
    """Indices of the finite min and max of each of `buckets` equal ranges of the interior points."""
    interior = np.flatnonzero(finite[1:-1]) + 1
    if interior.size == 0:
        return np.empty(0, dtype=np.int64)
    bucket_of = (interior - 1) * buckets // (values.size - 2)
    order = np.lexsort((values[interior], bucket_of))
    sorted_buckets = bucket_of[order]
    starts = np.flatnonzero(np.r_[True, sorted_buckets[1:] != sorted_buckets[:-1]])
    ends = np.r_[starts[1:], sorted_buckets.size] - 1
    kept: np.ndarray = interior[order[np.concatenate([starts, ends])]]
    return kept
