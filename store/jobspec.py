"""One contract for a job: the request bodies are clr's own job specs, so what the API accepts a worker runs.

`LRFindCreate` and `TrainCreate` are pydantic dataclasses over `clr.RangeTestJob` and `clr.TrainJob`: pydantic
checks types and the bounds declared on clr's fields, then clr's own checks run; at the API edge, and again
when a worker reads the stored request through `job_from_request`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import ConfigDict, HttpUrl, TypeAdapter, model_validator
from pydantic.dataclasses import dataclass as request_dataclass
from pydantic_core import ArgsKwargs

from clr.datasets import dataset_plugins
from clr.fields import SpecError, param
from clr.specs import RangeTestJob, ScheduleSpec, TrainJob
from store.labels import RunLabels, without_labels
from store.models import RunKind

REQUEST = ConfigDict(extra="forbid", allow_inf_nan=False)
LEGACY_DATASET_FIELDS = {"num_samples": 2000, "image_size": 32, "download": False}
"""Fields `dataset` had (with their defaults) before each set took its own `params`."""


def moved_dataset_fields(data: Any) -> Any:
    """A request body whose `dataset` still has pre-plugin fields, with them under `dataset.params`.

    A field the named set takes moves there (what params gives wins); one it does not take is dropped at its
    old default and left, to be refused, otherwise. Kept so that clients written before datasets were
    plugins still run: the stored request has the one current form.
    """
    if (
        isinstance(data, ArgsKwargs)
        or not isinstance(data, dict)
        or not isinstance(data.get("dataset"), dict)
    ):
        return data
    dataset: dict[str, Any] = data["dataset"]
    installed = dataset_plugins().get(str(dataset.get("name")))
    params = dataset.get("params", {})
    if (
        installed is None
        or not isinstance(params, dict)
        or not dataclasses.is_dataclass(installed.plugin.params)
    ):
        return data
    takes = {field.name for field in dataclasses.fields(installed.plugin.params)}
    moved, kept = {}, {}
    for key, value in dataset.items():
        if key not in LEGACY_DATASET_FIELDS:
            kept[key] = value
        elif key in takes:
            moved[key] = value
        elif value != LEGACY_DATASET_FIELDS[key]:
            kept[key] = value
    if len(kept) == len(dataset):
        return data
    return {**data, "dataset": {**kept, "params": {**moved, **params}}}


class MovedDatasetFields:
    """Request bodies that accept `dataset` in its pre-plugin form (see `moved_dataset_fields`)."""

    @model_validator(mode="before")
    @classmethod
    def _moved_dataset_fields(cls, data: Any) -> Any:
        return moved_dataset_fields(data)


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """What the service adds to a job."""

    callback_url: HttpUrl | None = param(
        None, doc="Receives POST {id, kind, status, result, error, finished_at} once the run ends"
    )


@request_dataclass(frozen=True, kw_only=True, config=REQUEST)
class LRFindCreate(MovedDatasetFields, RangeTestJob, RunOptions, RunLabels):
    """A learning-rate range test to queue."""


@request_dataclass(frozen=True, config=REQUEST)
class ScheduleIn(ScheduleSpec):
    """A schedule whose missing bounds may come from a range test of the caller's."""

    from_lr_find: str | None = param(
        None,
        doc="Id of a succeeded range test of yours: a missing max_lr is its suggested_max_lr, a missing "
        "base_lr its suggested_base_lr",
        max_length=64,
    )


@request_dataclass(frozen=True, kw_only=True, config=REQUEST)
class TrainCreate(MovedDatasetFields, TrainJob, RunOptions, RunLabels):
    """A training run to queue."""

    schedule: ScheduleIn = param(
        default_factory=lambda: ScheduleIn("constant"), doc="The learning-rate schedule"
    )


JobRequest = LRFindCreate | TrainCreate
REQUEST_TYPES: dict[RunKind, type[LRFindCreate] | type[TrainCreate]] = {
    RunKind.LR_FIND: LRFindCreate,
    RunKind.TRAIN: TrainCreate,
}


@cache
def adapter(kind: RunKind) -> TypeAdapter[Any]:
    """A pydantic TypeAdapter of the request type of a kind of run, built once."""
    return TypeAdapter(REQUEST_TYPES[kind])


def kind_of(job: JobRequest) -> RunKind:
    return RunKind.LR_FIND if isinstance(job, LRFindCreate) else RunKind.TRAIN


def body_of(job: JobRequest) -> dict[str, Any]:
    """The request body as JSON, labels included, every default filled in."""
    body: dict[str, Any] = adapter(kind_of(job)).dump_python(job, mode="json")
    return body


def request_of(job: JobRequest) -> dict[str, Any]:
    """The job as the JSON stored on its run: the body without its labels (they have columns)."""
    return without_labels(body_of(job))


def check_runnable(job: JobRequest) -> None:
    """Raise SpecError for what only a complete job must have: a train schedule's bounds."""
    if isinstance(job, TrainCreate):
        try:
            job.schedule.require_bounds()
        except SpecError as error:
            raise SpecError(f"schedule.{error.field}", str(error)) from error


def job_from_request(kind: str, request: Mapping[str, Any]) -> JobRequest:
    """The stored request as the job a worker runs, checked exactly as the API checked it."""
    job: JobRequest = adapter(RunKind(kind)).validate_python(request)
    check_runnable(job)
    return job
