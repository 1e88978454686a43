"""store.downsample.keep_indices: bounded, deterministic, keeps the ends and every series' minimum."""

from __future__ import annotations

import numpy as np
import pytest

from store.downsample import keep_indices


@pytest.mark.parametrize("count", [2, 10, 57])
def test_short_series_are_kept_whole(count: int) -> None:
    assert keep_indices(np.zeros(count), max_points=57).tolist() == list(range(count))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(
    ("count", "max_points"), [(100, 4), (1000, 10), (1001, 101), (20_000, 500), (30, 29)]
)
def test_downsampling_is_bounded_sorted_and_keeps_ends_and_minima(
    seed: int, count: int, max_points: int
) -> None:
    rng = np.random.default_rng(seed)
    loss = rng.normal(size=count).cumsum()
    smoothed = np.convolve(loss, np.ones(5) / 5, mode="same")

    kept = keep_indices(loss, smoothed, max_points=max_points)

    assert kept.size <= max_points
    assert kept[0] == 0
    assert kept[-1] == count - 1
    assert np.all(np.diff(kept) > 0)
    assert np.argmin(loss) in kept
    assert np.argmin(smoothed) in kept


def test_downsampling_is_deterministic() -> None:
    loss = np.random.default_rng(0).normal(size=5000)
    assert np.array_equal(keep_indices(loss, max_points=100), keep_indices(loss.copy(), max_points=100))


def test_a_bucket_keeps_both_its_lowest_and_highest_point() -> None:
    loss = np.zeros(102)
    loss[40], loss[60] = -5.0, 7.0
    kept = keep_indices(loss, max_points=4)
    assert {0, 40, 60, 101} == set(kept.tolist())


def test_non_finite_points_are_never_chosen_as_extremes() -> None:
    loss = np.linspace(3.0, 1.0, 1000)
    loss[500:510] = np.nan
    loss[700] = -np.inf
    loss[800] = np.inf

    kept = keep_indices(loss, max_points=50)

    assert not set(range(500, 510)) & set(kept.tolist())
    assert 700 not in kept
    assert 800 not in kept
    assert 998 in kept, "the smallest finite interior loss"


def test_too_small_a_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="max_points must be at least 4 for 2 series"):
        keep_indices(np.zeros(10), np.zeros(10), max_points=3)


def test_series_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        keep_indices(np.zeros(10), np.zeros(9), max_points=5)
