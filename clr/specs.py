"""Typed, validated configuration values that the service builds with `Spec(**fields)`."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

ModelName = Literal["vanilla_cnn", "resnet18", "resnet34"]
Trainable = Literal["all", "last_block", "head"]
DatasetName = Literal["digits", "shapes", "cifar10", "mnist", "fashion_mnist", "imagefolder"]
OptimizerName = Literal["sgd", "sgd_momentum", "adagrad", "rmsprop", "adam", "adamw"]
Policy = Literal["triangular", "triangular2", "exp_range", "one_cycle", "cosine_restarts", "constant"]
BoundDecay = Literal["none", "linear", "exponential"]
StepMode = Literal["exp", "linear"]
SuggestionRule = Literal["minimum", "steepest", "valley"]
Amp = Literal["none", "bf16", "fp16"]
Validation = Literal["test", "holdout"]

CYCLIC_POLICIES = ("triangular", "triangular2", "exp_range", "cosine_restarts")
TEST_SPLIT_SETS = ("cifar10", "mnist", "fashion_mnist")
"""Sets that ship an official test split: by default they validate on it."""


def check_choice(name: str, value: object, allowed: Collection[object]) -> None:
    """Raise ValueError unless value is one of allowed."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(map(str, allowed))}, got {value!r}")


def check_range(
    name: str, value: float, *, low: float | None = None, high: float | None = None, open_low: bool = False
) -> None:
    """Raise ValueError unless value is a finite number in [low, high] (or (low, high] with open_low)."""
    bad_low = low is not None and (value <= low if open_low else value < low)
    bad_high = high is not None and value > high
    if isinstance(value, bool) or not math.isfinite(value) or bad_low or bad_high:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        bracket = "(" if open_low or low is None else "["
        raise ValueError(f"{name} must be a finite number in {bracket}{lo}, {hi}], got {value!r}")


def check_int(name: str, value: int, *, low: int, high: int | None = None) -> None:
    """Raise ValueError unless value is an int in [low, high]."""
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if not is_int or value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be an integer {allowed}, got {value!r}")


@dataclass(frozen=True)
class ModelSpec:
    """Which network to build and which of its parameters train."""

    name: ModelName
    pretrained: bool = False
    trainable: Trainable = "all"
    dropout: float = 0.5
    width: int = 32

    def __post_init__(self) -> None:
        check_choice("name", self.name, ("vanilla_cnn", "resnet18", "resnet34"))
        check_choice("trainable", self.trainable, ("all", "last_block", "head"))
        check_range("dropout", self.dropout, low=0.0, high=0.95)
        check_int("width", self.width, low=1, high=1024)
        if self.pretrained and self.name == "vanilla_cnn":
            raise ValueError("pretrained must be False for name='vanilla_cnn', got True")
        if self.trainable != "all" and self.name == "vanilla_cnn":
            raise ValueError(f"trainable must be 'all' for name='vanilla_cnn', got {self.trainable!r}")


@dataclass(frozen=True)
class DatasetSpec:
    """Which images to learn from and how to split and augment them.

    validation None means the official test split for TEST_SPLIT_SETS and a held-out val_fraction of the
    training images for every other set; val_fraction only applies to "holdout". train_samples trains on a
    seeded random subset of that many training images (all of them by default).
    """

    name: DatasetName
    path: str | None = None
    validation: Validation | None = None
    val_fraction: float = 0.2
    train_samples: int | None = None
    augment: bool = True
    resize: int | None = None
    num_samples: int = 2000
    image_size: int = 32
    download: bool = False

    def __post_init__(self) -> None:
        check_choice(
            "name", self.name, ("digits", "shapes", "cifar10", "mnist", "fashion_mnist", "imagefolder")
        )
        if self.validation is not None:
            check_choice("validation", self.validation, ("test", "holdout"))
        if self.validation == "test" and self.name not in TEST_SPLIT_SETS:
            raise ValueError(
                f"validation='test' needs a set with a test split {list(TEST_SPLIT_SETS)}, got {self.name!r}"
            )
        check_range("val_fraction", self.val_fraction, low=0.0, high=0.9, open_low=True)
        if self.train_samples is not None:
            check_int("train_samples", self.train_samples, low=2)
        if self.resize is not None:
            check_int("resize", self.resize, low=8, high=1024)
        check_int("num_samples", self.num_samples, low=20, high=1_000_000)
        check_int("image_size", self.image_size, low=8, high=512)
        if self.name == "imagefolder" and not self.path:
            raise ValueError(f"path is required for name='imagefolder', got {self.path!r}")

    @property
    def validation_split(self) -> Validation:
        """The split that validates a run: the one asked for, else the set's own test split if it has one."""
        if self.validation is not None:
            return self.validation
        return "test" if self.name in TEST_SPLIT_SETS else "holdout"


