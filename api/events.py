"""A run's live progress as server-sent events: status changes, new points and new epoch rows."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import anyio
import anyio.to_thread
from sqlalchemy.orm import Session, sessionmaker
from sse_starlette import ServerSentEvent

from api.views import run_out
from store import runs, series
from store.models import RunKind, RunStatus

POLL_SECONDS = 0.5
MAX_POINTS_PER_EVENT = 1000
INTEGER_COLUMNS = frozenset({"step", "epoch"})


@dataclass(frozen=True)
class Cursor:
    """What a client has seen: the last status, step and epoch sent; it is every event's id."""

    status: str = ""
    step: int = -1
    epoch: int = -1

    def __str__(self) -> str:
        return f"{self.status}:{self.step}:{self.epoch}"

    @classmethod
    def parse(cls, text: str | None) -> Cursor:
        """The cursor of a `Last-Event-ID`; an unreadable one starts from the beginning."""
        parts = (text or "").split(":")
        if len(parts) != 3:
            return cls()
        try:
            return cls(status=parts[0], step=int(parts[1]), epoch=int(parts[2]))
        except ValueError:
            return cls()


@dataclass(frozen=True)
class Snapshot:
    """Events since a cursor, read in one session: points and epochs first, the status last."""

    events: list[ServerSentEvent]
    cursor: Cursor
    terminal: bool


def read_snapshot(*, factory: sessionmaker[Session], run_id: str, cursor: Cursor) -> Snapshot:
    """The events a client at `cursor` has not seen yet."""
    with factory() as session:
        # Status before points: whatever the worker committed before a terminal status is then read too.
        run = runs.get_run(session=session, run_id=run_id)
        if run is None:
            return Snapshot(events=[], cursor=cursor, terminal=True)
        summary = run_out(run).model_dump(mode="json")
        name = "range" if run.kind == RunKind.LR_FIND else "batch"
        columns = series.read_series(session=session, run_id=run_id, series=name, min_step=cursor.step + 1)
        epochs = series.read_epochs(session=session, run_id=run_id) if run.kind == RunKind.TRAIN else {}
    events: list[ServerSentEvent] = []
    steps = columns["step"]
    for start in range(0, len(steps), MAX_POINTS_PER_EVENT):
        block = {
            key: _json_column(key, values[start : start + MAX_POINTS_PER_EVENT])
            for key, values in columns.items()
        }
        cursor = replace(cursor, step=int(block["step"][-1]))
        events.append(_event("points", {"series": name, **block}, cursor))
    for index, epoch in enumerate(epochs.get("epoch", [])):
        if epoch > cursor.epoch:
            row = {key: _json_value(key, values[index]) for key, values in epochs.items()}
            cursor = replace(cursor, epoch=int(epoch))
            events.append(_event("epoch", row, cursor))
    if run.status != cursor.status:
        cursor = replace(cursor, status=run.status)
        events.append(_event("status", summary, cursor))
    return Snapshot(events=events, cursor=cursor, terminal=RunStatus(run.status).is_terminal)


async def run_events(
    *, factory: sessionmaker[Session], run_id: str, cursor: Cursor, poll_seconds: float = POLL_SECONDS
) -> AsyncIterator[ServerSentEvent]:
    """Events until the run is terminal, polling the database off the event loop."""
    while True:
        snapshot = await anyio.to_thread.run_sync(
            partial(read_snapshot, factory=factory, run_id=run_id, cursor=cursor)
        )
        for event in snapshot.events:
            yield event
        cursor = snapshot.cursor
        if snapshot.terminal:
            return
        await anyio.sleep(poll_seconds)


def _event(name: str, data: dict[str, Any], cursor: Cursor) -> ServerSentEvent:
    return ServerSentEvent(
        data=json.dumps(data, allow_nan=False, separators=(",", ":")), event=name, id=str(cursor)
    )


def _json_column(name: str, values: Iterable[Any]) -> list[Any]:
    return [_json_value(name, value) for value in values]


def _json_value(name: str, value: Any) -> Any:
    """Steps and epochs as ints, non-finite values as null."""
    if value is None:
        return None
    if name in INTEGER_COLUMNS:
        return int(value)
    number = float(value)
    return number if math.isfinite(number) else None
