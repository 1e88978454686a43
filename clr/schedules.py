"""Cyclical learning-rate (and momentum) policies as closed-form functions of the step."""

from __future__ import annotations

import math
from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from clr.specs import CYCLIC_POLICIES, ScheduleSpec


def check_resolved(config: ScheduleSpec) -> None:
    """Raise ValueError if config still lacks the step counts its policy needs."""
    if config.base_lr is None or config.max_lr is None:
        raise ValueError("base_lr and max_lr must be set (fill them in with ScheduleSpec.resolved)")
    if config.policy in CYCLIC_POLICIES and config.step_size_iter is None:
        raise ValueError(
            f"step_size_iter must be set for policy={config.policy!r}, got None "
            "(convert step_size_epochs with ScheduleSpec.resolved)"
        )
    needs_total = config.policy == "one_cycle" or (
        config.bound_decay != "none" and config.policy != "constant"
    )
    if needs_total and config.total_steps is None:
        raise ValueError(
            f"total_steps must be set for policy={config.policy!r} with "
            f"bound_decay={config.bound_decay!r}, got None"
        )
    if config.policy == "one_cycle":
        assert config.total_steps is not None
        warmup_end = float(config.pct_start * config.total_steps) - 1
        if not 0 < warmup_end < config.total_steps - 1:
            raise ValueError(
                f"pct_start * total_steps must leave at least 2 warm-up and 1 annealing step, got "
                f"pct_start={config.pct_start!r}, total_steps={config.total_steps!r}"
            )


def _amplitude_factor(config: ScheduleSpec, step: int) -> float:
    """Fraction of the amplitude left at step under the decaying upper bound."""
    if config.bound_decay == "none":
        return 1.0
    assert config.total_steps is not None
    progress = min(step / config.total_steps, 1.0)
    if config.bound_decay == "linear":
        return 1.0 - (1.0 - config.bound_decay_rate) * progress
    return float(config.bound_decay_rate**progress)


def _height(config: ScheduleSpec, step: int) -> float:
    """Position between the bounds, 0 at base and 1 at max, for the cyclic policies."""
    assert config.step_size_iter is not None
    if config.policy == "cosine_restarts":
        period = 2 * config.step_size_iter
        h = (1.0 + math.cos(math.pi * (step % period) / period)) / 2.0
        return h * _amplitude_factor(config, step)
    # the same arithmetic, in the same order, as torch.optim.lr_scheduler.CyclicLR
    total_size = 2.0 * float(config.step_size_iter)
    cycle = math.floor(1 + step / total_size)
    x = 1.0 + step / total_size - cycle
    scale_factor = x / 0.5 if x <= 0.5 else (x - 1) / (0.5 - 1)
    if config.policy == "triangular2":
        scale_factor *= 1 / (2.0 ** (cycle - 1))
    elif config.policy == "exp_range":
        scale_factor *= config.gamma**step
    return scale_factor * _amplitude_factor(config, step)


def _one_cycle(config: ScheduleSpec, step: int, start: float, peak: float, end: float) -> float:
    """Interpolate like torch's OneCycleLR (two phases) from start to peak to end."""
    assert config.total_steps is not None
    warmup_end = float(config.pct_start * config.total_steps) - 1
    if step <= warmup_end:
        a, b, pct = start, peak, step / warmup_end
    else:
        last = config.total_steps - 1
        a, b, pct = peak, end, min((step - warmup_end) / (last - warmup_end), 1.0)
    if config.anneal_strategy == "cos":
        return b + (a - b) / 2.0 * (math.cos(math.pi * pct) + 1)
    return (b - a) * pct + a


def lr_at(config: ScheduleSpec, step: int) -> float:
    """Learning rate for the optimizer step with index `step` (from 0) of a resolved schedule."""
    base_lr, max_lr = config.base_lr, config.max_lr
    assert base_lr is not None, "resolve the schedule first"
    assert max_lr is not None, "resolve the schedule first"
    if config.policy == "constant":
        return base_lr
    if config.policy == "one_cycle":
        initial = max_lr / (max_lr / base_lr)
        return _one_cycle(config, step, initial, max_lr, initial / config.final_div_factor)
    return base_lr + (max_lr - base_lr) * _height(config, step)


def momentum_at(config: ScheduleSpec, step: int) -> float | None:
    """Momentum (or Adam beta1) for step, moving inverse to the learning rate; None when not cycled."""
    if not config.cycle_momentum or config.policy == "constant":
        return None
    high, low = config.max_momentum, config.base_momentum
    if config.policy == "one_cycle":
        return _one_cycle(config, step, high, low, high)
    return high - (high - low) * _height(config, step)


class CyclicScheduler(LRScheduler):
    """Torch scheduler that sets every param group's rate (and momentum) to the policy's value."""

    def __init__(self, optimizer: Optimizer, config: ScheduleSpec, last_epoch: int = -1) -> None:
        check_resolved(config)
        if config.cycle_momentum and not {"momentum", "betas"} & set(optimizer.defaults):
            raise ValueError(
                "cycle_momentum=True needs an optimizer with momentum or betas, "
                f"got {type(optimizer).__name__}"
            )
        self.config = config
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:  # type: ignore[override]
        """Closed-form rate at the current step for every param group."""
        return [lr_at(self.config, self.last_epoch)] * len(self.optimizer.param_groups)

    def step(self, epoch: int | None = None) -> None:
        """Advance one optimizer step and apply the rate and momentum for the next one."""
        super().step(epoch)
        self._apply_momentum()

    def _apply_momentum(self) -> None:
        momentum = momentum_at(self.config, self.last_epoch)
        if momentum is None:
            return
        for group in self.optimizer.param_groups:
            if "betas" in group:
                group["betas"] = (momentum, *group["betas"][1:])
            else:
                group["momentum"] = momentum

    def state_dict(self) -> dict[str, Any]:
        """Position in the schedule as plain values (safe for `torch.load(weights_only=True)`)."""
        return {"last_epoch": self.last_epoch, "step_count": self._step_count}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume at the saved position and re-apply its rate and momentum."""
        self.last_epoch = int(state_dict["last_epoch"])
        self._step_count = int(state_dict["step_count"])
        lr = lr_at(self.config, self.last_epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self._last_lr = [lr] * len(self.optimizer.param_groups)
        self._apply_momentum()