@dataclass(frozen=True)
class OptimizerSpec:
    """Which optimizer to build and its hyper-parameters."""

    name: OptimizerName
    lr: float = 0.01
    momentum: float | None = None
    nesterov: bool = False
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float | None = None
    alpha: float = 0.99

    def __post_init__(self) -> None:
        check_choice("name", self.name, ("sgd", "sgd_momentum", "adagrad", "rmsprop", "adam", "adamw"))
        check_range("lr", self.lr, low=0.0, open_low=True)
        if self.momentum is not None:
            check_range("momentum", self.momentum, low=0.0, high=1.0)
        check_range("weight_decay", self.weight_decay, low=0.0)
        object.__setattr__(self, "betas", tuple(self.betas))
        if len(self.betas) != 2:
            raise ValueError(f"betas must hold two numbers in [0, 1), got {self.betas!r}")
        for i, beta in enumerate(self.betas):
            check_range(f"betas[{i}]", beta, low=0.0, high=0.999999)
        if self.eps is not None:
            check_range("eps", self.eps, low=0.0, open_low=True)
        check_range("alpha", self.alpha, low=0.0, high=1.0)
        if self.nesterov and self.name not in ("sgd", "sgd_momentum"):
            raise ValueError(f"nesterov is only allowed for sgd/sgd_momentum, got name={self.name!r}")


@dataclass(frozen=True)
class ScheduleSpec:
    """A learning-rate policy; pass `resolved(...)` of it to `CyclicScheduler`.

    bound_decay_rate is the fraction of the amplitude (max_lr - base_lr) left at total_steps, for both
    "linear" (straight line to it) and "exponential" (geometric decay to it). one_cycle maps to torch's
    OneCycleLR(max_lr, total_steps, pct_start, anneal_strategy, div_factor=max_lr/base_lr,
    final_div_factor, three_phase=False).
    """

    policy: Policy
    base_lr: float
    max_lr: float
    step_size: int | None = None
    step_size_epochs: float | None = None
    gamma: float = 1.0
    bound_decay: BoundDecay = "none"
    bound_decay_rate: float = 0.1
    cycle_momentum: bool = False
    base_momentum: float = 0.85
    max_momentum: float = 0.95
    total_steps: int | None = None
    pct_start: float = 0.3
    anneal_strategy: Literal["cos", "linear"] = "cos"
    final_div_factor: float = 1e4

    def __post_init__(self) -> None:
        check_choice(
            "policy",
            self.policy,
            ("triangular", "triangular2", "exp_range", "one_cycle", "cosine_restarts", "constant"),
        )
        check_range("base_lr", self.base_lr, low=0.0, open_low=True)
        check_range("max_lr", self.max_lr, low=self.base_lr)
        if self.policy in CYCLIC_POLICIES and (self.step_size is None) == (self.step_size_epochs is None):
            raise ValueError(
                f"exactly one of step_size and step_size_epochs is required for policy={self.policy!r}, "
                f"got step_size={self.step_size!r}, step_size_epochs={self.step_size_epochs!r}"
            )
        if self.step_size is not None:
            check_int("step_size", self.step_size, low=1)
        if self.step_size_epochs is not None:
            check_range("step_size_epochs", self.step_size_epochs, low=0.0, open_low=True)
        check_range("gamma", self.gamma, low=0.0, high=1.0, open_low=True)
        check_choice("bound_decay", self.bound_decay, ("none", "linear", "exponential"))
        check_range("bound_decay_rate", self.bound_decay_rate, low=0.0, high=1.0, open_low=True)
        check_range("base_momentum", self.base_momentum, low=0.0, high=1.0)
        check_range("max_momentum", self.max_momentum, low=self.base_momentum, high=1.0)
        if self.total_steps is not None:
            check_int("total_steps", self.total_steps, low=1)
        check_range("pct_start", self.pct_start, low=0.0, high=1.0, open_low=True)
        check_choice("anneal_strategy", self.anneal_strategy, ("cos", "linear"))
        check_range("final_div_factor", self.final_div_factor, low=1.0)

    def resolved(self, *, batches_per_epoch: int, total_steps: int) -> ScheduleSpec:
        """Return a copy with step_size in batches and total_steps filled in."""
        check_int("batches_per_epoch", batches_per_epoch, low=1)
        check_int("total_steps", total_steps, low=1)
        step_size = self.step_size
        if self.step_size_epochs is not None:
            step_size = max(1, round(self.step_size_epochs * batches_per_epoch))
        return dataclasses.replace(self, step_size=step_size, step_size_epochs=None, total_steps=total_steps)


