"""Typed, validated job configuration: the one definition notebooks, the API and the workers share.

Every field's meaning and bounds live in its metadata (`clr.fields.param`): `check_fields` enforces them here
and the service's request schemas read them, so what the API accepts is exactly what a worker can build.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from clr.datasets import Augmentation, dataset_plugin
from clr.fields import SpecError, check_fields, check_unused, param
from clr.plugins import model_plugin, parse_params

OptimizerName = Literal["sgd", "sgd_momentum", "adagrad", "rmsprop", "adam", "adamw"]
Policy = Literal["triangular", "triangular2", "exp_range", "one_cycle", "cosine_restarts", "constant"]
BoundDecay = Literal["none", "linear", "exponential"]
StepMode = Literal["exp", "linear"]
SuggestionRule = Literal["minimum", "steepest", "valley"]
Amp = Literal["none", "bf16", "fp16"]
Device = Literal["auto", "cpu", "cuda"]
Validation = Literal["test", "holdout"]

CYCLIC_POLICIES = ("triangular", "triangular2", "exp_range", "cosine_restarts")
# Which fields each optimizer and policy reads: the others must keep their defaults (discovery lists these).
OPTIMIZER_PARAMS: dict[str, tuple[str, ...]] = {
    "sgd": ("lr", "momentum", "nesterov", "weight_decay"),
    "sgd_momentum": ("lr", "momentum", "nesterov", "weight_decay"),
    "adagrad": ("lr", "weight_decay", "eps"),
    "rmsprop": ("lr", "momentum", "weight_decay", "eps", "alpha"),
    "adam": ("lr", "weight_decay", "betas", "eps"),
    "adamw": ("lr", "weight_decay", "betas", "eps"),
}
_BOUNDS = ("base_lr", "max_lr")
_MOMENTUM = ("cycle_momentum", "base_momentum", "max_momentum")
_CYCLE = (*_BOUNDS, "step_size_iter", "step_size_epochs", "bound_decay", "bound_decay_rate", "total_steps")
POLICY_PARAMS: dict[str, tuple[str, ...]] = {
    "triangular": (*_CYCLE, *_MOMENTUM),
    "triangular2": (*_CYCLE, *_MOMENTUM),
    "exp_range": (*_CYCLE, "gamma", *_MOMENTUM),
    "cosine_restarts": (*_CYCLE, *_MOMENTUM),
    "one_cycle": (*_BOUNDS, "total_steps", "pct_start", "anneal_strategy", "final_div_factor", *_MOMENTUM),
    "constant": _BOUNDS,
}
DEFAULT_STEP_SIZE_EPOCHS = 2.0  # the CLR paper: a half cycle of 2 to 10 epochs
MAX_LR = 100.0


@dataclass(frozen=True)
class ModelSpec:
    """Which network to build: a model plugin's name and its parameters (defaults filled in)."""

    name: str = param(doc="A model plugin's name (GET /models lists them)", examples=["vanilla_cnn"])
    params: Mapping[str, Any] = param(
        default_factory=dict, doc="The model's own parameters (GET /models lists each model's)"
    )

    def __post_init__(self) -> None:
        check_fields(self)
        plugin = model_plugin(self.name)
        object.__setattr__(self, "params", parse_params(plugin, self.params, where="params"))


