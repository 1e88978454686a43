"""Rows to response bodies."""

from __future__ import annotations

from datetime import UTC, datetime

from store.models import Run, RunStatus
from store.schemas import PlacementOut, ProgressOut, RunOut


def run_out(run: Run) -> RunOut:
    """The public view of a run, with its progress as a fraction when the total is known."""
    total = run.progress_total
    fraction = min(1.0, run.progress_step / total) if total else None
    return RunOut(
        id=run.id,
        kind=run.kind,
        status=run.status,
        is_terminal=RunStatus(run.status).is_terminal,
        attempt=run.attempt,
        max_attempts=run.max_attempts,
        comparison_id=run.comparison_id,
        created_at=_utc(run.created_at),
        updated_at=_utc(run.updated_at),
        started_at=run.started_at and _utc(run.started_at),
        finished_at=run.finished_at and _utc(run.finished_at),
        progress=ProgressOut(
            step=run.progress_step, total_steps=total, epoch=run.progress_epoch, fraction=fraction
        ),
        request=run.request,
        result=run.result,
        error=run.error,
        placement=PlacementOut(**run.placement) if run.placement else None,
    )


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored one is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
