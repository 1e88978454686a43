"""Aggregates over all runs for /metrics: counts by kind and status, job durations, stored points."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from store.models import EpochMetric, Run, RunStatus, SeriesChunk
from store.series import SERIES_COLUMNS

DURATION_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 24 * 3600.0)


@dataclass(frozen=True)
class Durations:
    """A cumulative histogram of the seconds from start to end of runs that ended."""

    buckets: tuple[int, ...]  # count at or below each of DURATION_BUCKETS
    count: int
    total: float


@dataclass(frozen=True)
class RunStats:
    by_kind_status: dict[tuple[str, str], int]
    durations: dict[tuple[str, str], Durations]  # by (kind, status), for ended runs
    points: dict[str, int]  # stored per-batch points by series, and "epoch" rows


def _seconds(session: Session) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", Run.finished_at - Run.started_at)  # type: ignore[return-value]
    return (func.julianday(Run.finished_at) - func.julianday(Run.started_at)) * 86400.0


def run_stats(*, session: Session) -> RunStats:
    """Three aggregate queries; nothing per owner or per run leaves this function."""
    counts = session.execute(select(Run.kind, Run.status, func.count()).group_by(Run.kind, Run.status)).all()
    seconds = _seconds(session)
    ended = [s.value for s in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)]
    bucket_sums = [func.sum(case((seconds <= bound, 1), else_=0)) for bound in DURATION_BUCKETS]
    rows = session.execute(
        select(Run.kind, Run.status, func.count(), func.sum(seconds), *bucket_sums)
        .where(Run.status.in_(ended), Run.started_at.is_not(None), Run.finished_at.is_not(None))
        .group_by(Run.kind, Run.status)
    ).all()
    durations = {
        (kind, status): Durations(
            buckets=tuple(int(b or 0) for b in buckets), count=int(count), total=float(total or 0.0)
        )
        for kind, status, count, total, *buckets in rows
    }
    points = {
        series: int(total or 0)
        for series, total in session.execute(
            select(SeriesChunk.series, func.sum(SeriesChunk.count))
            .where(SeriesChunk.series.in_(SERIES_COLUMNS))  # overviews repeat stored points
            .group_by(SeriesChunk.series)
        ).all()
    }
    points["epoch"] = int(session.scalar(select(func.count()).select_from(EpochMetric)) or 0)
    return RunStats(
        by_kind_status={(kind, status): int(n) for kind, status, n in counts},
        durations=durations,
        points=points,
    )
