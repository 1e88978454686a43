"""Suggestion rules read sensible rates off synthetic curves and decline on useless ones."""

from __future__ import annotations

import numpy as np

import clr
from clr.suggest import SKIP_END, SKIP_START, _decreasing_run_lengths, suggest_valley


def _curve(n: int = 100) -> tuple[list[float], list[float]]:
    lrs = np.geomspace(1e-6, 1.0, n)
    x = np.log10(lrs)
    losses = (
        2.0 - 1.5 / (1 + np.exp(-(x + 4) * 3)) + np.exp(3 * (x + 1))
    )  # falls around 1e-4, explodes near 1
    return lrs.tolist(), losses.tolist()


def test_minimum_rule_is_a_tenth_of_the_rate_at_the_lowest_loss() -> None:
    lrs, losses = _curve()
    best = int(np.argmin(losses[SKIP_START : len(losses) - SKIP_END])) + SKIP_START
    assert clr.suggest_minimum(lrs, losses) == clr.Suggestion(lrs[best] / 10, best, None)


def test_steepest_rule_picks_the_fastest_fall() -> None:
    lrs, losses = _curve()
    suggestion = clr.suggest_steepest(lrs, losses)
    assert suggestion.lr is not None
    assert 3e-5 < suggestion.lr < 3e-4


def test_valley_rule_lands_inside_the_descent() -> None:
    lrs, losses = _curve()
    suggestion = clr.suggest_valley(lrs, losses)
    assert suggestion.lr is not None
    assert suggestion.index is not None
    assert 1e-6 < suggestion.lr < lrs[int(np.argmin(losses))]


def test_rules_decline_short_and_flat_curves_with_a_reason() -> None:
    for rule in (clr.suggest_minimum, clr.suggest_steepest, clr.suggest_valley):
        short = rule([1e-3] * 12, [1.0] * 12)
        assert (short.lr, short.index) == (None, None)
        assert short.reason is not None
        assert "too few" in short.reason
        flat = rule(list(np.geomspace(1e-5, 1, 50)), [1.0] * 50)
        assert flat.lr is None
        assert flat.reason == "the loss curve is flat"


def test_valley_run_lengths_match_the_quadratic_definition_with_ties() -> None:
    rng = np.random.default_rng(0)
    for _ in range(100):
        loss = rng.normal(size=int(rng.integers(1, 60))).round(1)
        expected = np.ones(len(loss), dtype=np.int64)
        for i in range(1, len(loss)):
            higher = loss[:i] > loss[i]
            if higher.any():
                expected[i] = int(expected[:i][higher].max()) + 1
        np.testing.assert_array_equal(_decreasing_run_lengths(loss), expected)


def test_valley_answers_on_a_curve_of_a_hundred_thousand_points() -> None:
    lrs = np.geomspace(1e-7, 1.0, 100_000)
    losses = 2.0 - np.exp(-((np.log10(lrs) + 2.0) ** 2))
    suggestion = suggest_valley(lrs.tolist(), losses.tolist())
    assert suggestion.lr is not None
    assert 1e-7 < suggestion.lr < 1e-2  # inside the falling part of the curve


def test_a_sweep_whose_loss_still_falls_at_the_end_warns_to_raise_end_lr() -> None:
    lrs = np.geomspace(1e-7, 0.1, 100).tolist()
    falling = np.linspace(2.3, 1.0, 100).tolist()
    result = clr.RangeTestResult(tuple(lrs), tuple(falling), tuple(falling), (0.0,) * 100, "completed")
    assert any("raise end_lr" in note for note in result.to_summary().warnings)
    turning = falling[:60] + falling[60:0:-1][:40]
    result = clr.RangeTestResult(tuple(lrs), tuple(turning), tuple(turning), (0.0,) * 100, "completed")
    assert not any("raise end_lr" in note for note in result.to_summary().warnings)