@dataclass(frozen=True)
class DatasetSpec:
    """Which data to learn from (a dataset plugin and its parameters) and how to split and augment it."""

    name: str = param(doc="A dataset plugin's name (GET /datasets lists them)", examples=["fashion_mnist"])
    params: Mapping[str, Any] = param(
        default_factory=dict, doc="The dataset's own parameters (GET /datasets lists each dataset's)"
    )
    path: str | None = param(
        None,
        doc="Where the data is, relative to a data root (CLR_DATA_ROOTS) or absolute inside one; required, "
        "optional or not taken by each dataset (GET /datasets says which)",
        max_length=1000,
    )
    validation: Validation | None = param(
        None,
        doc="test: the set's official test split (where it has one); holdout: val_fraction of the training "
        "samples; default: test where the set has one, else holdout",
    )
    val_fraction: float = param(
        0.2, doc="Fraction of the training samples held out for validation (holdout)", gt=0.0, le=0.9
    )
    train_samples: int | None = param(
        None, doc="Train on a seeded random subset of this many training samples (default: all)", ge=2
    )
    augment: bool | Augmentation = param(
        True,
        doc="Training augmentation: crop_flip (random crops after padding 1/8 of the side, and flips), flip, "
        "none; true: the dataset's own default, false: none",
    )
    resize: int | None = param(None, doc="Side in pixels every image is resized to", ge=8, le=512)

    def __post_init__(self) -> None:
        check_fields(self)
        installed = dataset_plugin(self.name)
        object.__setattr__(self, "params", parse_params(installed, self.params, where="params"))
        plugin = installed.plugin
        if plugin.path == "required" and not self.path:
            raise SpecError("path", f"path is required for dataset {self.name!r}, got {self.path!r}")
        if self.path is not None and plugin.path == "none":
            raise SpecError("path", f"dataset {self.name!r} takes no path, got {self.path!r}")
        if self.validation == "test" and not plugin.test_split:
            raise SpecError(
                "validation", f"validation='test' needs a set with a test split, not {self.name!r}"
            )

    @property
    def validation_split(self) -> Validation:
        """The split that validates a run: the one asked for, else the set's own test split if it has one."""
        if self.validation is not None:
            return self.validation
        return "test" if dataset_plugin(self.name).plugin.test_split else "holdout"


@dataclass(frozen=True)
class OptimizerSpec:
    """Which optimizer to build and its hyper-parameters."""

    name: OptimizerName = param(doc="The optimizer (sgd_momentum: SGD with momentum 0.9 unless given)")
    lr: float = param(0.01, doc="Learning rate (a schedule overrides it every step)", gt=0.0, le=MAX_LR)
    momentum: float | None = param(
        None,
        doc="Momentum (sgd, sgd_momentum, rmsprop); default 0.9 for sgd_momentum, else 0",
        ge=0.0,
        lt=1.0,
    )
    nesterov: bool = param(False, doc="Nesterov momentum (sgd and sgd_momentum only)")
    weight_decay: float = param(0.0, doc="L2 penalty (decoupled for adamw)", ge=0.0, le=1.0)
    betas: tuple[float, float] = param(
        (0.9, 0.999), doc="adam, adamw: decay rates of the moment estimates, each in [0, 1)"
    )
    eps: float | None = param(
        None, doc="Term added for numerical stability; default per optimizer", gt=0.0, le=1.0
    )
    alpha: float = param(
        0.99, doc="rmsprop: smoothing constant of the squared-gradient average", gt=0.0, lt=1.0
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(self.betas))
        check_fields(self)
        if len(self.betas) != 2 or not all(
            isinstance(b, int | float) and not isinstance(b, bool) and 0.0 <= b < 1.0 for b in self.betas
        ):
            raise SpecError("betas", f"betas must hold two numbers in [0, 1), got {list(self.betas)!r}")
        check_unused(self, OptimizerSpec, OPTIMIZER_PARAMS[self.name], by=self.name, key="name")
        if self.nesterov and self.effective_momentum == 0:
            raise SpecError("nesterov", f"nesterov needs momentum > 0, got {self.effective_momentum!r}")

    @property
    def effective_momentum(self) -> float:
        """The momentum the optimizer gets: the given one, else 0.9 for sgd_momentum and 0 otherwise."""
        if self.momentum is not None:
            return self.momentum
        return 0.9 if self.name == "sgd_momentum" else 0.0


