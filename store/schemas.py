"""Response bodies, and the strict base of request bodies (job requests: `store.jobspec`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    """Unknown fields are rejected, NaN and infinities too."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class LabelsOut(BaseModel):
    name: str | None
    tags: list[str]
    metadata: dict[str, Any]


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


class DeliveryOut(BaseModel):
    """How the webhook to the run's callback_url went."""

    state: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None
    next_attempt_at: datetime | None


class RunOut(LabelsOut):
    id: str
    kind: str
    status: str
    is_terminal: bool
    attempt: int = Field(description="Deliveries of the run to a worker so far (drains included)")
    drains: int = Field(description="Attempts handed back by a worker shutting down; they use no retry")
    max_attempts: int
    comparison_id: str | None
    variant: str | None
    repeat: int | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: ProgressOut
    request: dict[str, Any]
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    delivery: DeliveryOut | None = Field(
        None, description="the webhook's outcome, for a run with a callback_url"
    )
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
