"""Liveness and readiness probes, without authentication."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response

from api.deps import CeleryDep, SessionDep
from api.errors import problem
from store.db import ping
from store.problems import ProblemCode

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process answers")
def healthz() -> dict[str, str]:
    """Always 200 while the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz", summary="The database and the broker answer")
def readyz(session: SessionDep, celery: CeleryDep) -> Response:
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