@dataclass(frozen=True)
class ScheduleSpec:
    """A learning-rate policy, stepped after every batch; `resolved(...)` of it drives `CyclicScheduler`.

    bound_decay_rate is the fraction of the amplitude (max_lr - base_lr) left at total_steps, for both
    "linear" (straight line to it) and "exponential" (geometric decay to it). one_cycle maps to torch's
    OneCycleLR(max_lr, total_steps, pct_start, anneal_strategy, div_factor=max_lr/base_lr,
    final_div_factor, three_phase=False).
    """

    policy: Policy = param("triangular", doc="The policy; constant keeps base_lr (or the optimizer's lr)")
    base_lr: float | None = param(
        None,
        doc="Lower bound of the rate; required but for constant (default: the optimizer's lr)",
        gt=0.0,
        le=MAX_LR,
    )
    max_lr: float | None = param(
        None, doc="Upper bound of the rate; required but for constant", gt=0.0, le=MAX_LR
    )
    step_size_iter: int | None = param(None, doc="Half a cycle in optimizer steps", ge=1)
    step_size_epochs: float | None = param(
        None,
        doc="Half a cycle in epochs (the paper: 2 to 10); default 2 for cyclic policies",
        gt=0.0,
    )
    gamma: float = param(1.0, doc="exp_range: the amplitude shrinks by gamma per step", gt=0.0, le=1.0)
    bound_decay: BoundDecay = param("none", doc="Decay of the upper bound over total_steps")
    bound_decay_rate: float = param(0.1, doc="Fraction of the amplitude left at total_steps", gt=0.0, le=1.0)
    cycle_momentum: bool = param(False, doc="Cycle momentum (or Adam's beta1) inversely to the rate")
    base_momentum: float = param(0.85, doc="Lowest momentum when cycling it", ge=0.0, le=1.0)
    max_momentum: float = param(0.95, doc="Highest momentum when cycling it", ge=0.0, le=1.0)
    total_steps: int | None = param(
        None, doc="Steps one_cycle and bound_decay span; default the run's epochs x batches per epoch", ge=1
    )
    pct_start: float = param(0.3, doc="one_cycle: fraction of total_steps spent rising", gt=0.0, le=1.0)
    anneal_strategy: Literal["cos", "linear"] = param("cos", doc="one_cycle: shape of the ramps")
    final_div_factor: float = param(1e4, doc="one_cycle: the last rate is base_lr / final_div_factor", ge=1.0)

    def __post_init__(self) -> None:
        check_fields(self)
        check_unused(self, ScheduleSpec, POLICY_PARAMS[self.policy], by=self.policy, key="policy")
        if self.step_size_iter is not None and self.step_size_epochs is not None:
            raise SpecError("step_size_iter", "give step_size_iter or step_size_epochs, not both")
        if self.policy in CYCLIC_POLICIES and self.step_size_iter is None and self.step_size_epochs is None:
            object.__setattr__(self, "step_size_epochs", DEFAULT_STEP_SIZE_EPOCHS)
        cyclic = self.policy != "constant"
        if cyclic and self.base_lr is not None and self.max_lr is not None and self.base_lr >= self.max_lr:
            raise SpecError("max_lr", f"max_lr must be above base_lr={self.base_lr!r}, got {self.max_lr!r}")
        if self.base_momentum > self.max_momentum:
            raise SpecError(
                "max_momentum",
                f"max_momentum must be >= base_momentum={self.base_momentum!r}, got {self.max_momentum!r}",
            )

    @property
    def needs_bounds(self) -> bool:
        """True while a policy that cycles lacks base_lr or max_lr."""
        return self.policy != "constant" and (self.base_lr is None or self.max_lr is None)

    def require_bounds(self) -> None:
        """Raise SpecError if the policy still lacks its bounds."""
        if self.needs_bounds:
            raise SpecError(
                "base_lr" if self.base_lr is None else "max_lr",
                f"policy {self.policy!r} needs base_lr and max_lr, got base_lr={self.base_lr!r}, "
                f"max_lr={self.max_lr!r}",
            )

    def resolved(self, *, batches_per_epoch: int, total_steps: int, optimizer_lr: float) -> ScheduleSpec:
        """A copy with bounds, step_size_iter (in batches) and total_steps filled in."""
        self.require_bounds()
        if batches_per_epoch < 1 or total_steps < 1:
            raise ValueError(
                f"batches_per_epoch and total_steps must be >= 1, got {batches_per_epoch}, {total_steps}"
            )
        step_size = self.step_size_iter
        if self.step_size_epochs is not None:
            step_size = max(1, round(self.step_size_epochs * batches_per_epoch))
        base_lr = self.base_lr if self.base_lr is not None else optimizer_lr
        return dataclasses.replace(
            self,
            base_lr=base_lr,
            max_lr=self.max_lr if self.max_lr is not None else base_lr,
            step_size_iter=step_size,
            step_size_epochs=None,
            total_steps=self.total_steps or total_steps
            if "total_steps" in POLICY_PARAMS[self.policy]
            else None,
        )


