"""Records emitted while running and the results returned at the end."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from clr.fields import param
from clr.specs import Validation

RangeStopReason = Literal["completed", "diverged", "non_finite_loss", "cancelled", "paused"]
TrainStopReason = Literal["completed", "diverged", "cancelled", "paused"]


@dataclass(frozen=True, slots=True)
class RangeChunk:
    """Consecutive range-test points, column by column; `lr` is the rate the step used."""

    step: tuple[int, ...]
    lr: tuple[float, ...]
    loss: tuple[float, ...]
    smoothed_loss: tuple[float, ...]
    accuracy: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class BatchChunk:
    """Consecutive training batches, column by column; `lr` is the rate the batch's step used."""

    step: tuple[int, ...]
    epoch: tuple[int, ...]
    lr: tuple[float, ...]
    loss: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class EpochRecord:
    """Metrics at the end of one epoch (epochs count from 0; `step` is the global step count then)."""

    epoch: int = param(doc="The epoch, counted from 0")
    step: int = param(doc="Optimizer steps taken by the epoch's end")
    train_loss: float = param(doc="Mean training loss over the epoch's batches")
    train_accuracy: float = param(doc="Training accuracy over the epoch's batches, 0 to 1")
    val_loss: float = param(doc="Loss on the validation split")
    val_accuracy: float = param(doc="Accuracy on the validation split, 0 to 1")
    lr: float = param(doc="The learning rate of the epoch's last step")


@dataclass(frozen=True, slots=True)
class Progress:
    """How many of the planned optimizer steps are done."""

    step: int
    total_steps: int
    epoch: int


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A suggested learning rate with the index it was read at, or None with the reason why not."""

    lr: float | None = param(doc="The rate this rule reads off the curve; null when it found none")
    index: int | None = param(doc="Index of that point in the sweep")
    reason: str | None = param(None, doc="Why the rule found no rate")


@dataclass(frozen=True, slots=True)
class DataInfo:
    """Which split validated a run and how many samples it trained and validated on."""

    validation: Validation = param(doc="test: the set's official test split; holdout: held out of training")
    train_samples: int = param(doc="Images trained on")
    val_samples: int = param(doc="Images validated on")


@dataclass(frozen=True, slots=True)
class RangeTestSummary:
    """What a range test found, without its series: the run's `result`."""

    stop_reason: RangeStopReason = param(
        doc="completed: the whole sweep ran; diverged: the smoothed loss passed diverge_threshold times its "
        "minimum; non_finite_loss: a loss was NaN or infinite; cancelled"
    )
    num_points: int = param(doc="Points in the sweep, one per step")
    suggestions: dict[str, Suggestion] = param(doc="Each rule's rate, by rule (minimum, steepest, valley)")
    suggested_max_lr: float | None = param(
        doc="The max LR to train with: the LR at the loss minimum / 10; null when the loss never fell clearly"
    )
    suggested_base_lr: float | None = param(doc="The base LR: suggested_max_lr / base_lr_factor")
    min_loss: float | None = param(doc="The lowest smoothed loss (null if not finite)")
    lr_at_min_loss: float | None = param(doc="The LR at the lowest smoothed loss")
    start_lr: float | None = param(doc="The sweep's first LR")
    last_lr: float | None = param(doc="The sweep's last LR (below end_lr when it stopped early)")
    warnings: tuple[str, ...] = param(doc="Why the suggestions may be unreliable, and what to change")
    data: DataInfo | None = param(doc="The validation split and the images trained and validated on")


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class RangeTestResult:
    """The learning-rate sweep, why it stopped and the rates read off it."""

    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    smoothed_losses: tuple[float, ...]
    accuracies: tuple[float, ...]
    stop_reason: RangeStopReason
    suggestions: dict[str, Suggestion] = field(default_factory=dict)
    suggested_max_lr: float | None = None
    suggested_base_lr: float | None = None
    data: DataInfo | None = None

    def to_summary(self) -> RangeTestSummary:
        """The outcome without the series."""
        best = min(range(len(self.smoothed_losses)), key=self.smoothed_losses.__getitem__, default=None)
        return RangeTestSummary(
            stop_reason=self.stop_reason,
            num_points=len(self.lrs),
            suggestions=dict(self.suggestions),
            suggested_max_lr=self.suggested_max_lr,
            suggested_base_lr=self.suggested_base_lr,
            min_loss=None if best is None else _finite_or_none(self.smoothed_losses[best]),
            lr_at_min_loss=None if best is None else self.lrs[best],
            start_lr=self.lrs[0] if self.lrs else None,
            last_lr=self.lrs[-1] if self.lrs else None,
            warnings=tuple(self.warnings()),
            data=self.data,
        )

    def warnings(self) -> list[str]:
        """Why the suggestions may be unreliable, in words a caller can act on."""
        notes: list[str] = []
        n = len(self.smoothed_losses)
        if n and self.stop_reason == "completed":
            best = min(range(n), key=self.smoothed_losses.__getitem__)
            if best >= n - max(2, n // 20):
                notes.append(
                    "the loss was still falling at the end of the sweep: raise end_lr (or epochs) so the "
                    "curve turns up and the minimum rule has a real minimum"
                )
        lrs = [s.lr for s in self.suggestions.values() if s.lr is not None]
        if len(lrs) >= 2 and max(lrs) / min(lrs) > 100:
            notes.append(
                f"the rules disagree by {max(lrs) / min(lrs):.0f}x: the curve is noisy; use more iterations, "
                "a larger batch or stronger smoothing"
            )
        notes += [f"{name}: {s.reason}" for name, s in self.suggestions.items() if s.lr is None and s.reason]
        return notes


@dataclass(frozen=True, slots=True)
class TrainSummary:
    """How a training run ended: the run's `result`."""

    epochs_completed: int = param(doc="Epochs trained to their end")
    steps: int = param(doc="Optimizer steps taken")
    stop_reason: TrainStopReason = param(
        doc="completed: every epoch ran; diverged: the loss became NaN or infinite; cancelled"
    )
    final: EpochRecord | None = param(doc="The last epoch's metrics; null before the first epoch ended")
    best_val_accuracy: float | None = param(doc="The best validation accuracy of any epoch")
    data: DataInfo | None = param(doc="The validation split and the images trained and validated on")


@dataclass(frozen=True)
class TrainResult:
    """How training ended and the last epoch's metrics."""

    epochs_completed: int
    steps: int
    stop_reason: TrainStopReason
    final: EpochRecord | None
    best_val_accuracy: float | None
    data: DataInfo | None = None

    def to_summary(self) -> TrainSummary:
        """How it ended, without the epochs before the last."""
        return TrainSummary(
            epochs_completed=self.epochs_completed,
            steps=self.steps,
            stop_reason=self.stop_reason,
            final=self.final,
            best_val_accuracy=self.best_val_accuracy,
            data=self.data,
        )
