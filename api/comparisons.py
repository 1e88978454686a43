"""Comparison commands and views behind the /comparisons routes: create, read, aggregate, cancel."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.errors import ApiError
from api.views import run_out
from store import comparisons, runs
from store.comparison_specs import LR_FIND_VARIANT, ComparisonCreate, parse_child_key
from store.models import Comparison, Run, RunStatus
from store.schemas import RunOut
from store.settings import Settings

METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")


class ChildOut(BaseModel):
    variant: str
    repeat: int
    run: RunOut


class ComparisonOut(BaseModel):
    id: str
    status: str
    created_at: datetime
    pending_release: bool
    release_error: dict[str, Any] | None
    counts: dict[str, int]
    request: dict[str, Any]
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
) -> Comparison:
    """Check the limits and commit the comparison with its children (a relay sends them to the broker)."""
    check_limits(settings=settings, spec=spec)
    queued = runs.count_queued(session=session, owner=owner)
    if queued + spec.child_count > settings.max_queued_per_owner:
        raise ApiError(
            429,
            "too_many_queued",
            f"{spec.child_count} more runs would exceed the limit of "
            f"{settings.max_queued_per_owner} queued runs",
            headers={"Retry-After": "30"},
        )
    comparison, _ = comparisons.create_comparison(
        session=session, owner=owner, spec=spec, max_attempts=settings.max_attempts
    )
    session.commit()
    return comparison


def check_limits(*, settings: Settings, spec: ComparisonCreate) -> None:
    checks: list[tuple[str, int, int]] = [
        ("batch_size", spec.batch_size, settings.max_batch_size),
        ("epochs", spec.epochs, settings.max_epochs),
        ("runs x epochs", spec.child_count * spec.epochs, settings.max_comparison_epochs),
    ]
    errors: list[dict[str, Any]] = [
        {
            "loc": ["body", name],
            "msg": f"{name} is {value}, above the limit of {limit}",
            "type": "limit_exceeded",
        }
        for name, value, limit in checks
        if value > limit
    ]
    if errors:
        raise ApiError(422, "limit_exceeded", "; ".join(e["msg"] for e in errors), errors=errors)


def overall_status(comparison: Comparison, children: list[Run]) -> str:
    """running while any child is unfinished or variants are held; otherwise how the children ended."""
    states = {RunStatus(run.status) for run in children}
    if comparison.pending_release or not states or any(not s.is_terminal for s in states):
        return "running"
    if states == {RunStatus.SUCCEEDED}:
        return "succeeded"
    return "cancelled" if RunStatus.CANCELLED in states else "failed"


def comparison_out(*, session: Session, comparison: Comparison) -> ComparisonOut:
    found = comparisons.children(session=session, comparison_id=comparison.id)
    counts: dict[str, int] = defaultdict(int)
    items = []
    for run in found:
        counts[run.status] += 1
        variant, repeat = parse_child_key(run.idempotency_key) or ("?", 0)
        items.append(ChildOut(variant=variant, repeat=repeat, run=run_out(run)))
    return ComparisonOut(
        id=comparison.id,
        status=overall_status(comparison, found),
        created_at=comparison.created_at.replace(tzinfo=comparison.created_at.tzinfo or UTC),
        pending_release=comparison.pending_release,
        release_error=comparison.release_error,
        counts=dict(counts),
        request=comparison.request,
        children=items,
    )


def page(*, session: Session, owner: str, limit: int, cursor: str | None) -> ComparisonPage:
    found = comparisons.list_comparisons(session=session, owner=owner, limit=limit + 1, before=cursor)
    next_cursor = found[limit - 1].id if len(found) > limit else None
    items = [comparison_out(session=session, comparison=c) for c in found[:limit]]
    return ComparisonPage(items=items, next_cursor=next_cursor)


def curves(*, session: Session, comparison: Comparison) -> ComparisonCurves:
    """Per variant and epoch, mean and std over the repeats that reached that epoch."""
    found = comparisons.children(session=session, comparison_id=comparison.id)
    by_variant: dict[str, list[str]] = defaultdict(list)
    for run in found:
        label = parse_child_key(run.idempotency_key)
        if label is not None and label[0] != LR_FIND_VARIANT:
            by_variant[label[0]].append(run.id)
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
        error={
            "code": "cancelled",
            "detail": "the comparison was cancelled before its variants were released",
        },
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
    assert cancelled is not None, "a comparison is never deleted"
    return comparison_out(session=session, comparison=cancelled)
