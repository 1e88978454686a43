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


class Strict(BaseModel):
    """Unknown fields are rejected, NaN and infinities too."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class ModelIn(Strict):
    name: ModelName
    pretrained: bool = False
    trainable: Literal["all", "last_block", "head"] = "all"
    dropout: float = Field(0.5, ge=0.0, lt=1.0)


class DatasetIn(Strict):
    name: DatasetName
    path: str | None = Field(
        None, max_length=1000, description="Inside one of the data roots (CLR_DATA_ROOTS)"
    )
    val_fraction: float = Field(0.2, gt=0.0, lt=1.0)
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


class PlacementOut(BaseModel):
    """Where a run's current or last attempt runs: the worker process, its host and pool slot, the device."""

    worker: str = Field(description="Celery node name / process id, as in the worker's log")
    host: str
    pid: int
    slot: int = Field(description="the pool process's index on its worker, kept when the process is replaced")
    gpu: str | None = Field(
        description="the CUDA devices the process sees (CUDA_VISIBLE_DEVICES): its own GPU"
    )
    device: Literal["cuda", "cpu"]
    device_name: str


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
    placement: PlacementOut | None


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
