"""Values the client returns: runs, pages of runs, and the problem an error carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Progress:
    step: int
    total_steps: int | None
    epoch: int | None
    fraction: float | None


@dataclass(frozen=True)
class Run:
    """A run as `GET /runs/{id}` describes it."""

    id: str
    kind: str
    status: str
    is_terminal: bool
    progress: Progress
    request: dict[str, Any]
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    created_at: str
    finished_at: str | None
    comparison_id: str | None = None
    name: str | None = None
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Run:
        return cls(
            id=body["id"],
            kind=body["kind"],
            status=body["status"],
            is_terminal=body["is_terminal"],
            progress=Progress(**body["progress"]),
            request=body.get("request") or {},
            result=body.get("result"),
            error=body.get("error"),
            created_at=body["created_at"],
            finished_at=body.get("finished_at"),
            comparison_id=body.get("comparison_id"),
            name=body.get("name"),
            tags=body.get("tags") or [],
            metadata=body.get("metadata") or {},
        )


@dataclass(frozen=True)
class RunPage:
    items: list[Run]
    next_cursor: str | None


class ClrError(Exception):
    """An error answer of the service, with its problem+json body (status, code, detail)."""

    def __init__(self, status: int, code: str, detail: str | None, problem: dict[str, Any]) -> None:
        super().__init__(f"{status} {code}: {detail}" if detail else f"{status} {code}")
        self.status = status
        self.code = code
        self.detail = detail
        self.problem = problem
