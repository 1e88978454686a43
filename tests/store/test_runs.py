"""The run state machine: conditional updates on real databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from store import runs
from store.models import Run, RunKind, RunStatus


def new_run(session: Session, owner: str = "team-a", **extra: object) -> Run:
    return runs.create_run(
        session=session,
        owner=owner,
        kind=RunKind.LR_FIND,
        request={"x": 1},
        max_attempts=2,
        **extra,  # type: ignore[arg-type]
    )


def reap_all(session: Session, *mine: str) -> list[str]:
    """What the supervisor does (a transaction per run there) to this test's runs; the ids queued again.

    The database is shared: runs other tests left running long ago are silent too, and not this test's.
    """
    silent = [run_id for run_id in runs.silent_runs(session=session, heartbeat_timeout=60) if run_id in mine]
    return [run_id for run_id in silent if runs.reap(session=session, run_id=run_id, heartbeat_timeout=60)]


def status_of(session: Session, run_id: str) -> str:
    run = runs.get_run(session=session, run_id=run_id)
    assert run is not None
    session.refresh(run)
    return run.status


def test_duplicate_delivery_starts_a_run_only_once(session: Session) -> None:
    run = new_run(session)
    assert runs.start_run(session=session, run_id=run.id, worker="w1")
    assert not runs.start_run(session=session, run_id=run.id, worker="w2")
    session.refresh(run)
    assert (run.status, run.worker, run.attempt) == (RunStatus.RUNNING, "w1", 1)


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ([RunStatus.RUNNING, RunStatus.SUCCEEDED], True),
        ([RunStatus.SUCCEEDED], False),
        ([RunStatus.RUNNING, RunStatus.SUCCEEDED, RunStatus.FAILED], False),
        ([RunStatus.CANCELLED, RunStatus.RUNNING], False),
        ([RunStatus.RUNNING, RunStatus.LOST, RunStatus.QUEUED, RunStatus.RUNNING], True),
        ([RunStatus.LOST], False),
    ],
)
def test_transitions_only_from_allowed_states(session: Session, path: list[RunStatus], allowed: bool) -> None:
    run = new_run(session)
    results = [runs.transition(session=session, run_id=run.id, to=step) for step in path]
    assert all(results) is allowed
    assert not results[-1] or status_of(session, run.id) == path[-1]


def test_terminal_states_are_terminal() -> None:
    assert {s for s in RunStatus if s.is_terminal} == {"succeeded", "failed", "cancelled"}


def test_cancel_of_queued_run_is_immediate_and_of_running_run_cooperative(session: Session) -> None:
    queued, running = new_run(session), new_run(session)
    runs.start_run(session=session, run_id=running.id, worker="w")
    assert runs.request_cancel(session=session, run_id=queued.id) == RunStatus.CANCELLED
    assert runs.request_cancel(session=session, run_id=running.id) == RunStatus.CANCELLING
    assert runs.request_cancel(session=session, run_id=queued.id) is None
    step_status = runs.record_progress(session=session, run_id=running.id, step=3, total=10, epoch=0)
    assert step_status == RunStatus.CANCELLING


def test_reaper_requeues_silent_runs_then_fails_them_after_max_attempts(session: Session) -> None:
    run = new_run(session)
    for attempt in (1, 2):
        assert runs.start_run(session=session, run_id=run.id, worker=f"w{attempt}")
        old = runs.utcnow() - timedelta(seconds=120)
        session.execute(update(Run).where(Run.id == run.id).values(heartbeat_at=old))
        requeued = reap_all(session, run.id)
        assert requeued == ([run.id] if attempt == 1 else [])
    session.refresh(run)
    assert run.status == RunStatus.FAILED
    assert run.error is not None
    assert run.error["code"] == "worker_lost"


def test_reaper_leaves_runs_with_fresh_heartbeats(session: Session) -> None:
    run = new_run(session)
    runs.start_run(session=session, run_id=run.id, worker="w")
    assert reap_all(session, run.id) == []
    assert status_of(session, run.id) == RunStatus.RUNNING


def test_list_runs_pages_newest_first_per_owner(session: Session) -> None:
    created = [new_run(session).id for _ in range(5)]
    new_run(session, owner="team-b")
    seen: list[str] = []
    cursor = None
    while True:
        page = runs.list_runs(session=session, owner="team-a", limit=2, before=cursor)
        if not page:
            break
        seen += [run.id for run in page]
        cursor = page[-1].id
    assert seen == sorted(created, reverse=True)
