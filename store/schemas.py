"""Response bodies, and the strict base of request bodies (job requests: `store.jobspec`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, create_model
from pydantic_core import core_schema

from clr.records import RangeTestSummary, TrainSummary
from store.jobspec import LRFindCreate, TrainCreate
from store.models import RunKind, RunStatus
from store.problems import Problem
from store.series import EPOCH_COLUMNS, INTEGER_COLUMNS, SERIES_COLUMNS


class Strict(BaseModel):
    """Unknown fields are rejected, NaN and infinities too."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


@dataclass(frozen=True)
class StoredAs:
    """A JSON object served as stored, documented by the types that wrote it.

    What a worker or a request stored is not validated again on read: a run's request names model and dataset
    plugins that may since have been uninstalled, and a read must never fail on what was accepted.
    """

    types: tuple[Any, ...]

    def __get_pydantic_core_schema__(
        self, _source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        documented: list[core_schema.CoreSchema] = []
        for kind in self.types:
            schema = handler.generate_schema(kind)
            if schema["type"] == "definition-ref":
                # pydantic inlines a definition used once unless it has metadata: keep it a named component
                cast(dict[str, Any], schema)["metadata"] = {"stored_as": True}
            documented.append(schema)
        union = documented[0] if len(documented) == 1 else core_schema.union_schema([*documented])
        return core_schema.dict_schema(
            metadata={"pydantic_js_annotation_functions": [lambda _core, to_json: to_json(union)]},
            serialization=core_schema.wrap_serializer_function_ser_schema(
                lambda value, _next: value, schema=union
            ),
        )


class LabelsOut(BaseModel):
    name: str | None = Field(description="The name given at submit")
    tags: list[str] = Field(description="The tags given at submit, in their order")
    metadata: dict[str, Any] = Field(description="The metadata object given at submit")


class ProgressOut(BaseModel):
    """How far the run is; set by its worker as it goes."""

    step: int = Field(description="Optimizer steps done")
    total_steps: int | None = Field(description="Steps the job plans; null until the worker knows")
    epoch: int | None = Field(description="The epoch in progress, from 0")
    fraction: float | None = Field(description="step / total_steps, 0 to 1")


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


class DeliveryOut(BaseModel):
    """How the webhook to the run's callback_url went."""

    state: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None
    next_attempt_at: datetime | None


class RunOut(LabelsOut):
    """A run: its job, where it is and how it ended."""

    id: str = Field(description="32 hex digits, time-ordered")
    kind: RunKind = Field(description="lr_find: a range test; train: a training run")
    status: RunStatus = Field(
        description="queued, running, cancelling or lost (queued again) until it ends succeeded, failed or "
        "cancelled"
    )
    is_terminal: bool = Field(description="Whether the status is final")
    attempt: int = Field(description="Deliveries to a worker so far (drains included)")
    drains: int = Field(description="Attempts handed back by a worker shutting down; they use no retry")
    max_attempts: int = Field(description="Deliveries before a run whose worker was lost fails")
    comparison_id: str | None = Field(description="The comparison it belongs to")
    variant: str | None = Field(description="Its variant in that comparison")
    repeat: int | None = Field(description="Its repeat (seed offset) in that comparison")
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: ProgressOut
    request: Annotated[dict[str, Any], StoredAs((LRFindCreate, TrainCreate))] = Field(
        description="The job as it runs: the body with every default filled in, without the labels"
    )
    result: Annotated[dict[str, Any], StoredAs((RangeTestSummary, TrainSummary))] | None = Field(
        description="What it found (lr_find) or how training ended (train); null until it ends"
    )
    error: Annotated[dict[str, Any], StoredAs((Problem,))] | None = Field(
        description="Why it failed, with a stable code"
    )
    delivery: DeliveryOut | None = Field(
        None, description="the webhook's outcome, for a run with a callback_url"
    )
    placement: PlacementOut | None


class RunPage(BaseModel):
    items: list[RunOut]
    next_cursor: str | None


class CurvesHead(BaseModel):
    """What every curves answer starts with."""

    run_id: str
    kind: RunKind
    status: RunStatus = Field(description="The run's status when read: the curves are partial while it runs")
    points: int = Field(description="Per-step points in this answer")
    next_cursor: int | None = Field(
        description="Pass as `cursor` for the next page; null on the last page and when downsampled"
    )


def _columns(
    name: str, columns: tuple[str, ...], doc: str, base: type[BaseModel] = BaseModel
) -> type[BaseModel]:
    """A model of equally long columns: integers for steps and epochs, floats (or null) for the others."""
    fields: dict[str, Any] = {
        column: (list[int] if column in INTEGER_COLUMNS else list[float | None], ...) for column in columns
    }
    return create_model(name, __doc__=doc, __base__=base, **fields)


RangeCurves = _columns(
    "RangeCurves",
    SERIES_COLUMNS["range"],
    "A range test's curve, column by column, one entry per step; non-finite values are null.",
    CurvesHead,
)
BatchColumns = _columns(
    "BatchColumns", SERIES_COLUMNS["batch"], "Per-step training points, column by column."
)
EpochColumns = _columns("EpochColumns", EPOCH_COLUMNS, "Per-epoch metrics, column by column.")
TrainCurves = create_model(
    "TrainCurves",
    __doc__="A training run's curves per step (`batch`) and per epoch (`epochs`); non-finite values are null",
    __base__=CurvesHead,
    batch=(BatchColumns, ...),
    epochs=(EpochColumns, ...),
)
