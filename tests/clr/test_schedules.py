"""Schedules agree with torch's CyclicLR/OneCycleLR and survive pickling and resuming."""

from __future__ import annotations

import math
import pickle
import random

import pytest
import torch
from torch.optim.lr_scheduler import CyclicLR, OneCycleLR

from clr import CyclicScheduler, ScheduleSpec, lr_at, momentum_at


def _optimizer(momentum: float = 0.9) -> torch.optim.SGD:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=momentum)


def _run(
    scheduler: torch.optim.lr_scheduler.LRScheduler, optimizer: torch.optim.Optimizer, steps: int
) -> list[float]:
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


@pytest.mark.parametrize("policy", ["triangular", "triangular2", "exp_range"])
def test_cyclic_policies_equal_torch_cyclic_lr(policy: str) -> None:
    rng = random.Random(policy)
    for _ in range(50):
        base = 10 ** rng.uniform(-6, -1)
        peak = base * rng.uniform(1.0, 100.0)
        step_size = rng.randint(1, 60)
        gamma = rng.uniform(0.99, 1.0) if policy == "exp_range" else 1.0  # only exp_range reads it
        steps = rng.randint(100, 400)
        spec = ScheduleSpec(policy, base_lr=base, max_lr=peak, step_size_iter=step_size, gamma=gamma)  # type: ignore[arg-type]
        theirs_opt = _optimizer()
        theirs = CyclicLR(
            theirs_opt,
            base,
            peak,
            step_size_up=step_size,
            mode=policy,  # type: ignore[arg-type]
            gamma=gamma,
            cycle_momentum=False,  # type: ignore[arg-type]
        )
        mine_opt = _optimizer()
        mine = _run(CyclicScheduler(mine_opt, spec), mine_opt, steps)
        for step, (a, b) in enumerate(zip(mine, _run(theirs, theirs_opt, steps), strict=True)):
            assert a == pytest.approx(b, rel=1e-12, abs=0.0), (step, spec)
            assert lr_at(spec, step) == a


@pytest.mark.parametrize("anneal", ["cos", "linear"])
def test_one_cycle_equals_torch_one_cycle_lr(anneal: str) -> None:
    rng = random.Random(anneal)
    for _ in range(50):
        base = 10 ** rng.uniform(-6, -2)
        peak = base * rng.uniform(2.0, 50.0)
        total = rng.randint(20, 400)
        pct = rng.uniform(0.1, 0.8)
        spec = ScheduleSpec(
            "one_cycle", base_lr=base, max_lr=peak, total_steps=total, pct_start=pct, anneal_strategy=anneal,  # type: ignore[arg-type]
            cycle_momentum=True, base_momentum=0.8, max_momentum=0.95,
        )  # fmt: skip
        theirs_opt = _optimizer()
        theirs = OneCycleLR(
            theirs_opt, peak, total_steps=total, pct_start=pct, anneal_strategy=anneal,  # type: ignore[arg-type]
            div_factor=peak / base, final_div_factor=1e4, base_momentum=0.8, max_momentum=0.95,
        )  # fmt: skip
        mine_opt = _optimizer()
        mine = CyclicScheduler(mine_opt, spec)
        for step in range(total):
            assert mine_opt.param_groups[0]["lr"] == pytest.approx(
                theirs_opt.param_groups[0]["lr"], rel=1e-12
            )
            assert mine_opt.param_groups[0]["momentum"] == pytest.approx(
                theirs_opt.param_groups[0]["momentum"], rel=1e-12
            )
            assert momentum_at(spec, step) == mine_opt.param_groups[0]["momentum"]
            for optimizer, scheduler in ((mine_opt, mine), (theirs_opt, theirs)):
                optimizer.step()
                scheduler.step()


def test_linear_bound_decay_shrinks_peaks_to_the_final_fraction() -> None:
    spec = ScheduleSpec(
        "triangular", base_lr=0.1, max_lr=1.1, step_size_iter=10, bound_decay="linear", bound_decay_rate=0.2,
        total_steps=100,
    )  # fmt: skip
    peaks = [lr_at(spec, s) for s in range(10, 100, 20)]
    assert peaks == sorted(peaks, reverse=True)
    assert lr_at(spec, 10) == pytest.approx(0.1 + 1.0 * (1 - 0.8 * 0.1))
    assert lr_at(spec, 100) == pytest.approx(0.1)  # the trough
    assert lr_at(spec, 90) == pytest.approx(0.1 + 1.0 * (1 - 0.8 * 0.9))


