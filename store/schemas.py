"""Response bodies, and the strict base of request bodies (job requests: `store.jobspec`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


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
