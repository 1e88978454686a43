"""Data access for runs: creation, lookup, listing and the state machine's conditional updates."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from store.ids import new_id
from store.models import OwnerQueue, Run, RunKind, RunStatus

# Every transition the service makes, keyed by the target: a run moves only from these states.
TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.RUNNING: frozenset({RunStatus.QUEUED}),
    RunStatus.SUCCEEDED: frozenset({RunStatus.RUNNING, RunStatus.CANCELLING}),
    RunStatus.FAILED: frozenset({RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.CANCELLING, RunStatus.LOST}),
    RunStatus.CANCELLING: frozenset({RunStatus.RUNNING}),
    RunStatus.CANCELLED: frozenset({RunStatus.QUEUED, RunStatus.CANCELLING}),
    RunStatus.LOST: frozenset({RunStatus.RUNNING}),
    RunStatus.QUEUED: frozenset({RunStatus.LOST, RunStatus.RUNNING}),  # reaped, or drained (requeue_drained)
}
ACTIVE = (RunStatus.RUNNING, RunStatus.CANCELLING)


def utcnow() -> datetime:
    return datetime.now(UTC)


def request_digest(request: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def new_run(
    *,
    owner: str,
    kind: RunKind,
    request: dict[str, Any],
    max_attempts: int,
    idempotency_key: str | None = None,
    comparison_id: str | None = None,
    callback_url: str | None = None,
    request_hash: str | None = None,
) -> Run:
    """A queued run, not yet added to any session; `request_hash` defaults to the digest of `request`."""
    now = utcnow()
    return Run(
        id=new_id(),
        owner=owner,
        kind=kind,
        status=RunStatus.QUEUED,
        request=request,
        request_hash=request_hash or request_digest(request),
        idempotency_key=idempotency_key,
        comparison_id=comparison_id,
        callback_url=callback_url,
        max_attempts=max_attempts,
        attempt=0,
        progress_step=0,
        created_at=now,
        updated_at=now,
    )


def create_run(*, session: Session, **fields: Any) -> Run:
    """A queued run added and flushed; `fields` are those of `new_run`."""
    run = new_run(**fields)
    session.add(run)
    session.flush()
    return run


def get_run(*, session: Session, run_id: str, owner: str | None = None) -> Run | None:
    query = select(Run).where(Run.id == run_id)
    if owner is not None:
        query = query.where(Run.owner == owner)
    return session.scalars(query).one_or_none()


def find_by_idempotency_key(*, session: Session, owner: str, key: str) -> Run | None:
    query = select(Run).where(Run.owner == owner, Run.idempotency_key == key)
    return session.scalars(query).one_or_none()


def list_runs(
    *,
    session: Session,
    owner: str,
    limit: int,
    kind: RunKind | None = None,
    status: RunStatus | None = None,
    before: str | None = None,
    comparison_id: str | None = None,
) -> list[Run]:
    """Newest first; `before` is the id of the last run of the previous page."""
    query = select(Run).where(Run.owner == owner)
    if kind is not None:
        query = query.where(Run.kind == kind)
    if status is not None:
        query = query.where(Run.status == status)
    if before is not None:
        query = query.where(Run.id < before)
    if comparison_id is not None:
        query = query.where(Run.comparison_id == comparison_id)
    return list(session.scalars(query.order_by(Run.id.desc()).limit(limit)))


def count_queued(*, session: Session, owner: str) -> int:
    """The owner's queued runs: one row of the counter that triggers keep, however long the queue."""
    return session.scalar(select(OwnerQueue.queued).where(OwnerQueue.owner == owner)) or 0


def mark_dispatched(*, session: Session, run_ids: Collection[str]) -> None:
    """Record that the broker took these runs' messages."""
    statement = update(Run).where(Run.id.in_(run_ids)).values(dispatched_at=utcnow())
    session.execute(statement.execution_options(synchronize_session=False))


