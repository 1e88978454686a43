"""A run's live progress as a stream of server-sent events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from sse_starlette import EventSourceResponse

from api.deps import RunDep, SessionDep, SessionFactoryDep
from api.events import Cursor, run_events
from store.schemas import Problem

router = APIRouter(tags=["runs"], responses={401: {"model": Problem}, 404: {"model": Problem}})

EVENTS_DOC = (
    "`text/event-stream` of `status` (data: the run, as `GET /runs/{id}`), `points` "
    "(data: `{series, step: [...], lr: [...], loss: [...], ...}` for steps not sent yet) and `epoch` "
    "(data: one epoch row) events. Each event's id is a cursor: reconnect with `Last-Event-ID` to get only "
    "later events. The stream ends after the terminal status."
)


@router.get(
    "/runs/{run_id}/events",
    summary="Stream a run's progress",
    description=EVENTS_DOC,
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def events(
    run: RunDep,
    session: SessionDep,
    factory: SessionFactoryDep,
    last_event_id: Annotated[str | None, Header(max_length=200)] = None,
) -> EventSourceResponse:
    """Status changes, new points and new epochs of the run until it finishes."""
    run_id = run.id
    # Hand the request's connection back now: the stream polls in sessions of its own.
    session.close()
    stream = run_events(factory=factory, run_id=run_id, cursor=Cursor.parse(last_event_id))
    return EventSourceResponse(stream, ping=15)
