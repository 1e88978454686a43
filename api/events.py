"""A run's live progress as server-sent events: status changes, progress, new points and new epoch rows.

Memory per stream is bounded whatever the run's length: a new stream starts with the series so far
downsampled from the stored overviews (BACKLOG_POINTS), and a stream resumed far behind catches up a page
(PAGE_POINTS) per read.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import anyio
import anyio.to_thread
from sqlalchemy.orm import Session, sessionmaker
from sse_starlette import ServerSentEvent

from api.views import run_out
from store import overview, runs, series
from store.models import RunKind, RunStatus

POLL_SECONDS = 0.5
MAX_POINTS_PER_EVENT = 1000
BACKLOG_POINTS = 2000  # a new stream's points so far, downsampled (first, last and minimum kept)
PAGE_POINTS = 10_000  # points read at most per poll
MAX_CURSOR = 2**63 - 1


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
        """The cursor of a `Last-Event-ID` (none: from the start); ValueError saying why for other text."""
        if text is None:
            return cls()
        parts = text.split(":")
        statuses = {"", *RunStatus}
        if len(parts) != 3 or parts[0] not in statuses:
            raise ValueError(f"expected '<status>:<step>:<epoch>' as sent in an event id, got {text[:100]!r}")
        numbers = [_cursor_number(part) for part in parts[1:]]
        return cls(status=parts[0], step=numbers[0], epoch=numbers[1])


def _cursor_number(text: str) -> int:
    number = int(text)  # ValueError for anything but an integer
    if not -1 <= number <= MAX_CURSOR:
        raise ValueError(f"a step or epoch in Last-Event-ID must lie in [-1, {MAX_CURSOR}], got {text[:30]}")
    return number


@dataclass(frozen=True)
class Snapshot:
    """Events since a cursor, read in one session: points and epochs first, the status last.

    `more`: points past this snapshot's page wait to be read (the status is sent once they are).
    """

    events: list[ServerSentEvent]
    cursor: Cursor
    terminal: bool
    more: bool = False
    progress: dict[str, Any] | None = None  # the run's progress as last sent, in a status or progress event


def read_snapshot(
    *, factory: sessionmaker[Session], run_id: str, cursor: Cursor, progress: dict[str, Any] | None = None
) -> Snapshot:
    """The events a client at `cursor` has not seen yet, a bounded number of points at a time.

    `progress`: what the client was last sent of the run's progress; a `progress` event follows a change.
    """
    with factory() as session:
        # Status before points: whatever the worker committed before a terminal status is then read too.
        run = runs.get_run(session=session, run_id=run_id)
        if run is None:
            return Snapshot(events=[], cursor=cursor, terminal=True)
        summary = run_out(run).model_dump(mode="json")
        name = "range" if run.kind == RunKind.LR_FIND else "batch"
        columns, downsampled, more = _points_after(session, run_id, name, cursor.step)
        epochs = series.read_epochs(session=session, run_id=run_id) if run.kind == RunKind.TRAIN else {}
    events: list[ServerSentEvent] = []
    steps = columns["step"]
    for start in range(0, len(steps), MAX_POINTS_PER_EVENT):
        block = {
            key: _json_column(key, values[start : start + MAX_POINTS_PER_EVENT])
            for key, values in columns.items()
        }
        cursor = replace(cursor, step=int(block["step"][-1]))
        data = {"series": name, **block, **({"downsampled": True} if downsampled else {})}
        events.append(_event("points", data, cursor))
    for index, epoch in enumerate(epochs.get("epoch", [])):
        if epoch > cursor.epoch:
            row = {key: _json_value(key, values[index]) for key, values in epochs.items()}
            cursor = replace(cursor, epoch=int(epoch))
            events.append(_event("epoch", row, cursor))
    if run.status != cursor.status and not more:
        cursor = replace(cursor, status=run.status)
        events.append(_event("status", summary, cursor))
        progress = summary["progress"]
    elif summary["progress"] != progress and not RunStatus(run.status).is_terminal:
        progress = summary["progress"]
        events.append(_event("progress", summary["progress"], cursor))
    terminal = RunStatus(run.status).is_terminal and not more
    return Snapshot(events=events, cursor=cursor, terminal=terminal, more=more, progress=progress)


def _points_after(session: Session, run_id: str, name: str, step: int) -> tuple[dict[str, Any], bool, bool]:
    """Points after `step`: (columns, downsampled, more to read).

    A new stream (step -1) of a series longer than BACKLOG_POINTS gets it downsampled from the overviews,
    any other stream the next PAGE_POINTS points at most.
    """
    if step < 0:
        stored = sum(
            count for _, _, count in series.chunk_extents(session=session, run_id=run_id, series=name)
        )
        if stored > BACKLOG_POINTS:
            reduced = overview.read_downsampled(
                session=session, run_id=run_id, series=name, max_points=BACKLOG_POINTS
            )
            return reduced, True, False
    columns = series.read_series(
        session=session, run_id=run_id, series=name, min_step=step + 1, limit=PAGE_POINTS + 1
    )
    if columns["step"].size <= PAGE_POINTS:
        return columns, False, False
    return {key: values[:PAGE_POINTS] for key, values in columns.items()}, False, True


class StreamSlots:
    """The event streams open in this process, at most `limit` per owner."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    def take(self, owner: str) -> Callable[[], None] | None:
        """A slot for a new stream of `owner`, as the callable that frees it (once, however often called);
        None when the owner has `limit` streams open."""
        with self._lock:
            if self._open[owner] >= self.limit:
                return None
            self._open[owner] += 1
        taken = [True]

        def release() -> None:
            with self._lock:
                if taken:
                    taken.clear()
                    self._open[owner] -= 1

        return release


async def run_events(
    *,
    factory: sessionmaker[Session],
    run_id: str,
    cursor: Cursor,
    release: Callable[[], None],
    poll_seconds: float = POLL_SECONDS,
) -> AsyncIterator[ServerSentEvent]:
    """Events until the run is terminal, polling the database off the event loop; `release()` at the end."""
    progress = None
    try:
        while True:
            snapshot = await anyio.to_thread.run_sync(
                partial(read_snapshot, factory=factory, run_id=run_id, cursor=cursor, progress=progress)
            )
            for event in snapshot.events:
                yield event
            cursor, progress = snapshot.cursor, snapshot.progress
            if snapshot.terminal:
                return
            if not snapshot.more:
                await anyio.sleep(poll_seconds)
    finally:
        release()


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
    if name in series.INTEGER_COLUMNS:
        return int(value)
    number = float(value)
    return number if math.isfinite(number) else None