@dataclass(frozen=True)
class RangeTestSpec:
    """How to sweep the learning rate and read a suggestion off the loss curve."""

    start_lr: float = param(1e-7, doc="First rate of the sweep", gt=0.0, le=MAX_LR)
    end_lr: float = param(0.1, doc="Last rate of the sweep (see past_end_lr)", gt=0.0, le=MAX_LR)
    past_end_lr: bool = param(
        False,
        doc="Sweep on past end_lr at the same rate per step until the smoothed loss diverges, the rate would "
        "pass lr_cap, or the sweep is twice its planned length: a loss still falling at end_lr gets a real "
        "minimum",
    )
    lr_cap: float = param(10.0, doc="Highest rate a past_end_lr sweep may reach", gt=0.0, le=MAX_LR)
    num_iter: int | None = param(None, doc="Steps of the sweep; default epochs x batches per epoch", ge=2)
    epochs: float = param(2.0, doc="Length of the sweep in epochs when num_iter is not given", gt=0.0)
    step_mode: StepMode = param("exp", doc="Rates spaced geometrically (exp) or evenly (linear)")
    smoothing: float = param(0.98, doc="Weight of the loss's exponential moving average", ge=0.0, lt=1.0)
    diverge_threshold: float = param(
        4.0, doc="Stop once the smoothed loss exceeds this multiple of its minimum", gt=1.0
    )
    base_lr_factor: float = param(6.0, doc="suggested_base_lr = suggested_max_lr / base_lr_factor", gt=1.0)
    suggestion: SuggestionRule = param(
        "minimum", doc="Rule for suggested_max_lr: minimum (the method: a tenth of the loss minimum's rate), "
        "steepest or valley"
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.end_lr > self.start_lr:
            raise SpecError("end_lr", f"end_lr must be above start_lr={self.start_lr!r}, got {self.end_lr!r}")
        if self.past_end_lr and not self.lr_cap > self.end_lr:
            raise SpecError("lr_cap", f"lr_cap must be above end_lr={self.end_lr!r}, got {self.lr_cap!r}")


@dataclass(frozen=True)
class TrainSpec:
    """How long to train and with which numeric tricks."""

    epochs: int = param(10, doc="Passes over the training data", ge=1)
    amp: Amp = param("none", doc="Mixed precision: bf16 or fp16 (with gradient scaling) on CUDA")
    channels_last: bool = param(False, doc="NHWC memory format, faster for convolutions on recent GPUs")

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True, kw_only=True)
class JobSpec:
    """What every job names: model, data, optimizer, batch size, seed and device."""

    model: ModelSpec = param(doc="The network")
    dataset: DatasetSpec = param(doc="The data")
    optimizer: OptimizerSpec = param(default_factory=lambda: OptimizerSpec("sgd"), doc="The optimizer")
    batch_size: int = param(32, doc="Samples per optimizer step", ge=1)
    seed: int = param(0, doc="Seed of data split, shuffling, augmentation and weights", ge=0, le=2**32 - 1)
    device: Device = param("auto", doc="Where to run: auto picks CUDA when the worker has it")

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True, kw_only=True)
class RangeTestJob(RangeTestSpec, JobSpec):
    """A learning-rate range test: a job and how to sweep."""

    def __post_init__(self) -> None:
        JobSpec.__post_init__(self)
        RangeTestSpec.__post_init__(self)


@dataclass(frozen=True, kw_only=True)
class TrainJob(TrainSpec, JobSpec):
    """Training with a learning-rate schedule: a job, how long, and the schedule."""

    schedule: ScheduleSpec = param(
        default_factory=lambda: ScheduleSpec("constant"), doc="The learning-rate schedule"
    )

    def __post_init__(self) -> None:
        JobSpec.__post_init__(self)
        TrainSpec.__post_init__(self)
        if self.schedule.cycle_momentum and self.optimizer.name in ("sgd", "adagrad"):
            raise SpecError(
                "schedule.cycle_momentum",
                f"cycle_momentum needs an optimizer with momentum or betas, not {self.optimizer.name!r}",
            )
