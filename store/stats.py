"""Figures for /metrics: runs not yet ended by kind and status, and the counters kept as runs end and write.

A scrape reads the unfinished runs through the status index and a few hundred counter rows; never every run,
chunk or epoch row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store import counters
from store.counters import DURATION_BUCKETS
from store.filters import as_utc
from store.models import TERMINAL_STATUSES, Run, RunStatus

UNFINISHED = tuple(status for status in RunStatus if status not in TERMINAL_STATUSES)


@dataclass(frozen=True)
class Durations:
    """A cumulative histogram of the seconds from start to end of runs that ended."""

    buckets: tuple[int, ...]  # count at or below each of DURATION_BUCKETS
    count: int
    total: float


@dataclass(frozen=True)
class RunStats:
    unfinished: dict[tuple[str, str], int]  # runs by (kind, status), for the statuses not terminal
    ended: dict[tuple[str, str], int]  # runs that ended, by (kind, status), since the counters began
    durations: dict[tuple[str, str], Durations]  # by (kind, status), for ended runs that had started
    points: dict[str, int]  # per-batch points written by series, and "epoch" rows
    webhook_attempts: dict[str, int]  # by the state they left the delivery in: delivered, pending, failed
    oldest_queued_at: datetime | None  # when the run waiting longest entered the queue (UTC)


def run_stats(*, session: Session) -> RunStats:
    """Three bounded queries; nothing per owner or per run leaves this function.

    A queued run's `updated_at` is when it entered the queue (made, or handed back by a draining worker):
    the oldest is the first entry of the (status, updated_at) index.
    """
    unfinished = session.execute(
        select(Run.kind, Run.status, func.count())
        .where(Run.status.in_([status.value for status in UNFINISHED]))
        .group_by(Run.kind, Run.status)
    ).all()
    oldest = session.scalar(select(func.min(Run.updated_at)).where(Run.status == RunStatus.QUEUED))
    totals = counters.totals(session=session)
    ended: dict[tuple[str, str], int] = {}
    points: dict[str, int] = {}
    webhook_attempts: dict[str, int] = {}
    for key, value in totals.items():
        kind_of, _, rest = key.partition(":")
        if kind_of == "ended":
            kind, status = rest.split(":")
            ended[(kind, status)] = int(value)
        elif kind_of == "points":
            points[rest] = int(value)
        elif kind_of == "webhook":
            webhook_attempts[rest] = int(value)
    durations = {
        (kind, status): Durations(
            buckets=tuple(
                int(totals.get(counters.duration_key(kind, status, str(bound)), 0))
                for bound in DURATION_BUCKETS
            ),
            count=int(totals.get(counters.duration_key(kind, status, "count"), 0)),
            total=totals.get(counters.duration_key(kind, status, "sum"), 0.0),
        )
        for kind, status in ended
        if counters.duration_key(kind, status, "count") in totals
    }
    return RunStats(
        unfinished={(kind, status): int(n) for kind, status, n in unfinished},
        ended=ended,
        durations=durations,
        points=points,
        webhook_attempts=webhook_attempts,
        oldest_queued_at=oldest and as_utc(oldest),
    )