def test_exponential_bound_decay_reaches_the_final_fraction_at_total_steps() -> None:
    spec = ScheduleSpec(
        "triangular", base_lr=0.1, max_lr=1.1, step_size_iter=50, bound_decay="exponential",
        bound_decay_rate=0.25, total_steps=100,
    )  # fmt: skip
    assert lr_at(spec, 50) == pytest.approx(0.1 + 1.0 * 0.25**0.5)


def test_cosine_restarts_jump_back_to_max_every_two_step_sizes() -> None:
    spec = ScheduleSpec("cosine_restarts", base_lr=0.01, max_lr=0.1, step_size_iter=5)
    lrs = [lr_at(spec, s) for s in range(30)]
    assert lrs[0] == lrs[10] == lrs[20] == pytest.approx(0.1)
    assert lrs[5] == pytest.approx(0.055)
    assert all(lrs[i] > lrs[i + 1] for i in range(9))
    assert min(lrs) > 0.01


def test_momentum_moves_inverse_to_the_learning_rate_for_adam_beta1() -> None:
    spec = ScheduleSpec("triangular", base_lr=0.01, max_lr=0.1, step_size_iter=4, cycle_momentum=True)
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
    scheduler = CyclicScheduler(optimizer, spec)
    seen = []
    for _ in range(9):
        seen.append((optimizer.param_groups[0]["lr"], optimizer.param_groups[0]["betas"][0]))
        optimizer.step()
        scheduler.step()
    assert seen[0] == (0.01, 0.95)
    assert seen[4] == pytest.approx((0.1, 0.85))
    assert seen[8] == pytest.approx((0.01, 0.95))


def test_constant_policy_keeps_base_lr() -> None:
    spec = ScheduleSpec("constant", base_lr=0.03, max_lr=0.03)
    assert {lr_at(spec, s) for s in range(100)} == {0.03}
    assert momentum_at(spec, 3) is None


def test_scheduler_pickles_and_resumes_at_the_same_lr() -> None:
    spec = ScheduleSpec("triangular2", base_lr=0.001, max_lr=0.01, step_size_iter=7, cycle_momentum=True)
    optimizer = _optimizer()
    scheduler = CyclicScheduler(optimizer, spec)
    _run(scheduler, optimizer, 23)
    state = scheduler.state_dict()
    copy = pickle.loads(pickle.dumps(scheduler))
    assert copy.get_last_lr() == scheduler.get_last_lr()
    fresh_opt = _optimizer()
    fresh = CyclicScheduler(fresh_opt, spec)
    fresh.load_state_dict(state)
    assert fresh_opt.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]
    assert fresh_opt.param_groups[0]["momentum"] == optimizer.param_groups[0]["momentum"]
    assert _run(fresh, fresh_opt, 30) == _run(scheduler, optimizer, 30)


def test_step_size_epochs_resolves_to_batches() -> None:
    spec = ScheduleSpec("triangular", base_lr=0.01, max_lr=0.1, step_size_epochs=2.5)
    resolved = spec.resolved(batches_per_epoch=10, total_steps=200, optimizer_lr=0.5)
    assert (resolved.step_size_iter, resolved.total_steps, resolved.step_size_epochs) == (25, 200, None)


def test_unresolved_step_size_epochs_is_rejected_by_the_scheduler() -> None:
    spec = ScheduleSpec("triangular", base_lr=0.01, max_lr=0.1, step_size_epochs=2.0)
    with pytest.raises(ValueError, match="step_size"):
        CyclicScheduler(_optimizer(), spec)


def test_lr_stays_within_bounds_for_every_cyclic_policy() -> None:
    for policy in ("triangular", "triangular2", "exp_range", "cosine_restarts"):
        gamma = 0.999 if policy == "exp_range" else 1.0
        spec = ScheduleSpec(policy, base_lr=0.01, max_lr=0.1, step_size_iter=13, gamma=gamma)  # type: ignore[arg-type]
        assert all(0.01 <= lr_at(spec, s) <= 0.1 + 1e-15 for s in range(500))
        assert math.isclose(lr_at(spec, 0), 0.1 if policy == "cosine_restarts" else 0.01)
