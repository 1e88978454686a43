"""The learning-rate range test: sweep the rate over a short run and watch the loss."""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from clr.checkpoint import RangeTestState, save_checkpoint
from clr.device import capture_rng, resolve_device, restore_rng
from clr.records import Progress, RangeChunk, RangeStopReason, RangeTestResult
from clr.specs import RangeTestSpec
from clr.step import READ_BACK_SECONDS, LossFn, ReadBack, optimize_step
from clr.suggest import SUGGESTION_RULES


def sweep_lrs(start: float, end: float, num: int, mode: Literal["exp", "linear"]) -> list[float]:
    """num rates from start to end (both exact), spaced geometrically ("exp") or evenly."""
    if num < 2:
        raise ValueError(f"num must be >= 2, got {num!r}")
    if mode == "exp":
        lrs = [start * (end / start) ** (i / (num - 1)) for i in range(num)]
    else:
        lrs = [start + (end - start) * i / (num - 1) for i in range(num)]
    lrs[-1] = end
    return lrs


def planned_lrs(spec: RangeTestSpec, num: int) -> list[float]:
    """The sweep's rates: num from start_lr to end_lr, then with past_end_lr on at the same rate per step."""
    lrs = sweep_lrs(spec.start_lr, spec.end_lr, num, spec.step_mode)
    if not spec.past_end_lr:
        return lrs
    ratio, increment = lrs[-1] / lrs[-2], lrs[-1] - lrs[-2]
    while len(lrs) < 2 * num:
        following = lrs[-1] * ratio if spec.step_mode == "exp" else lrs[-1] + increment
        if following > spec.lr_cap:
            break
        lrs.append(following)
    return lrs


@dataclass
class _Curve:
    """The series so far and the bias-corrected moving average of the loss.

    Divergence is (smoothed - best) > (threshold - 1) * |best|, which is smoothed > threshold * best for
    positive losses and still means "far above the best" when losses are negative.
    """

    beta: float
    threshold: float
    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    accuracies: list[float] = field(default_factory=list)
    average: float = 0.0
    best: float = math.inf

    def add(self, lr: float, loss: float, accuracy: float) -> RangeStopReason | None:
        """Record one point (dropped if its loss is not finite); a stop reason if the test must end."""
        if not math.isfinite(loss):
            return "non_finite_loss"
        self.average = self.beta * self.average + (1 - self.beta) * loss
        smoothed = self.average / (1 - self.beta ** (len(self.losses) + 1))
        for series, value in zip(
            (self.lrs, self.losses, self.smoothed, self.accuracies),
            (lr, loss, smoothed, accuracy),
            strict=True,
        ):
            series.append(value)
        self.best = min(self.best, smoothed)
        if smoothed - self.best > (self.threshold - 1) * abs(self.best):
            return "diverged"
        return None


def _snapshot(
    model: nn.Module, optimizer: torch.optim.Optimizer, scaler: Any, batches: object
) -> dict[str, Any]:
    """Everything the test changes, copied in memory."""
    return {
        "model": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "training": model.training,
        "optimizer": copy.deepcopy(optimizer.state_dict()),
        "scaler": None if scaler is None else copy.deepcopy(scaler.state_dict()),
        "batches": copy.deepcopy(batches.state_dict()) if hasattr(batches, "state_dict") else None,
        "rng": capture_rng(),
    }


def _restore(
    snapshot: dict[str, Any], model: nn.Module, optimizer: torch.optim.Optimizer, scaler: Any, batches: object
) -> None:
    model.load_state_dict(snapshot["model"])
    model.train(snapshot["training"])
    optimizer.load_state_dict(snapshot["optimizer"])
    if scaler is not None:
        scaler.load_state_dict(snapshot["scaler"])
    if snapshot["batches"] is not None:
        batches.load_state_dict(snapshot["batches"])  # type: ignore[attr-defined]
    restore_rng(snapshot["rng"])


def _suggest(curve: _Curve, spec: RangeTestSpec, stop_reason: RangeStopReason) -> RangeTestResult:
    suggestions = {name: rule(curve.lrs, curve.smoothed) for name, rule in SUGGESTION_RULES.items()}
    chosen = suggestions[spec.suggestion].lr
    return RangeTestResult(
        lrs=tuple(curve.lrs),
        losses=tuple(curve.losses),
        smoothed_losses=tuple(curve.smoothed),
        accuracies=tuple(curve.accuracies),
        stop_reason=stop_reason,
        suggestions=suggestions,
        suggested_max_lr=chosen,
        suggested_base_lr=None if chosen is None else chosen / spec.base_lr_factor,
    )


def _pause_state(
    step: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: Any,
    pass_data: dict[str, Any] | None,
    curve: _Curve,
) -> RangeTestState:
    return RangeTestState(
        step=step,
        model=model.state_dict(),
        optimizer=optimizer.state_dict(),
        scaler=None if scaler is None else scaler.state_dict(),
        rng=capture_rng(),
        data=pass_data,
        curve=asdict(curve),
    )