def transition(
    *,
    session: Session,
    run_id: str,
    to: RunStatus,
    only_from: Collection[RunStatus] | None = None,
    **values: Any,
) -> bool:
    """Move a run to `to` if it is in an allowed state; False (and nothing written) otherwise."""
    sources = TRANSITIONS[to] if only_from is None else TRANSITIONS[to] & frozenset(only_from)
    now = utcnow()
    if to.is_terminal:
        values.setdefault("finished_at", now)
    statement = (
        update(Run)
        .where(Run.id == run_id, Run.status.in_([s.value for s in sources]))
        .values(status=to, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    return session.execute(statement).rowcount == 1  # type: ignore[attr-defined, no-any-return]


def start_run(*, session: Session, run_id: str, worker: str, placement: dict[str, Any] | None = None) -> bool:
    """queued → running for one worker; a duplicate delivery of the task finds nothing to do."""
    now = utcnow()
    return transition(
        session=session,
        run_id=run_id,
        to=RunStatus.RUNNING,
        worker=worker,
        placement=placement,
        started_at=now,
        heartbeat_at=now,
        attempt=Run.attempt + 1,
    )


def requeue_drained(*, session: Session, run_id: str, worker: str) -> bool:
    """running → queued for a run its own worker handed back while shutting down (a drain).

    The attempt is given back, so a drain never counts toward max_attempts; the run is left unsent for a relay
    to send again, and the next worker resumes it from the checkpoint the drain wrote.
    """
    statement = (
        update(Run)
        .where(Run.id == run_id, Run.status == RunStatus.RUNNING, Run.worker == worker)
        .values(
            status=RunStatus.QUEUED,
            attempt=Run.attempt - 1,
            worker=None,
            dispatched_at=None,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    return session.execute(statement).rowcount == 1  # type: ignore[attr-defined, no-any-return]


def record_progress(
    *, session: Session, run_id: str, step: int, total: int | None, epoch: int | None
) -> RunStatus | None:
    """Heartbeat with progress; returns the run's status, so the worker learns of a cancel request."""
    now = utcnow()
    statement = (
        update(Run)
        .where(Run.id == run_id, Run.status.in_([s.value for s in ACTIVE]))
        .values(
            progress_step=step, progress_total=total, progress_epoch=epoch, heartbeat_at=now, updated_at=now
        )
        .execution_options(synchronize_session=False)
    )
    session.execute(statement)
    status = session.scalar(select(Run.status).where(Run.id == run_id))
    return RunStatus(status) if status is not None else None


def request_cancel(*, session: Session, run_id: str) -> RunStatus | None:
    """queued → cancelled at once; running → cancelling (the worker stops within a batch)."""
    if transition(session=session, run_id=run_id, to=RunStatus.CANCELLED, only_from={RunStatus.QUEUED}):
        return RunStatus.CANCELLED
    if transition(session=session, run_id=run_id, to=RunStatus.CANCELLING):
        return RunStatus.CANCELLING
    return None


def runs_to_dispatch(*, session: Session, undispatched_after: float, redispatch_after: float) -> list[str]:
    """Queued runs whose message never reached the broker, or may have been lost with it."""
    now = utcnow()
    never = (Run.dispatched_at.is_(None)) & (Run.created_at < now - timedelta(seconds=undispatched_after))
    stale = Run.dispatched_at < now - timedelta(seconds=redispatch_after)
    query = select(Run.id).where(Run.status == RunStatus.QUEUED, never | stale).order_by(Run.id).limit(500)
    return list(session.scalars(query))


def _silent(heartbeat_timeout: float) -> ColumnElement[bool]:
    """Active, with no heartbeat for `heartbeat_timeout` seconds."""
    cutoff = utcnow() - timedelta(seconds=heartbeat_timeout)
    return Run.status.in_([s.value for s in ACTIVE]) & (Run.heartbeat_at < cutoff)


def silent_runs(*, session: Session, heartbeat_timeout: float) -> list[str]:
    """Ids of the active runs whose worker sent no heartbeat for `heartbeat_timeout` seconds."""
    return list(session.scalars(select(Run.id).where(_silent(heartbeat_timeout)).order_by(Run.id)))


def reap(*, session: Session, run_id: str, heartbeat_timeout: float) -> bool:
    """Mark a silent run lost, then queue it again or fail it; True if it was queued again.

    Give each run a transaction of its own: moving a run into 'queued' locks its owner's queue counter
    until commit, and a transaction holding it while it waits for another run's row can deadlock with a
    worker that has locked that run and waits for the counter.
    """
    # Read again, locked: a heartbeat may have come since `silent_runs` looked.
    still_silent = (
        select(Run)
        .where(Run.id == run_id, _silent(heartbeat_timeout))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    run = session.scalars(still_silent).one_or_none()
    if run is None:
        return False
    reason = f"worker {run.worker} stopped sending heartbeats for {heartbeat_timeout:.0f} s"
    if run.status == RunStatus.CANCELLING:
        transition(session=session, run_id=run.id, to=RunStatus.CANCELLED)
        return False
    if not transition(session=session, run_id=run.id, to=RunStatus.LOST):
        return False
    if run.attempt < run.max_attempts:
        transition(session=session, run_id=run.id, to=RunStatus.QUEUED, dispatched_at=None, worker=None)
        return True
    error = {
        "code": "worker_lost",
        "title": "Worker lost",
        "detail": f"{reason}; gave up after {run.attempt} attempt(s)",
        "status": 500,
    }
    transition(session=session, run_id=run.id, to=RunStatus.FAILED, error=error)
    return False


def claim_undispatched(*, session: Session, limit: int) -> list[str]:
    """Mark up to `limit` queued runs never sent as dispatched, oldest first, in one statement; their ids.

    Rows another relay has locked are skipped, not waited for (PostgreSQL); on SQLite the statement runs
    alone under the database's write lock. Commit before publishing, so no lock is held over the broker call.
    """
    unsent = (
        select(Run.id)
        .where(Run.status == RunStatus.QUEUED, Run.dispatched_at.is_(None))
        .order_by(Run.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(Run)
        .where(Run.id.in_(unsent.scalar_subquery()))
        .values(dispatched_at=utcnow())
        .returning(Run.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(session.scalars(statement))  # ids sort by creation time


def unmark_dispatched(*, session: Session, run_ids: Collection[str]) -> None:
    """Runs whose messages the broker refused: unsent again, for the next relay pass."""
    statement = (
        update(Run).where(Run.id.in_(run_ids), Run.status == RunStatus.QUEUED).values(dispatched_at=None)
    )
    session.execute(statement.execution_options(synchronize_session=False))
