"""Rows to response bodies."""

from __future__ import annotations

from store.filters import as_utc
from store.models import Run, RunStatus
from store.schemas import DeliveryOut, PlacementOut, ProgressOut, RunOut


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
        drains=run.drains,
        max_attempts=run.max_attempts,
        comparison_id=run.comparison_id,
        variant=run.variant,
        repeat=run.repeat,
        created_at=as_utc(run.created_at),
        updated_at=as_utc(run.updated_at),
        started_at=run.started_at and as_utc(run.started_at),
        finished_at=run.finished_at and as_utc(run.finished_at),
        progress=ProgressOut(
            step=run.progress_step, total_steps=total, epoch=run.progress_epoch, fraction=fraction
        ),
        request=run.request,
        result=run.result,
        error=run.error,
        name=run.name,
        tags=run.tags,
        metadata=run.meta,
        delivery=run.delivery and DeliveryOut.model_validate(run.delivery),
        placement=PlacementOut(**run.placement) if run.placement else None,
    )
