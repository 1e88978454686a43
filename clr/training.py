"""The training loop: a scheduler step per batch, columnar records, epoch and pause checkpoints."""

from __future__ import annotations

import contextlib
import itertools
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler

from clr.checkpoint import TrainingState, save_checkpoint
from clr.data import Batches, DataSplits
from clr.device import autocast, capture_rng, make_scaler, resolve_device, restore_rng
from clr.records import BatchChunk, EpochRecord, Progress, TrainResult, TrainStopReason
from clr.specs import Amp, TrainSpec
from clr.step import READ_BACK_SECONDS, LossFn, ReadBack, optimize_step


@dataclass
class _Pending:
    """Batches whose losses still live on the device."""

    steps: list[int] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)
    losses: list[torch.Tensor] = field(default_factory=list)

    def flush(self, on_batches: Callable[[BatchChunk], None] | None) -> bool:
        """Read the losses back at once, deliver them up to the first non-finite one; True if one was."""
        if not self.losses:
            return False
        values = torch.stack(self.losses).float()
        bad = (~torch.isfinite(values)).nonzero()
        keep = len(self.losses) if len(bad) == 0 else int(bad[0].item()) + 1
        if on_batches is not None:
            chunk = (self.steps, self.epochs, self.lrs, values.tolist())
            on_batches(BatchChunk(*(tuple(column[:keep]) for column in chunk)))
        self.steps, self.epochs, self.lrs, self.losses = [], [], [], []
        return len(bad) > 0