def _resume(
    state: RangeTestState, model: nn.Module, optimizer: torch.optim.Optimizer, scaler: Any, batches: object
) -> _Curve:
    model.load_state_dict(state.model)
    optimizer.load_state_dict(state.optimizer)
    if scaler is not None and state.scaler is not None:
        scaler.load_state_dict(state.scaler)
    if state.data is not None:
        batches.load_state_dict(state.data)  # type: ignore[attr-defined]
    restore_rng(state.rng)
    return _Curve(**state.curve)


def range_test(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    spec: RangeTestSpec = RangeTestSpec(),  # noqa: B008 - frozen, so a shared default is safe
    *,
    device: str | torch.device | None = None,
    on_chunk: Callable[[RangeChunk], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    should_pause: Callable[[], bool] | None = None,
    checkpoint_path: Path | None = None,
    resume: RangeTestState | None = None,
    restore: bool = True,
    scaler: torch.amp.GradScaler | None = None,
    chunk_size: int = 64,
    progress_seconds: float = READ_BACK_SECONDS,
) -> RangeTestResult:
    """Train with a rate rising every batch from start_lr to end_lr (or past it); restore everything after.

    Losses are read back every `chunk_size` batches or `progress_seconds`, whichever comes first; `on_chunk`
    and `on_progress` follow each read, and `on_progress` the start too.

    `should_pause` ends the test before the next batch ("paused") after writing `checkpoint_path`, from which
    `resume` continues exactly as if never interrupted.
    """
    dev = resolve_device(device, model)
    model.to(dev)
    per_epoch = len(batches)  # type: ignore[arg-type]
    if per_epoch == 0:
        raise ValueError("batches must yield at least one batch per pass, got an empty iterable")
    lrs = planned_lrs(
        spec, spec.num_iter if spec.num_iter is not None else max(2, math.ceil(spec.epochs * per_epoch))
    )
    num = len(lrs)
    snapshot = _snapshot(model, optimizer, scaler, batches) if restore else None
    amp: Literal["none", "fp16"] = "fp16" if scaler is not None and scaler.is_enabled() else "none"
    curve = _Curve(beta=spec.smoothing, threshold=spec.diverge_threshold)
    if resume is not None:
        curve = _resume(resume, model, optimizer, scaler, batches)
    pending: list[tuple[torch.Tensor, torch.Tensor]] = []
    read_back = ReadBack(chunk_size, progress_seconds)
    stop: RangeStopReason | None = None

    def report() -> None:
        if on_progress is not None:
            on_progress(Progress(len(curve.losses), num, len(curve.losses) // max(per_epoch, 1)))

    def flush() -> RangeStopReason | None:
        # one device-to-host read per chunk or interval instead of a sync every batch
        first = len(curve.losses)
        values = torch.stack([torch.stack(p) for p in pending]).float().tolist() if pending else []
        pending.clear()
        read_back.done()
        reason = None
        for loss, accuracy in values:
            reason = curve.add(lrs[len(curve.losses)], loss, accuracy)
            if reason is not None:
                break
        if on_chunk is not None and len(curve.losses) > first:
            columns = (curve.lrs, curve.losses, curve.smoothed, curve.accuracies)
            on_chunk(RangeChunk(tuple(range(first, len(curve.losses))), *(tuple(c[first:]) for c in columns)))
        report()
        return reason

    model.train()
    step = len(curve.losses)
    report()  # the total, and the start of the step clock
    try:
        while step < num and stop is None:
            pass_data = batches.state_dict() if hasattr(batches, "state_dict") else None
            # a resumed pass draws its batches again from the pass's start and skips those already done
            for x, y in itertools.islice(batches, step % per_epoch, None):
                if should_stop is not None and should_stop():
                    stop = "cancelled"
                    break
                if should_pause is not None and should_pause():
                    stop = (flush() if pending else None) or "paused"
                    if stop == "paused" and checkpoint_path is not None:
                        state = _pause_state(step, model, optimizer, scaler, pass_data, curve)
                        save_checkpoint(checkpoint_path, state)
                    break
                for group in optimizer.param_groups:
                    group["lr"] = lrs[step]
                x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
                out, loss = optimize_step(model, x, y, optimizer, loss_fn, device=dev, amp=amp, scaler=scaler)
                pending.append((loss.detach(), (out.detach().argmax(1) == y).float().mean()))
                step += 1
                if read_back.due(len(pending)) or step >= num:
                    stop = flush()
                if stop is not None or step >= num:
                    break
        stop = (flush() if pending else None) or stop
    finally:
        if snapshot is not None:
            _restore(snapshot, model, optimizer, scaler, batches)
    return _suggest(curve, spec, stop or "completed")
