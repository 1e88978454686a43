"""Request and response bodies, validated at the edge; the worker re-reads requests through them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

ModelName = Literal["vanilla_cnn", "resnet18", "resnet34"]
DatasetName = Literal["digits", "shapes", "cifar10", "mnist", "fashion_mnist", "imagefolder"]
OptimizerName = Literal["sgd", "sgd_momentum", "adagrad", "rmsprop", "adam", "adamw"]
PolicyName = Literal["triangular", "triangular2", "exp_range", "one_cycle", "cosine_restarts", "constant"]
Device = Literal["auto", "cpu", "cuda"]
PATH_DATASETS = frozenset({"cifar10", "mnist", "fashion_mnist", "imagefolder"})
Validation = Literal["test", "holdout"]
TEST_SPLIT_SETS = ("cifar10", "mnist", "fashion_mnist")  # clr.specs.TEST_SPLIT_SETS, without importing torch


class Strict(BaseModel):
    """Unknown fields are rejected, NaN and infinities too."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class ModelIn(Strict):
    name: ModelName
    pretrained: bool = False
    trainable: Literal["all", "last_block", "head"] = "all"
    dropout: float = Field(0.5, ge=0.0, lt=1.0)
    width: int = Field(32, ge=1, le=1024, description="vanilla_cnn: channels of its first block")


class DatasetIn(Strict):
    name: DatasetName
    path: str | None = Field(
        None, max_length=1000, description="Inside one of the data roots (CLR_DATA_ROOTS)"
    )
    validation: Validation | None = Field(
        None,
        description=f"test: the set's official test split ({', '.join(TEST_SPLIT_SETS)}); holdout: "
        "val_fraction of the training images; default: test where the set has one, else holdout",
    )
    val_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    train_samples: int | None = Field(
        None, ge=2, le=10_000_000, description="Train on a seeded random subset of this many training images"
    )
    augment: bool = True
    resize: int | None = Field(None, ge=8, le=512)
    num_samples: int = Field(2000, ge=100, le=200_000, description="shapes only")
    image_size: int = Field(32, ge=8, le=256, description="shapes only")
    download: bool = False

    @model_validator(mode="after")
    def _path_where_needed(self) -> Self:
        if self.name == "imagefolder" and not self.path:
            raise ValueError("dataset.path is required for imagefolder: a directory inside a data root")
        if self.path and self.name not in PATH_DATASETS:
            raise ValueError(f"dataset.path is only allowed for {sorted(PATH_DATASETS)}, not {self.name!r}")
        if self.validation == "test" and self.name not in TEST_SPLIT_SETS:
            raise ValueError(f"validation 'test' needs one of {list(TEST_SPLIT_SETS)}, not {self.name!r}")
        return self


class OptimizerIn(Strict):
    name: OptimizerName = "sgd"
    lr: float = Field(0.01, gt=0.0, le=100.0)
    momentum: float | None = Field(None, ge=0.0, lt=1.0)
    nesterov: bool = False
    weight_decay: float = Field(0.0, ge=0.0, le=1.0)
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float | None = Field(None, gt=0.0, le=1.0)
    alpha: float = Field(0.99, gt=0.0, lt=1.0)


class JobIn(Strict):
    model: ModelIn
    dataset: DatasetIn
    optimizer: OptimizerIn = OptimizerIn()
    batch_size: int = Field(32, ge=1)
    seed: int = Field(0, ge=0, le=2**32 - 1)
    device: Device = "auto"
    callback_url: HttpUrl | None = None


class LRFindCreate(JobIn):
    start_lr: float = Field(1e-7, gt=0.0)
    end_lr: float = Field(0.1, gt=0.0, le=100.0)
    past_end_lr: bool = Field(
        False,
        description="Sweep on past end_lr at the same rate per step until the smoothed loss diverges, the "
        "rate would pass lr_cap, or the sweep is twice its planned length",
    )
    lr_cap: float = Field(10.0, gt=0.0, le=100.0, description="Highest rate a past_end_lr sweep may reach")
    epochs: float = Field(2.0, gt=0.0)
    num_iter: int | None = Field(None, ge=2)
    step_mode: Literal["exp", "linear"] = "exp"
    smoothing: float = Field(0.98, ge=0.0, lt=1.0)
    diverge_threshold: float = Field(4.0, gt=1.0)
    base_lr_factor: float = Field(6.0, gt=1.0)
    suggestion: Literal["minimum", "steepest", "valley"] = "minimum"

    @model_validator(mode="after")
    def _increasing_range(self) -> Self:
        if self.start_lr >= self.end_lr:
            raise ValueError(f"start_lr ({self.start_lr}) must be below end_lr ({self.end_lr})")
        if self.past_end_lr and self.lr_cap <= self.end_lr:
            raise ValueError(f"lr_cap ({self.lr_cap}) must be above end_lr ({self.end_lr}) with past_end_lr")
        return self


class ScheduleIn(Strict):
    policy: PolicyName = "triangular"
    base_lr: float | None = Field(None, gt=0.0, le=100.0)
    max_lr: float | None = Field(None, gt=0.0, le=100.0)
    step_size_epochs: float | None = Field(None, gt=0.0)
    step_size_iter: int | None = Field(None, ge=1)
    gamma: float = Field(1.0, gt=0.0, le=1.0)
    bound_decay: Literal["none", "linear", "exponential"] = "none"
    cycle_momentum: bool = False
    base_momentum: float = Field(0.85, ge=0.0, lt=1.0)
    max_momentum: float = Field(0.95, ge=0.0, lt=1.0)
    from_lr_find: str | None = Field(
        None, min_length=1, max_length=64, description="id of a finished range test"
    )

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.step_size_epochs is not None and self.step_size_iter is not None:
            raise ValueError("give step_size_epochs or step_size_iter, not both")
        if (
            self.from_lr_find is None
            and self.policy != "constant"
            and (self.base_lr is None or self.max_lr is None)
        ):
            raise ValueError(f"policy {self.policy!r} needs base_lr and max_lr, or from_lr_find")
        if self.base_lr is not None and self.max_lr is not None and self.base_lr >= self.max_lr:
            raise ValueError(f"base_lr ({self.base_lr}) must be below max_lr ({self.max_lr})")
        if self.base_momentum > self.max_momentum:
            raise ValueError(
                f"base_momentum ({self.base_momentum}) must not exceed max_momentum ({self.max_momentum})"
            )
        return self


class TrainCreate(JobIn):
    epochs: int = Field(10, ge=1)
    schedule: ScheduleIn = ScheduleIn(policy="constant")
    amp: Literal["none", "bf16", "fp16"] = "none"
    channels_last: bool = False


class ProgressOut(BaseModel):
    step: int
    total_steps: int | None
    epoch: int | None
    fraction: float | None


class RunOut(BaseModel):
    id: str
    kind: str
    status: str
    is_terminal: bool
    attempt: int
    max_attempts: int
    comparison_id: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: ProgressOut
    request: dict[str, Any]
    result: dict[str, Any] | None
    error: dict[str, Any] | None


class RunPage(BaseModel):
    items: list[RunOut]
    next_cursor: str | None


class Problem(BaseModel):
    """RFC 9457 problem details, with a stable machine-readable `code`."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    code: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None
