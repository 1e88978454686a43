"""Rules that read a learning rate off a range test's smoothed loss curve."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

import numpy as np

from clr.records import Suggestion

SKIP_START = 10
"""Points dropped at the start: the bias-corrected average is still noisy there."""
SKIP_END = 5
"""Points dropped at the end: the loss is exploding there."""
MIN_POINTS = 5
"""Fewest points left after skipping for a rule to answer."""

SuggestionFn = Callable[[Sequence[float], Sequence[float]], Suggestion]


def _window(lrs: Sequence[float], losses: Sequence[float]) -> tuple[np.ndarray, np.ndarray, int] | Suggestion:
    """Finite points after skipping both ends, their offset, or a Suggestion saying why none."""
    if len(lrs) != len(losses):
        raise ValueError(f"lrs and losses must have the same length, got {len(lrs)} and {len(losses)}")
    stop = len(losses) - SKIP_END
    if stop - SKIP_START < MIN_POINTS:
        return Suggestion(
            None, None, f"too few points: {len(losses)} (need {SKIP_START + SKIP_END + MIN_POINTS})"
        )
    lr = np.asarray(lrs[SKIP_START:stop], dtype=np.float64)
    loss = np.asarray(losses[SKIP_START:stop], dtype=np.float64)
    if not np.all(np.isfinite(loss)):
        return Suggestion(None, None, "non-finite losses inside the window")
    if float(loss.max() - loss.min()) <= 1e-9 * max(1.0, float(np.abs(loss).max())):
        return Suggestion(None, None, "the loss curve is flat")
    return lr, loss, SKIP_START


def suggest_minimum(lrs: Sequence[float], losses: Sequence[float]) -> Suggestion:
    """A tenth of the rate at the lowest smoothed loss."""
    window = _window(lrs, losses)
    if isinstance(window, Suggestion):
        return window
    lr, loss, offset = window
    i = int(np.argmin(loss))
    return Suggestion(float(lr[i] / 10.0), offset + i, None)


def suggest_steepest(lrs: Sequence[float], losses: Sequence[float]) -> Suggestion:
    """The rate where the loss falls fastest against log learning rate."""
    window = _window(lrs, losses)
    if isinstance(window, Suggestion):
        return window
    lr, loss, offset = window
    slopes = np.gradient(loss, np.log10(lr))
    i = int(np.argmin(slopes))
    if slopes[i] >= 0:
        return Suggestion(None, None, "the loss never decreases")
    return Suggestion(float(lr[i]), offset + i, None)


def suggest_valley(lrs: Sequence[float], losses: Sequence[float]) -> Suggestion:
    """fastai's valley rule: about half way into the longest run of decreasing losses."""
    window = _window(lrs, losses)
    if isinstance(window, Suggestion):
        return window
    lr, loss, offset = window
    run = _decreasing_run_lengths(loss)
    end = int(np.argmax(run))
    start = end - int(run[end]) + 1
    if end == start:
        return Suggestion(None, None, "the loss never decreases")
    sections = (end - start) / 3
    i = start + int(sections) + int(sections / 2)
    return Suggestion(float(lr[i]), offset + i, None)


def _decreasing_run_lengths(loss: np.ndarray) -> np.ndarray:
    """For each i, the longest strictly decreasing subsequence ending at i: O(n log n), patience sorting."""
    tails: list[float] = []  # tails[k]: smallest negated loss ending a run of length k + 1
    lengths = np.empty(len(loss), dtype=np.int64)
    for i, value in enumerate(-loss):
        k = bisect.bisect_left(tails, value)
        if k == len(tails):
            tails.append(value)
        else:
            tails[k] = value
        lengths[i] = k + 1
    return lengths


SUGGESTION_RULES: dict[str, SuggestionFn] = {
    "minimum": suggest_minimum,
    "steepest": suggest_steepest,
    "valley": suggest_valley,
}
