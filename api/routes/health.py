"""Liveness and readiness probes, without authentication."""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel

from api.deps import CeleryDep, SessionDep
from api.errors import problem
from api.responses import problems
from store.db import ping
from store.problems import ProblemCode

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]


@router.get("/healthz", summary="The process answers")
def get_health() -> Health:
    """Always 200 while the process serves requests."""
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="The database and the broker answer",
    response_model=Readiness,
    responses=problems(ProblemCode.NOT_READY),
)
def get_readiness(session: SessionDep, celery: CeleryDep) -> Response:
    """200 when the database answers and the broker accepts a connection within about a second; else 503."""
    failed: list[str] = []
    try:
        ping(session=session)
    except Exception as error:  # any driver error means not ready
        log.warning("readiness: database check failed: %s", error)
        failed.append(f"database unreachable ({error.__class__.__name__})")
    try:
        with celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=1)
    except Exception as error:  # kombu raises many kinds
        log.warning("readiness: broker check failed: %s", error)
        failed.append(f"broker unreachable ({error.__class__.__name__})")
    if failed:
        return problem(503, ProblemCode.NOT_READY, "; ".join(failed), instance="/readyz")
    return Response('{"status":"ready"}', media_type="application/json")
