"""Learning-rate range tests and cyclical learning-rate training in plain PyTorch.

Names load on first use, so importing the specs (as the API does to validate requests) does not load torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what __getattr__ loads, re-exported for type checkers
    from clr.batches import Augment as Augment
    from clr.batches import InMemoryBatches as InMemoryBatches
    from clr.batches import Normalize as Normalize
    from clr.checkpoint import RangeTestState as RangeTestState
    from clr.checkpoint import TrainingState as TrainingState
    from clr.checkpoint import load_checkpoint as load_checkpoint
    from clr.checkpoint import load_range_checkpoint as load_range_checkpoint
    from clr.checkpoint import save_checkpoint as save_checkpoint
    from clr.data import DataSplits as DataSplits
    from clr.data import load_dataset as load_dataset
    from clr.datasets import DatasetFacts as DatasetFacts
    from clr.datasets import DatasetNotFoundError as DatasetNotFoundError
    from clr.datasets import DatasetPlugin as DatasetPlugin
    from clr.datasets import DataSource as DataSource
    from clr.datasets import Images as Images
    from clr.datasets import InvalidDataError as InvalidDataError
    from clr.datasets import Loaded as Loaded
    from clr.datasets import Streamed as Streamed
    from clr.datasets import dataset_plugins as dataset_plugins
    from clr.device import resolve_device as resolve_device
    from clr.device import seed_everything as seed_everything
    from clr.fields import SpecError as SpecError
    from clr.fields import param as param
    from clr.jobs import find_lr as find_lr
    from clr.jobs import fit as fit
    from clr.lr_range_test import planned_lrs as planned_lrs
    from clr.lr_range_test import range_test as range_test
    from clr.lr_range_test import sweep_lrs as sweep_lrs
    from clr.models import WeightsNotFoundError as WeightsNotFoundError
    from clr.models import build_model as build_model
    from clr.models import weights_file as weights_file
    from clr.optimizers import build_optimizer as build_optimizer
    from clr.plugins import ModelInput as ModelInput
    from clr.plugins import ModelPlugin as ModelPlugin
    from clr.plugins import PluginError as PluginError
    from clr.plugins import PluginNotFoundError as PluginNotFoundError
    from clr.plugins import model_plugins as model_plugins
    from clr.records import BatchChunk as BatchChunk
    from clr.records import DataInfo as DataInfo
    from clr.records import EpochRecord as EpochRecord
    from clr.records import Progress as Progress
    from clr.records import RangeChunk as RangeChunk
    from clr.records import RangeTestResult as RangeTestResult
    from clr.records import Suggestion as Suggestion
    from clr.records import TrainResult as TrainResult
    from clr.schedules import CyclicScheduler as CyclicScheduler
    from clr.schedules import lr_at as lr_at
    from clr.schedules import momentum_at as momentum_at
    from clr.shapes import generate_shapes as generate_shapes
    from clr.specs import CYCLIC_POLICIES as CYCLIC_POLICIES
    from clr.specs import DatasetSpec as DatasetSpec
    from clr.specs import JobSpec as JobSpec
    from clr.specs import ModelSpec as ModelSpec
    from clr.specs import OptimizerSpec as OptimizerSpec
    from clr.specs import RangeTestJob as RangeTestJob
    from clr.specs import RangeTestSpec as RangeTestSpec
    from clr.specs import ScheduleSpec as ScheduleSpec
    from clr.specs import TrainJob as TrainJob
    from clr.specs import TrainSpec as TrainSpec
    from clr.suggest import SUGGESTION_RULES as SUGGESTION_RULES
    from clr.suggest import suggest_minimum as suggest_minimum
    from clr.suggest import suggest_steepest as suggest_steepest
    from clr.suggest import suggest_valley as suggest_valley
    from clr.training import train as train

_MODULES = {
    "clr.batches": ("Augment", "InMemoryBatches", "Normalize"),
    "clr.checkpoint": (
        "RangeTestState",
        "TrainingState",
        "load_checkpoint",
        "load_range_checkpoint",
        "save_checkpoint",
    ),
    "clr.data": ("DataSplits", "load_dataset"),
    "clr.datasets": (
        "DataSource",
        "DatasetFacts",
        "DatasetNotFoundError",
        "DatasetPlugin",
        "Images",
        "InvalidDataError",
        "Loaded",
        "Streamed",
        "dataset_plugins",
    ),
    "clr.device": ("resolve_device", "seed_everything"),
    "clr.fields": ("SpecError", "param"),
    "clr.jobs": ("find_lr", "fit"),
    "clr.models": ("WeightsNotFoundError", "build_model", "weights_file"),
    "clr.optimizers": ("build_optimizer",),
    "clr.plugins": ("ModelInput", "ModelPlugin", "PluginError", "PluginNotFoundError", "model_plugins"),
    "clr.lr_range_test": ("planned_lrs", "range_test", "sweep_lrs"),
    "clr.records": (
        "BatchChunk",
        "DataInfo",
        "EpochRecord",
        "Progress",
        "RangeChunk",
        "RangeTestResult",
        "Suggestion",
        "TrainResult",
    ),
    "clr.schedules": ("CyclicScheduler", "lr_at", "momentum_at"),
    "clr.shapes": ("generate_shapes",),
    "clr.specs": (
        "CYCLIC_POLICIES",
        "DatasetSpec",
        "JobSpec",
        "ModelSpec",
        "OptimizerSpec",
        "RangeTestJob",
        "RangeTestSpec",
        "ScheduleSpec",
        "TrainJob",
        "TrainSpec",
    ),
    "clr.suggest": ("SUGGESTION_RULES", "suggest_minimum", "suggest_steepest", "suggest_valley"),
    "clr.training": ("train",),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'clr' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
