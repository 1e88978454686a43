"""Data access for comparisons: creating one with its children, reading them, releasing held variants."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from store import runs
from store.comparison_specs import (
    COMPARISON,
    LR_FIND_VARIANT,
    ChildNotAJob,
    ComparisonCreate,
    PlannedChild,
    bounds_from,
    comparison_request,
    plan_children,
)
from store.filters import LabelFilter, comparison_conditions
from store.ids import new_id
from store.jobspec import kind_of, request_of
from store.models import TERMINAL_STATUSES, Comparison, ComparisonTag, EpochMetric, Run, RunStatus
from store.problems import ProblemCode, failure


def create_comparison(
    *,
    session: Session,
    owner: str,
    spec: ComparisonCreate,
    planned: Sequence[PlannedChild],
    max_attempts: int,
    max_queued: int,
    request_id: str | None = None,
) -> Comparison | None:
    """The comparison and the children that can start now (flushed, not committed); None, with nothing
    written, when they would take the owner past `max_queued` queued runs.

    The owner's queue counter row is locked first (`runs.lock_queue`), so concurrent submits of one owner
    take turns and the limit holds exactly, as for single runs.
    """
    queued = runs.lock_queue(session=session, owner=owner)
    if queued + len(planned) > max_queued:
        return None
    now = runs.utcnow()
    comparison_id = new_id(now)
    comparison = Comparison(
        id=comparison_id,
        owner=owner,
        request=comparison_request(spec),
        created_at=now,
        pending_release=bool(spec.held_variants),
        name=spec.name,
        tags=spec.tags,
        meta=spec.metadata,
        tag_rows=[ComparisonTag(comparison_id=comparison_id, owner=owner, tag=tag) for tag in spec.tags],
    )
    session.add(comparison)
    session.flush()
    _create_children(
        session=session,
        comparison=comparison,
        planned=planned,
        max_attempts=max_attempts,
        request_id=request_id,
    )
    return comparison


def _create_children(
    *,
    session: Session,
    comparison: Comparison,
    planned: Sequence[PlannedChild],
    max_attempts: int,
    request_id: str | None = None,
) -> list[Run]:
    return [
        runs.create_run(
            session=session,
            owner=comparison.owner,
            kind=kind_of(child.job),
            request=request_of(child.job),
            max_attempts=max_attempts,
            comparison_id=comparison.id,
            variant=child.variant,
            repeat=child.repeat,
            name=comparison.name,
            tags=comparison.tags,
            meta=comparison.meta,
            request_id=request_id,
        )
        for child in planned
    ]


def get_comparison(*, session: Session, comparison_id: str, owner: str) -> Comparison | None:
    query = select(Comparison).where(Comparison.id == comparison_id, Comparison.owner == owner)
    return session.scalars(query).one_or_none()


def list_comparisons(
    *, session: Session, owner: str, limit: int, where: LabelFilter | None = None, before: str | None = None
) -> list[Comparison]:
    """The owner's comparisons that pass `where`, newest first; `before` is the previous page's last id."""
    query = select(Comparison).where(*comparison_conditions(owner=owner, where=where or LabelFilter()))
    if before is not None:
        query = query.where(Comparison.id < before)
    return list(session.scalars(query.order_by(Comparison.id.desc()).limit(limit)))


def delete_finished(*, session: Session, comparison_id: str, owner: str) -> list[str] | None:
    """Delete the owner's comparison and its children if all ended and none is held; their ids, else None."""
    unfinished = exists().where(
        Run.comparison_id == Comparison.id, Run.status.not_in([s.value for s in TERMINAL_STATUSES])
    )
    child_ids = list(session.scalars(select(Run.id).where(Run.comparison_id == comparison_id)))
    statement = delete(Comparison).where(
        Comparison.id == comparison_id,
        Comparison.owner == owner,
        Comparison.pending_release.is_(False),
        ~unfinished,
    )
    # The children, their series and tags go by ON DELETE CASCADE. Children are only ever added together
    # with clearing `pending_release` (a release) in one transaction, so a statement that sees the flag
    # cleared sees those children too: a release can never slip its queued runs into this delete.
    deleted = session.execute(statement.execution_options(synchronize_session=False)).rowcount == 1  # type: ignore[attr-defined]
    return child_ids if deleted else None


