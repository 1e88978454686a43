"""A run's live progress as a stream of server-sent events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from sse_starlette import EventSourceResponse
from starlette.background import BackgroundTask

from api.deps import OwnerDep, RunDep, SessionDep, SessionFactoryDep, StreamSlotsDep
from api.errors import ApiError
from api.events import Cursor, run_events
from api.responses import OWNED, problems
from store.problems import ProblemCode

RETRY_AFTER_SECONDS = 30
router = APIRouter(tags=["runs"], responses=problems(*OWNED, ProblemCode.TOO_MANY_STREAMS))

EVENTS_DOC = (
    "`text/event-stream` of `status` (data: the run, as `GET /runs/{id}`), `progress` (data: the run's "
    "`progress`, `{step, total_steps, epoch, fraction}`, sent when it changes while the run runs), `points` "
    "(data: `{series, step: [...], lr: [...], loss: [...], ...}` for steps not sent yet) and `epoch` "
    "(data: one epoch row) events. Each event's id is a cursor: reconnect with `Last-Event-ID` to get only "
    "later events. A new stream starts with the points so far, downsampled (`downsampled: true`) when the "
    "run has many; a resumed one catches up page by page. The stream ends after the terminal status. "
    "Streams per owner are capped (429 `too_many_streams`)."
)


@router.get(
    "/runs/{run_id}/events",
    summary="Stream a run's progress",
    description=EVENTS_DOC,
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def stream_run_events(
    run: RunDep,
    owner: OwnerDep,
    session: SessionDep,
    factory: SessionFactoryDep,
    slots: StreamSlotsDep,
    last_event_id: Annotated[
        str | None,
        Header(max_length=200, description="The id of the last event received: resume after it"),
    ] = None,
) -> EventSourceResponse:
    """Status changes, new points and new epochs of the run until it finishes."""
    try:
        cursor = Cursor.parse(last_event_id)
    except ValueError as error:
        item = {"loc": ["header", "last-event-id"], "msg": str(error), "type": "value_error"}
        raise ApiError(ProblemCode.VALIDATION_ERROR, f"Last-Event-ID: {error}", errors=[item]) from None
    release = slots.take(owner)
    if release is None:
        raise ApiError(
            ProblemCode.TOO_MANY_STREAMS,
            f"{slots.limit} event streams are open for this owner; close one or retry later",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    run_id = run.id
    # Hand the request's connection back now: the stream polls in sessions of its own.
    session.close()
    stream = run_events(factory=factory, run_id=run_id, cursor=cursor, release=release)
    # The stream frees its slot when it ends; the background task also when it never started.
    return EventSourceResponse(stream, ping=15, background=BackgroundTask(release))
