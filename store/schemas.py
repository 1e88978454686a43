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
    attempt: int
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


class RunPage(BaseModel):
    items: list[RunOut]
    next_cursor: str | None
