"""Learning-rate range tests and cyclical learning-rate training in plain PyTorch."""

from clr.batches import Augment, InMemoryBatches, Normalize
from clr.checkpoint import TrainingState, load_checkpoint, save_checkpoint
from clr.data import DataSplits, load_dataset
from clr.device import resolve_device, seed_everything
from clr.jobs import find_lr, fit
from clr.models import WeightsNotFoundError, build_model, weights_file
from clr.optimizers import build_optimizer
from clr.range_test import planned_lrs, range_test, sweep_lrs
from clr.records import (
    BatchChunk,
    DataInfo,
    EpochRecord,
    Progress,
    RangeChunk,
    RangeTestResult,
    Suggestion,
    TrainResult,
)
from clr.schedules import CyclicScheduler, lr_at, momentum_at
from clr.shapes import generate_shapes
from clr.sources import DatasetNotFoundError
from clr.specs import (
    CYCLIC_POLICIES,
    DatasetSpec,
    ModelSpec,
    OptimizerSpec,
    RangeTestSpec,
    ScheduleSpec,
    TrainSpec,
)
from clr.suggest import SUGGESTION_RULES, suggest_minimum, suggest_steepest, suggest_valley
from clr.training import train

__all__ = [
    "CYCLIC_POLICIES",
    "SUGGESTION_RULES",
    "Augment",
    "BatchChunk",
    "CyclicScheduler",
    "DataInfo",
    "DataSplits",
    "DatasetNotFoundError",
    "DatasetSpec",
    "EpochRecord",
    "InMemoryBatches",
    "ModelSpec",
    "Normalize",
    "OptimizerSpec",
    "Progress",
    "RangeChunk",
    "RangeTestResult",
    "RangeTestSpec",
    "ScheduleSpec",
    "Suggestion",
    "TrainResult",
    "TrainSpec",
    "TrainingState",
    "WeightsNotFoundError",
    "build_model",
    "build_optimizer",
    "find_lr",
    "fit",
    "generate_shapes",
    "load_checkpoint",
    "load_dataset",
    "lr_at",
    "momentum_at",
    "planned_lrs",
    "range_test",
    "resolve_device",
    "save_checkpoint",
    "seed_everything",
    "suggest_minimum",
    "suggest_steepest",
    "suggest_valley",
    "sweep_lrs",
    "train",
    "weights_file",
]
