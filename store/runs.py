"""Data access for runs: creation, lookup, listing and the state machine's conditional updates."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.orm import Session

from store import counters
from store.filters import RunFilter, as_utc, run_conditions
from store.ids import new_id
from store.models import TERMINAL_STATUSES, OwnerQueue, Run, RunKind, RunStatus, RunTag
from store.problems import ProblemCode, failure

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
    variant: str | None = None,
    repeat: int | None = None,
    callback_url: str | None = None,
    request_hash: str | None = None,
    name: str | None = None,
    tags: Collection[str] = (),
    meta: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> Run:
    """A queued run with its tag rows, not in any session; `request_hash` defaults to `request`'s digest."""
    now = utcnow()
    run_id = new_id(now)
    return Run(
        id=run_id,
        owner=owner,
        kind=kind,
        status=RunStatus.QUEUED,
        request=request,
        request_hash=request_hash or request_digest(request),
        idempotency_key=idempotency_key,
        comparison_id=comparison_id,
        variant=variant,
        repeat=repeat,
        callback_url=callback_url,
        max_attempts=max_attempts,
        attempt=0,
        drains=0,
        progress_step=0,
        created_at=now,
        updated_at=now,
        name=name,
        tags=list(tags),
        meta=meta or {},
        request_id=request_id,
        tag_rows=[RunTag(run_id=run_id, owner=owner, tag=tag) for tag in tags],
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
    *, session: Session, owner: str, limit: int, where: RunFilter | None = None, before: str | None = None
) -> list[Run]:
    """The owner's runs that pass `where`, newest first; `before` is the last id of the previous page."""
    query = select(Run).where(*run_conditions(owner=owner, where=where or RunFilter()))
    if before is not None:
        query = query.where(Run.id < before)
    return list(session.scalars(query.order_by(Run.id.desc()).limit(limit)))


def delete_terminal(*, session: Session, run_id: str, owner: str) -> bool:
    """Delete the owner's ended run with its series, epochs and tags; False (nothing deleted) otherwise."""
    # No transition leaves an ended state, so no worker or supervisor can revive the row after this check.
    statement = delete(Run).where(
        Run.id == run_id,
        Run.owner == owner,
        Run.status.in_([s.value for s in TERMINAL_STATUSES]),
    )
    return session.execute(statement.execution_options(synchronize_session=False)).rowcount == 1  # type: ignore[attr-defined, no-any-return]


def count_queued(*, session: Session, owner: str) -> int:
    """The owner's queued runs: one row of the counter that triggers keep, however long the queue."""
    return session.scalar(select(OwnerQueue.queued).where(OwnerQueue.owner == owner)) or 0


def lock_queue(*, session: Session, owner: str) -> int:
    """Lock the owner's queue counter until commit and return it, so a check-then-insert holds exactly.

    A no-op UPDATE takes the row lock on PostgreSQL and SQLite's write lock before the read, where a read
    first could not later be upgraded to a write once another writer committed.
    """
    held = update(OwnerQueue).where(OwnerQueue.owner == owner).values(queued=OwnerQueue.queued)
    session.execute(held.execution_options(synchronize_session=False))
    return count_queued(session=session, owner=owner)


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
    of_attempt: int | None = None,
    **values: Any,
) -> bool:
    """Move a run to `to` if it is in an allowed state (and, given `of_attempt`, still in that attempt);
    False (and nothing written) otherwise."""
    sources = TRANSITIONS[to] if only_from is None else TRANSITIONS[to] & frozenset(only_from)
    now = utcnow()
    if to.is_terminal:
        values.setdefault("finished_at", now)
    where = [Run.id == run_id, Run.status.in_([s.value for s in sources])]
    if of_attempt is not None:
        where.append(Run.attempt == of_attempt)
    statement = (
        update(Run)
        .where(*where)
        .values(status=to, updated_at=now, **values)
        .returning(Run.kind, Run.started_at)
        .execution_options(synchronize_session=False)
    )
    moved = session.execute(statement).first()
    if moved is None:
        return False
    if to.is_terminal:
        started = moved.started_at
        seconds = None if started is None else (values["finished_at"] - as_utc(started)).total_seconds()
        counters.count_ending(session=session, run_id=run_id, kind=moved.kind, status=to, seconds=seconds)
    return True


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


def requeue_drained(*, session: Session, run_id: str, attempt: int) -> bool:
    """running → queued for a run its own attempt handed back while its worker shut down (a drain).

    The attempt number only ever grows (writes are fenced on it); the drain is counted in `drains` instead,
    and attempts handed back that way do not count toward max_attempts. The run is left unsent for a relay
    to send again, and the next worker resumes it from the checkpoint the drain wrote.
    """
    return transition(
        session=session,
        run_id=run_id,
        to=RunStatus.QUEUED,
        only_from={RunStatus.RUNNING},
        of_attempt=attempt,
        drains=Run.drains + 1,
        worker=None,
        dispatched_at=None,
    )


def record_progress(
    *, session: Session, run_id: str, attempt: int, step: int, total: int | None, epoch: int | None
) -> RunStatus | None:
    """The heartbeat of the worker running `attempt`, with its progress, as the first write of a transaction.

    Returns the run's status (a cancel request shows here), and holds the run's row until commit, so the
    rest of the transaction is written by the run's current attempt. None, with nothing written, when
    `attempt` is not the run's active one any more (reaped, retried): that worker is fenced off.
    """
    now = utcnow()
    statement = (
        update(Run)
        .where(Run.id == run_id, Run.attempt == attempt, Run.status.in_([s.value for s in ACTIVE]))
        .values(
            progress_step=step, progress_total=total, progress_epoch=epoch, heartbeat_at=now, updated_at=now
        )
        .returning(Run.status)
        .execution_options(synchronize_session=False)
    )
    status = session.execute(statement).scalar_one_or_none()
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
    if run.failed_attempts < run.max_attempts:
        transition(session=session, run_id=run.id, to=RunStatus.QUEUED, dispatched_at=None, worker=None)
        return True
    error = failure(
        ProblemCode.WORKER_LOST, "Worker lost", f"{reason}; gave up after {run.failed_attempts} attempt(s)"
    )
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
