"""Records emitted while running and the results returned at the end."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

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

    epoch: int
    step: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    lr: float


@dataclass(frozen=True, slots=True)
class Progress:
    """How many of the planned optimizer steps are done."""

    step: int
    total_steps: int
    epoch: int


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A suggested learning rate with the index it was read at, or None with the reason why not."""

    lr: float | None
    index: int | None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class DataInfo:
    """Which split validated a run and how many samples it trained and validated on."""

    validation: Validation
    train_samples: int
    val_samples: int


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

    def to_summary(self) -> dict[str, Any]:
        """Return a JSON-able summary without the series."""
        best = min(range(len(self.smoothed_losses)), key=self.smoothed_losses.__getitem__, default=None)
        return {
            "stop_reason": self.stop_reason,
            "num_points": len(self.lrs),
            "suggestions": {name: asdict(s) for name, s in self.suggestions.items()},
            "suggested_max_lr": self.suggested_max_lr,
            "suggested_base_lr": self.suggested_base_lr,
            "min_loss": None if best is None else _finite_or_none(self.smoothed_losses[best]),
            "lr_at_min_loss": None if best is None else self.lrs[best],
            "start_lr": self.lrs[0] if self.lrs else None,
            "last_lr": self.lrs[-1] if self.lrs else None,
            "warnings": self.warnings(),
            "data": None if self.data is None else asdict(self.data),
        }

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


@dataclass(frozen=True)
class TrainResult:
    """How training ended and the last epoch's metrics."""

    epochs_completed: int
    steps: int
    stop_reason: TrainStopReason
    final: EpochRecord | None
    best_val_accuracy: float | None
    data: DataInfo | None = None

    def to_summary(self) -> dict[str, Any]:
        """Return a JSON-able summary."""
        return {
            "epochs_completed": self.epochs_completed,
            "steps": self.steps,
            "stop_reason": self.stop_reason,
            "final": None if self.final is None else asdict(self.final),
            "best_val_accuracy": self.best_val_accuracy,
            "data": None if self.data is None else asdict(self.data),
        }
