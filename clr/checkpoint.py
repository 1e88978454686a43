"""Full training and range-test states, written atomically and read back with `weights_only=True`."""

from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

import torch


@dataclass(frozen=True)
class TrainingState:
    """Everything needed to continue training bit for bit: `epoch` epochs and `batch` batches more done.

    `data` is the training batches' state at the start of epoch `epoch`, so a resumed run draws that
    epoch's batches again in the same order and skips the `batch` already trained; `partial` holds that
    epoch's running loss and accuracy sums (None at an epoch boundary).
    """

    epoch: int
    step: int
    model: dict[str, Any]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any] | None
    scaler: dict[str, Any] | None
    rng: dict[str, Any]
    data: dict[str, Any] | None
    best_val_accuracy: float | None
    batch: int = 0
    partial: dict[str, float] | None = None


@dataclass(frozen=True)
class RangeTestState:
    """Everything needed to continue a range test at point `step`: weights, optimizer, RNGs, the curve so far.

    `data` is the batches' state at the start of the pass holding point `step` (a pass is a whole epoch).
    """

    step: int
    model: dict[str, Any]
    optimizer: dict[str, Any]
    scaler: dict[str, Any] | None
    rng: dict[str, Any]
    data: dict[str, Any] | None
    curve: dict[str, Any]


State = TypeVar("State", TrainingState, RangeTestState)


def save_checkpoint(path: Path, state: TrainingState | RangeTestState) -> None:
    """Write state to path via a temporary file and os.replace, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save({f.name: getattr(state, f.name) for f in fields(state)}, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_checkpoint(path: Path) -> TrainingState:
    """Read a training state written by save_checkpoint (tensors land on the CPU)."""
    return _load(path, TrainingState)


def load_range_checkpoint(path: Path) -> RangeTestState:
    """Read a range-test state written by save_checkpoint (tensors land on the CPU)."""
    return _load(path, RangeTestState)


def _load(path: Path, kind: type[State]) -> State:
    raw = torch.load(Path(path), map_location="cpu", weights_only=True)
    names = {f.name for f in fields(kind)}
    required = {f.name for f in fields(kind) if f.default is MISSING}
    if not isinstance(raw, dict) or not required <= set(raw) <= names:
        raise ValueError(f"path {path} does not hold a {kind.__name__} (expected keys {sorted(names)})")
    return kind(**raw)