@contextlib.contextmanager
def _skipped_step_ok(scaled: bool) -> Iterator[None]:
    """Silence torch's step-order warning when GradScaler legitimately skipped an optimizer step."""
    if not scaled:
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)` before")
        yield


def _evaluate(
    model: nn.Module, batches: Batches, loss_fn: LossFn, device: torch.device, amp: Amp, channels_last: bool
) -> tuple[float, float]:
    """Mean loss and accuracy over batches (loss_fn must return the batch mean)."""
    model.eval()
    total = torch.zeros(2, device=device, dtype=torch.float64)
    count = 0
    with torch.no_grad():
        for x, y in batches:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device, amp):
                out = model(x)
            total += torch.stack([loss_fn(out.float(), y) * len(y), (out.argmax(1) == y).sum()])
            count += len(y)
    loss, correct = total.tolist()
    return loss / max(count, 1), correct / max(count, 1)


def _resume(
    state: TrainingState,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: LRScheduler | None,
    scaler: torch.amp.GradScaler | None,
    data: DataSplits,
) -> None:
    model.load_state_dict(state.model)
    optimizer.load_state_dict(state.optimizer)
    if scheduler is not None and state.scheduler is not None:
        scheduler.load_state_dict(state.scheduler)
    if scaler is not None and state.scaler is not None:
        scaler.load_state_dict(state.scaler)
    if state.data is not None and hasattr(data.train, "load_state_dict"):
        data.train.load_state_dict(state.data)
    restore_rng(state.rng)


def _data_state(data: DataSplits) -> dict[str, Any] | None:
    return data.train.state_dict() if hasattr(data.train, "state_dict") else None


def _state(
    epoch: int,
    step: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: LRScheduler | None,
    scaler: torch.amp.GradScaler | None,
    data: dict[str, Any] | None,
    best: float | None,
    batch: int = 0,
    partial: dict[str, float] | None = None,
) -> TrainingState:
    """A checkpoint of training now: `epoch` epochs and `batch` batches of the next done."""
    return TrainingState(
        epoch=epoch,
        step=step,
        model=model.state_dict(),
        optimizer=optimizer.state_dict(),
        scheduler=None if scheduler is None else scheduler.state_dict(),
        scaler=None if scaler is None else scaler.state_dict(),
        rng=capture_rng(),
        data=data,
        best_val_accuracy=best,
        batch=batch,
        partial=partial,
    )


def train(
    model: nn.Module,
    data: DataSplits,
    optimizer: torch.optim.Optimizer,
    scheduler: LRScheduler | None,
    loss_fn: LossFn,
    spec: TrainSpec,
    *,
    device: str | torch.device | None = None,
    on_batches: Callable[[BatchChunk], None] | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    should_pause: Callable[[], bool] | None = None,
    checkpoint_path: Path | None = None,
    resume: TrainingState | None = None,
    scaler: torch.amp.GradScaler | None = None,
    chunk_size: int = 256,
    progress_seconds: float = READ_BACK_SECONDS,
) -> TrainResult:
    """Train for spec.epochs (epochs count from 0), stepping the scheduler after every batch.

    Losses are read back every `chunk_size` batches or `progress_seconds`, whichever comes first, and at each
    epoch's end; `on_progress` follows each read, the start, and each epoch's evaluation.
    `should_stop` ends training before the next batch ("cancelled"); `should_pause` too, after writing a
    checkpoint at that batch ("paused"), from which `resume` continues exactly as if never interrupted.
    """
    dev = resolve_device(device, model)
    model.to(dev)
    if spec.channels_last:
        model.to(memory_format=torch.channels_last)
    scaler = scaler if scaler is not None else make_scaler(dev, spec.amp)
    per_epoch = len(data.train)
    total_steps = spec.epochs * per_epoch
    start_epoch, step, best, skip, partial = 0, 0, None, 0, None
    if resume is not None:
        _resume(resume, model, optimizer, scheduler, scaler, data)
        start_epoch, step, best = resume.epoch, resume.step, resume.best_val_accuracy
        skip, partial = resume.batch, resume.partial
    pending, read_back = _Pending(), ReadBack(chunk_size, progress_seconds)
    final: EpochRecord | None = None
    stop: TrainStopReason = "completed"
    completed = start_epoch
    if on_progress is not None:
        on_progress(Progress(step, total_steps, start_epoch))  # the total, and the start of the step clock
    for epoch in range(start_epoch, spec.epochs):
        model.train()
        epoch_data = _data_state(data)  # this epoch's batch order, for a checkpoint taken inside it
        # sums stay on the device: an .item() per batch would sync the GPU every step
        loss_sum = torch.tensor((partial or {}).get("loss_sum", 0.0), device=dev, dtype=torch.float64)
        correct = torch.tensor(int((partial or {}).get("correct", 0)), device=dev, dtype=torch.int64)
        seen, batch = int((partial or {}).get("seen", 0)), skip
        # a resumed epoch draws its batches again from the epoch's start and skips those already trained
        for x, y in itertools.islice(data.train, skip, None):
            if should_stop is not None and should_stop():
                stop = "cancelled"
                break
            if should_pause is not None and should_pause():
                stop = "paused"
                break
            x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
            if spec.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            lr = float(optimizer.param_groups[0]["lr"])
            out, loss = optimize_step(
                model, x, y, optimizer, loss_fn, device=dev, amp=spec.amp, scaler=scaler
            )
            if scheduler is not None:
                with _skipped_step_ok(scaler is not None):
                    scheduler.step()
            batch_loss = loss.detach()
            loss_sum += batch_loss * len(y)
            correct += (out.detach().argmax(1) == y).sum()
            seen += len(y)
            pending.steps.append(step)
            pending.epochs.append(epoch)
            pending.lrs.append(lr)
            pending.losses.append(batch_loss)
            step += 1
            batch += 1
            if read_back.due(len(pending.losses)):
                diverged = pending.flush(on_batches)
                read_back.done()
                if diverged:
                    stop = "diverged"
                    break
                if on_progress is not None:
                    on_progress(Progress(step, total_steps, epoch))
        skip, partial = 0, None
        if pending.flush(on_batches) and stop in ("completed", "paused"):
            stop = "diverged"
        read_back.done()
        if on_progress is not None:
            on_progress(Progress(step, total_steps, epoch))  # the epoch's last steps, before its evaluation
        if stop == "paused" and checkpoint_path is not None:
            sums = {"loss_sum": float(loss_sum.item()), "correct": float(correct.item()), "seen": float(seen)}
            state = _state(epoch, step, model, optimizer, scheduler, scaler, epoch_data, best, batch, sums)
            save_checkpoint(checkpoint_path, state)
        if stop != "completed":
            break
        val_loss, val_accuracy = _evaluate(model, data.val, loss_fn, dev, spec.amp, spec.channels_last)
        train_loss, train_correct = torch.stack([loss_sum, correct.double()]).tolist()
        final = EpochRecord(
            epoch=epoch,
            step=step,
            train_loss=train_loss / max(seen, 1),
            train_accuracy=train_correct / max(seen, 1),
            val_loss=val_loss,
            val_accuracy=val_accuracy,
            lr=lr,
        )
        best = val_accuracy if best is None else max(best, val_accuracy)
        completed = epoch + 1
        if on_epoch is not None:
            on_epoch(final)
        if checkpoint_path is not None:
            state = _state(epoch + 1, step, model, optimizer, scheduler, scaler, _data_state(data), best)
            save_checkpoint(checkpoint_path, state)
        if on_progress is not None:  # no new steps: a meter's step clock restarts after the evaluation
            on_progress(Progress(step, total_steps, epoch))
    return TrainResult(completed, step, stop, final, best)