def children(*, session: Session, comparison_id: str) -> list[Run]:
    """The comparison's runs, oldest first."""
    query = select(Run).where(Run.comparison_id == comparison_id).order_by(Run.id)
    return list(session.scalars(query))


def epochs_of(*, session: Session, run_ids: Sequence[str]) -> dict[str, list[EpochMetric]]:
    """Epoch rows of many runs in one query, by run id, in epoch order."""
    found: dict[str, list[EpochMetric]] = {run_id: [] for run_id in run_ids}
    if not run_ids:
        return found
    query = select(EpochMetric).where(EpochMetric.run_id.in_(list(run_ids)))
    for row in session.scalars(query.order_by(EpochMetric.run_id, EpochMetric.epoch)):
        found[row.run_id].append(row)
    return found


def stop_release(*, session: Session, comparison_id: str, error: dict[str, Any] | None) -> bool:
    """Give up on the held variants; False when another pass already released or stopped them."""
    statement = (
        update(Comparison)
        .where(Comparison.id == comparison_id, Comparison.pending_release.is_(True))
        .values(pending_release=False, release_error=error)
        .execution_options(synchronize_session=False)
    )
    return session.execute(statement).rowcount == 1  # type: ignore[attr-defined, no-any-return]


def held_comparisons(*, session: Session) -> list[str]:
    """Ids of comparisons whose variants wait for their range test, oldest first."""
    pending = select(Comparison.id).where(Comparison.pending_release.is_(True)).order_by(Comparison.id)
    return list(session.scalars(pending.limit(100)))


def release(*, session: Session, comparison_id: str, max_attempts: int) -> None:
    """Create the held variants if the comparison's range test succeeded (a relay sends them).

    Claiming the comparison is a conditional update of `pending_release`, so two passes never both create.
    Release each comparison in a transaction of its own: creating runs locks their owner's queue counter.
    """
    comparison = session.get(Comparison, comparison_id)
    if comparison is None or not comparison.pending_release:
        return
    lr_find = session.scalars(
        select(Run).where(Run.comparison_id == comparison.id, Run.variant == LR_FIND_VARIANT)
    ).one_or_none()
    if lr_find is None or not RunStatus(lr_find.status).is_terminal:
        return
    spec = COMPARISON.validate_python(comparison.request)
    bounds = bounds_from(lr_find.result, lr_find.request["base_lr_factor"])
    why = None
    if lr_find.status != RunStatus.SUCCEEDED:
        why = f"the range test {lr_find.id} ended {lr_find.status}"
    elif bounds is None:
        why = f"the range test {lr_find.id} suggested no max_lr"
    planned: list[PlannedChild] = []
    if why is None and bounds is not None:
        try:
            planned = plan_children(spec, bounds=bounds, lr_find_id=lr_find.id)
        except ChildNotAJob as invalid:
            why = f"bounds {bounds} do not fit: " + "; ".join(e["msg"] for e in invalid.error.errors())
    if why is not None:
        problem = failure(
            ProblemCode.LR_FIND_NOT_USABLE,
            "Range test not usable",
            why + "; the cyclic variants were not started",
        )
        stop_release(session=session, comparison_id=comparison.id, error=problem)
        return
    if stop_release(session=session, comparison_id=comparison.id, error=None):
        _create_children(
            session=session,
            comparison=comparison,
            planned=planned,
            max_attempts=max_attempts,
            request_id=lr_find.request_id,  # made by the comparison's request, with its id
        )
