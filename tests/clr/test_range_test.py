"""The range test on a real small problem: curve shape, suggestions, stopping and restoring."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable
from pathlib import Path

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


def test_a_range_test_paused_in_its_second_pass_resumes_exactly_as_an_uninterrupted_one(
    tmp_path: Path,
) -> None:
    job = clr.RangeTestJob(
        model=clr.ModelSpec("vanilla_cnn", {"width": 16}), dataset=clr.DatasetSpec("digits"),
        optimizer=clr.OptimizerSpec("sgd_momentum"), batch_size=32, seed=0, device="cpu",
        num_iter=100, end_lr=1.0,
    )  # fmt: skip
    full_chunks: list[clr.RangeChunk] = []
    full = clr.find_lr(job, on_chunk=full_chunks.append)
    asked = iter(range(1000))
    chunks: list[clr.RangeChunk] = []
    ckpt = tmp_path / "state.pt"
    paused = clr.find_lr(
        job, on_chunk=chunks.append, should_pause=lambda: next(asked) == 70, checkpoint_path=ckpt
    )
    state = clr.load_range_checkpoint(ckpt)
    resumed = clr.find_lr(job, on_chunk=chunks.append, resume_from=ckpt)

    assert paused.stop_reason == "paused"
    assert state.step == 70  # in the second pass over the 44 batches
    assert resumed == full
    assert [p for c in chunks for p in zip(*dataclasses.astuple(c), strict=True)] == [
        p for c in full_chunks for p in zip(*dataclasses.astuple(c), strict=True)
    ]


def test_linear_sweep_spaces_rates_evenly() -> None:
    lrs = clr.sweep_lrs(0.1, 1.0, 10, "linear")
    assert lrs[0] == 0.1
    assert lrs[-1] == 1.0
    assert all(math.isclose(b - a, 0.1) for a, b in itertools.pairwise(lrs))


@pytest.mark.parametrize("mode", ["exp", "linear"])
def test_a_sweep_past_end_lr_keeps_its_rate_per_step_up_to_the_cap_or_twice_its_length(mode: str) -> None:
    spec = clr.RangeTestSpec(start_lr=1e-3, end_lr=0.1, past_end_lr=True, lr_cap=1.0, step_mode=mode)  # type: ignore[arg-type]
    lrs = clr.planned_lrs(spec, 50)
    planned = clr.sweep_lrs(1e-3, 0.1, 50, mode)  # type: ignore[arg-type]
    assert lrs[:50] == planned
    steps = [b / a if mode == "exp" else b - a for a, b in itertools.pairwise(lrs[48:])]
    assert steps == pytest.approx([steps[0]] * len(steps))
    assert lrs[-1] <= 1.0
    assert len(lrs) == 100 if mode == "linear" else lrs[-1] * steps[0] > 1.0  # linear: capped by length
    without = clr.RangeTestSpec(start_lr=1e-3, end_lr=0.1, step_mode=mode)  # type: ignore[arg-type]
    assert clr.planned_lrs(without, 50) == planned


def test_a_sweep_past_end_lr_goes_on_until_the_loss_diverges_and_finds_a_real_minimum(
    digits: clr.DataSplits, tiny_cnn: Callable[..., nn.Module]
) -> None:
    spec = clr.RangeTestSpec(start_lr=1e-5, end_lr=1e-2, num_iter=60, smoothing=0.9)
    model = tiny_cnn(digits)
    stopped = clr.range_test(model, digits.train, _sgd(model), nn.CrossEntropyLoss(), spec)
    model = tiny_cnn(digits)
    past = dataclasses.replace(spec, past_end_lr=True, lr_cap=100.0)
    result = clr.range_test(model, digits.train, _sgd(model), nn.CrossEntropyLoss(), past)

    assert stopped.stop_reason == "completed"
    assert any("still falling" in warning for warning in stopped.warnings())
    assert result.stop_reason == "diverged"
    assert result.lrs[:60] == stopped.lrs
    assert 1e-2 < result.lrs[-1] < 100.0
    best = min(range(len(result.lrs)), key=result.smoothed_losses.__getitem__)
    assert best < len(result.lrs) - 5
    assert result.suggested_max_lr == pytest.approx(result.lrs[best] / 10)
    assert not any("still falling" in warning for warning in result.warnings())


def test_range_test_reads_back_once_progress_seconds_passed_and_reports_its_total_at_the_start(
    digits: clr.DataSplits, tiny_cnn: Callable[..., nn.Module]
) -> None:
    model = tiny_cnn(digits)
    chunks: list[clr.RangeChunk] = []
    progress: list[clr.Progress] = []
    spec = clr.RangeTestSpec(start_lr=1e-4, end_lr=1e-2, num_iter=12)
    clr.range_test(
        model, digits.train, _sgd(model), nn.CrossEntropyLoss(), spec, on_chunk=chunks.append,
        on_progress=progress.append, progress_seconds=0.0,
    )  # fmt: skip
    assert [len(chunk.step) for chunk in chunks] == [1] * 12
    assert [(p.step, p.total_steps) for p in progress] == [(step, 12) for step in range(13)]