@dataclass(frozen=True)
class RangeTestSpec:
    """How to sweep the learning rate and read a suggestion off the loss curve.

    With past_end_lr the sweep goes on beyond end_lr at the same rate per step (the same factor for "exp",
    the same increment for "linear") until the smoothed loss diverges, the rate would pass lr_cap, or the
    sweep is twice its planned length; so a loss still falling at end_lr still gets a real minimum.
    """

    start_lr: float = 1e-7
    end_lr: float = 0.1
    past_end_lr: bool = False
    lr_cap: float = 10.0
    num_iter: int | None = None
    epochs: float = 2.0
    step_mode: StepMode = "exp"
    smoothing: float = 0.98
    diverge_threshold: float = 4.0
    base_lr_factor: float = 6.0
    suggestion: SuggestionRule = "minimum"

    def __post_init__(self) -> None:
        check_range("start_lr", self.start_lr, low=0.0, open_low=True)
        if not self.end_lr > self.start_lr:
            raise ValueError(f"end_lr must be greater than start_lr={self.start_lr!r}, got {self.end_lr!r}")
        check_range("end_lr", self.end_lr, low=0.0, open_low=True)
        check_range("lr_cap", self.lr_cap, low=0.0, open_low=True)
        if self.past_end_lr and not self.lr_cap > self.end_lr:
            raise ValueError(f"lr_cap must be greater than end_lr={self.end_lr!r}, got {self.lr_cap!r}")
        if self.num_iter is not None:
            check_int("num_iter", self.num_iter, low=2)
        check_range("epochs", self.epochs, low=0.0, open_low=True)
        check_choice("step_mode", self.step_mode, ("exp", "linear"))
        check_range("smoothing", self.smoothing, low=0.0, high=0.999)
        check_range("diverge_threshold", self.diverge_threshold, low=1.0, open_low=True)
        check_range("base_lr_factor", self.base_lr_factor, low=1.0)
        check_choice("suggestion", self.suggestion, ("minimum", "steepest", "valley"))


@dataclass(frozen=True)
class TrainSpec:
    """How long to train and with which numeric tricks."""

    epochs: int
    amp: Amp = "none"
    channels_last: bool = False
    chunk_size: int = 256

    def __post_init__(self) -> None:
        check_int("epochs", self.epochs, low=1)
        check_choice("amp", self.amp, ("none", "bf16", "fp16"))
        check_int("chunk_size", self.chunk_size, low=1)
