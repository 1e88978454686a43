"""Comparison commands and views behind the /comparisons routes: create, read, aggregate, cancel."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api.admission import KnownFacts, admit
from api.errors import ApiError, validation_errors
from api.service import remove_artifacts
from api.submit import RETRY_AFTER_SECONDS
from api.views import run_out
from store import comparisons, runs
from store.comparison_specs import (
    LR_FIND_VARIANT,
    ChildNotAJob,
    ComparisonCreate,
    PlannedChild,
    plan_children,
)
from store.filters import LabelFilter
from store.models import Comparison, Run, RunStatus
from store.problems import Problem, ProblemCode, failure
from store.schemas import LabelsOut, RunOut, StoredAs
from store.settings import Settings

METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")


class ChildOut(BaseModel):
    variant: str
    repeat: int
    run: RunOut


ComparisonStatus = Literal["running", "succeeded", "failed", "cancelled"]


class ComparisonOut(LabelsOut):
    """A comparison: its request, its children and how they stand."""

    id: str
    status: ComparisonStatus = Field(
        description="running while children run or variants wait for their range test; then failed if any "
        "child failed, else cancelled if any was cancelled, else succeeded"
    )
    created_at: datetime
    pending_release: bool = Field(
        description="Whether cyclic variants still wait for the range test's bounds"
    )
    release_error: Annotated[dict[str, Any], StoredAs((Problem,))] | None = Field(
        description="Why the held variants were not started"
    )
    counts: dict[RunStatus, int] = Field(description="Children by status")
    request: Annotated[dict[str, Any], StoredAs((ComparisonCreate,))] = Field(
        description="The comparison as it runs: every default filled in, without the labels"
    )
    children: list[ChildOut]


class ComparisonPage(BaseModel):
    items: list[ComparisonOut]
    next_cursor: str | None


class VariantCurves(BaseModel):
    runs: int
    epoch: list[int]
    mean: dict[str, list[float | None]]
    std: dict[str, list[float | None]]


class VariantSummary(BaseModel):
    runs: int
    best_val_accuracy_mean: float | None
    best_val_accuracy_std: float | None
    final_val_accuracy_mean: float | None
    final_val_accuracy_std: float | None


class ComparisonCurves(BaseModel):
    comparison_id: str
    status: str
    variants: dict[str, VariantCurves]
    summary: dict[str, VariantSummary]


def create(
    *,
    session: Session,
    settings: Settings,
    owner: str,
    spec: ComparisonCreate,
    request_id: str | None = None,
) -> Comparison:
    """Admit every child as a job of its own, then commit the comparison with the children that can start
    now under the owner's queue limit (a relay sends them to the broker)."""
    planned = admitted_children(settings=settings, spec=spec)
    comparison = comparisons.create_comparison(
        session=session,
        owner=owner,
        spec=spec,
        planned=[child for child in planned if not child.held],
        max_attempts=settings.max_attempts,
        max_queued=settings.max_queued_per_owner,
        request_id=request_id,
    )
    if comparison is None:
        session.rollback()
        raise ApiError(
            ProblemCode.TOO_MANY_QUEUED,
            f"{spec.child_count} more runs would exceed the limit of "
            f"{settings.max_queued_per_owner} queued runs",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    session.commit()
    return comparison


def admitted_children(*, settings: Settings, spec: ComparisonCreate) -> list[PlannedChild]:
    """Every child the comparison will run (held variants still without bounds), each admitted as a job."""
    total = spec.child_count * spec.epochs
    if total > settings.max_comparison_epochs:
        detail = f"runs x epochs is {total}, above the limit of {settings.max_comparison_epochs}"
        error = {"loc": ["body", "repeats"], "msg": detail, "type": "limit_exceeded"}
        raise ApiError(ProblemCode.LIMIT_EXCEEDED, detail, errors=[error])
    try:
        planned = plan_children(spec, with_held=True)
    except ChildNotAJob as invalid:
        raise validation_errors(invalid.error.errors(), prefix=_located(spec, invalid.variant)) from invalid
    known: KnownFacts = {}
    for child in planned:
        at = _located(spec, child.variant)
        admit(settings=settings, job=child.job, at=at, complete=not child.held, known=known)
    return planned


def _located(spec: ComparisonCreate, variant: str) -> tuple[str | int, ...]:
    """Where a child's fields come from in the comparison's body: its variant, or the body itself."""
    names = [v.name for v in spec.variants]
    return ("body", "variants", names.index(variant)) if variant in names else ("body",)


def overall_status(comparison: Comparison, children: list[Run]) -> ComparisonStatus:
    """running while any child is unfinished or variants are held; then failed if any child failed, else
    cancelled if any was cancelled, else succeeded (a failure is never hidden behind a cancellation)."""
    states = {RunStatus(run.status) for run in children}
    if comparison.pending_release or not states or any(not s.is_terminal for s in states):
        return "running"
    if states == {RunStatus.SUCCEEDED}:
        return "succeeded"
    return "failed" if RunStatus.FAILED in states else "cancelled"


def comparison_out(*, session: Session, comparison: Comparison) -> ComparisonOut:
    found = comparisons.children(session=session, comparison_id=comparison.id)
    counts: dict[str, int] = defaultdict(int)
    items = []
    for run in found:
        counts[run.status] += 1
        items.append(ChildOut(variant=run.variant or "?", repeat=run.repeat or 0, run=run_out(run)))
    return ComparisonOut(
        id=comparison.id,
        status=overall_status(comparison, found),
        created_at=comparison.created_at.replace(tzinfo=comparison.created_at.tzinfo or UTC),
        pending_release=comparison.pending_release,
        release_error=comparison.release_error,
        counts=dict(counts),
        request=comparison.request,
        children=items,
        name=comparison.name,
        tags=comparison.tags,
        metadata=comparison.meta,
    )


def page(
    *, session: Session, owner: str, limit: int, where: LabelFilter, cursor: str | None
) -> ComparisonPage:
    """Up to `limit` comparisons passing `where` older than `cursor`, newest first, and the next cursor."""
    found = comparisons.list_comparisons(
        session=session, owner=owner, limit=limit + 1, where=where, before=cursor
    )
    next_cursor = found[limit - 1].id if len(found) > limit else None
    items = [comparison_out(session=session, comparison=c) for c in found[:limit]]
    return ComparisonPage(items=items, next_cursor=next_cursor)


def curves(*, session: Session, comparison: Comparison) -> ComparisonCurves:
    """Per variant and epoch, mean and std over the repeats that reached that epoch."""
    found = comparisons.children(session=session, comparison_id=comparison.id)
    by_variant: dict[str, list[str]] = defaultdict(list)
    for run in found:
        if run.variant is not None and run.variant != LR_FIND_VARIANT:
            by_variant[run.variant].append(run.id)
    rows = comparisons.epochs_of(session=session, run_ids=[run.id for run in found])
    variants: dict[str, VariantCurves] = {}
    summary: dict[str, VariantSummary] = {}
    for variant, run_ids in by_variant.items():
        epochs = sorted({row.epoch for run_id in run_ids for row in rows[run_id]})
        mean: dict[str, list[float | None]] = {name: [] for name in METRICS}
        std: dict[str, list[float | None]] = {name: [] for name in METRICS}
        for epoch in epochs:
            for name in METRICS:
                values = [getattr(r, name) for run_id in run_ids for r in rows[run_id] if r.epoch == epoch]
                m, s = _mean_std([v for v in values if v is not None])
                mean[name].append(m)
                std[name].append(s)
        variants[variant] = VariantCurves(runs=len(run_ids), epoch=epochs, mean=mean, std=std)
        accuracies = [
            vals
            for run_id in run_ids
            if (vals := [r.val_accuracy for r in rows[run_id] if r.val_accuracy is not None])
        ]
        best_mean, best_std = _mean_std([max(vals) for vals in accuracies])
        final_mean, final_std = _mean_std([vals[-1] for vals in accuracies])
        summary[variant] = VariantSummary(
            runs=len(run_ids),
            best_val_accuracy_mean=best_mean,
            best_val_accuracy_std=best_std,
            final_val_accuracy_mean=final_mean,
            final_val_accuracy_std=final_std,
        )
    status = overall_status(comparison, found)
    return ComparisonCurves(comparison_id=comparison.id, status=status, variants=variants, summary=summary)


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    """Mean and population std of the finite values; None for none."""
    finite = np.asarray([v for v in values if np.isfinite(v)], dtype=np.float64)
    if finite.size == 0:
        return None, None
    return float(finite.mean()), float(finite.std())


def cancel(*, session: Session, comparison: Comparison) -> ComparisonOut:
    """Cancel every unfinished child and stop held variants from being created."""
    comparisons.stop_release(
        session=session,
        comparison_id=comparison.id,
        error=failure(
            ProblemCode.CANCELLED,
            "Comparison cancelled",
            "the comparison was cancelled before its variants were released",
        ),
    )
    session.commit()
    # A commit per child: cancelling a queued run locks its owner's queue counter until commit, and holding
    # that while waiting for the next child's row could deadlock with a worker starting that child.
    for run in comparisons.children(session=session, comparison_id=comparison.id):
        if not RunStatus(run.status).is_terminal:
            runs.request_cancel(session=session, run_id=run.id)
            session.commit()
    session.expire_all()
    cancelled = comparisons.get_comparison(
        session=session, comparison_id=comparison.id, owner=comparison.owner
    )
    if cancelled is None:  # every child ended, and another request deleted the comparison
        raise ApiError(ProblemCode.NOT_FOUND, f"no comparison with id {comparison.id!r}")
    return comparison_out(session=session, comparison=cancelled)


def delete(*, session: Session, comparison: Comparison, artifact_dir: Path) -> None:
    """Delete a comparison whose children all ended, with the children and their files; 409 otherwise."""
    deleted = comparisons.delete_finished(
        session=session, comparison_id=comparison.id, owner=comparison.owner
    )
    if deleted is None:
        session.rollback()
        raise ApiError(
            ProblemCode.COMPARISON_ACTIVE,
            f"comparison {comparison.id} has runs queued, running or waiting for its range test; "
            "cancel it and delete it once they ended",
        )
    session.commit()
    remove_artifacts(artifact_dir=artifact_dir, run_ids=deleted)
