"""The range test on a real small problem: curve shape, suggestions, stopping and restoring."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import pytest
import torch
from torch import nn

import clr


def _sgd(model: nn.Module) -> torch.optim.Optimizer:
    return clr.build_optimizer(clr.OptimizerSpec("sgd_momentum"), model.parameters())


def test_range_test_loss_falls_then_rises_and_suggestions_lie_in_the_sweep(
    digits: clr.DataSplits, tiny_cnn: Callable[..., nn.Module]
) -> None:
    model = tiny_cnn(digits)
    spec = clr.RangeTestSpec(start_lr=1e-4, end_lr=10.0, epochs=4, smoothing=0.9)
    result = clr.range_test(model, digits.train, _sgd(model), nn.CrossEntropyLoss(), spec)
    best = min(range(len(result.smoothed_losses)), key=result.smoothed_losses.__getitem__)
    assert result.smoothed_losses[best] < result.smoothed_losses[0] - 0.5
    assert result.stop_reason == "diverged"
    assert result.smoothed_losses[-1] > result.smoothed_losses[best] * spec.diverge_threshold
    for name, suggestion in result.suggestions.items():
        assert suggestion.lr is not None, name
        assert spec.start_lr / 10 <= suggestion.lr <= result.lrs[-1], name
    assert result.suggested_max_lr == result.suggestions["minimum"].lr
    assert result.suggested_base_lr == pytest.approx(result.suggested_max_lr / 6.0)  # type: ignore[operator]
    summary = result.to_summary()
    assert summary.num_points == len(result.lrs)
    assert summary.stop_reason == "diverged"


def test_range_test_restores_weights_optimizer_and_rng_bit_for_bit(
    digits: clr.DataSplits, tiny_cnn: Callable[..., nn.Module], state_equal: Callable[..., bool]
) -> None:
    model = tiny_cnn(digits)
    optimizer = _sgd(model)
    before_model = {k: v.clone() for k, v in model.state_dict().items()}
    before_opt = optimizer.state_dict()
    rng = torch.get_rng_state()
    data_state = digits.train.state_dict()  # type: ignore[attr-defined]
    clr.range_test(model, digits.train, optimizer, nn.CrossEntropyLoss(), clr.RangeTestSpec(num_iter=30))
    assert state_equal(model.state_dict(), before_model)
    assert optimizer.state_dict()["param_groups"] == before_opt["param_groups"]
    assert optimizer.state_dict()["state"] == {}
    assert torch.equal(torch.get_rng_state(), rng)
    assert torch.equal(digits.train.state_dict()["generator"], data_state["generator"])  # type: ignore[attr-defined]


def test_range_test_sweeps_exactly_from_start_to_end_and_chunks_cover_every_point(
    digits: clr.DataSplits, tiny_cnn: Callable[..., nn.Module]
) -> None:
    model = tiny_cnn(digits)
    chunks: list[clr.RangeChunk] = []
    spec = clr.RangeTestSpec(start_lr=1e-6, end_lr=1e-3, num_iter=50, diverge_threshold=1e9)
    result = clr.range_test(
        model, digits.train, _sgd(model), nn.CrossEntropyLoss(), spec, on_chunk=chunks.append, chunk_size=16
    )
    assert result.stop_reason == "completed"
    assert (result.lrs[0], result.lrs[-1], len(result.lrs)) == (1e-6, 1e-3, 50)
    assert math.isclose(result.lrs[1] / result.lrs[0], result.lrs[40] / result.lrs[39])
    assert [s for c in chunks for s in c.step] == list(range(50))
    assert tuple(lr for c in chunks for lr in c.lr) == result.lrs
    assert len(chunks) == 4


def test_range_test_stops_on_nan_loss(digits: clr.DataSplits, tiny_cnn: Callable[..., nn.Module]) -> None:
    model = tiny_cnn(digits)
    calls = 0

    def nan_at_step_12(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        loss = nn.functional.cross_entropy(out, y)
        return loss * float("nan") if calls > 12 else loss

    result = clr.range_test(model, digits.train, _sgd(model), nan_at_step_12, clr.RangeTestSpec(num_iter=40))
    assert result.stop_reason == "non_finite_loss"
    assert len(result.losses) == 12
    assert all(math.isfinite(v) for v in result.smoothed_losses)


def test_range_test_divergence_rule_works_for_negative_losses(
    digits: clr.DataSplits, tiny_cnn: Callable[..., nn.Module]
) -> None:
    model = tiny_cnn(digits)
    calls = 0

    def negative_then_rising(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        # -10 for 20 steps, then climbing by 2 each step: rises above the best by 3 * |best| = 30 eventually
        return nn.functional.cross_entropy(out, y) * 0 + (
            -10.0 if calls <= 20 else -10.0 + 2.0 * (calls - 20)
        )

    spec = clr.RangeTestSpec(num_iter=100, smoothing=0.0)
    result = clr.range_test(model, digits.train, _sgd(model), negative_then_rising, spec)
    assert result.stop_reason == "diverged"
    assert result.losses[-1] > -10.0 + 30.0
    assert result.losses[-2] <= -10.0 + 30.0


def test_range_test_is_cancelled_by_should_stop(
    digits: clr.DataSplits, tiny_cnn: Callable[..., nn.Module]
) -> None:
    model = tiny_cnn(digits)
    polls = 0

    def stop_after_7() -> bool:
        nonlocal polls
        polls += 1
        return polls > 7

    chunks: list[clr.RangeChunk] = []
    result = clr.range_test(
        model, digits.train, _sgd(model), nn.CrossEntropyLoss(), clr.RangeTestSpec(num_iter=40),
        should_stop=stop_after_7, on_chunk=chunks.append,
    )  # fmt: skip
    assert result.stop_reason == "cancelled"
    assert len(result.lrs) == 7
    assert sum(len(c.step) for c in chunks) == 7


def test_linear_sweep_spaces_rates_evenly() -> None:
    lrs = clr.sweep_lrs(0.1, 1.0, 10, "linear")
    assert lrs[0] == 0.1
    assert lrs[-1] == 1.0
    assert all(math.isclose(b - a, 0.1) for a, b in itertools.pairwise(lrs))
