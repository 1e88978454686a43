"""Work over several runs never holds an owner's queue counter while it waits for another run's row.

A worker starting a run locks that run, then (through the trigger) its owner's counter. A transaction that
took the counter for one run and then waited for another run's row could deadlock with it, so these paths
commit run by run. Each test holds a run's row from another connection and checks, while the path waits on
it, that the counter is free and the runs before it are committed. PostgreSQL only: SQLite locks the file.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.comparisons import cancel
from dispatch.supervisor import reap_silent
from store import comparisons, keys, runs
from store.comparison_specs import COMPARISON, plan_children
from store.db import make_engine, make_sessionmaker, transaction
from store.models import Comparison, OwnerQueue, Run, RunStatus

WAITING = sa.text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


@pytest.fixture(scope="module")
def engine(own_database: Callable[[str], str]) -> Iterator[Engine]:
    """A database of these tests' own: the reaper here must meet no other test's silent runs."""
    engine = make_engine(own_database("postgres"))
    yield engine
    engine.dispose()


@pytest.fixture
def owner(engine: Engine) -> str:
    """A fresh owner with a key, so its queue counter row exists."""
    name = f"locks-{uuid.uuid4().hex[:8]}"
    with transaction(make_sessionmaker(engine)) as session:
        keys.create_key(session=session, owner=name)
    return name


def while_row_is_held(
    engine: Engine, run_id: str, work: Callable[[], object], check: Callable[[], None]
) -> None:
    """Hold `run_id`'s row from another connection, start `work`, `check` once it waits, then let it go."""
    with engine.connect() as holder:
        holder.execute(select(Run.id).where(Run.id == run_id).with_for_update())
        thread = threading.Thread(target=work)
        thread.start()
        deadline = time.monotonic() + 20
        with engine.connect() as probe:
            while not probe.execute(WAITING).scalar():
                # pg_stat_activity is read once per transaction (stats_fetch_consistency): read it anew
                probe.rollback()
                assert thread.is_alive(), "the work ended without waiting for the held row"
                assert time.monotonic() < deadline, "the work never waited for the held row"
                time.sleep(0.02)
        check()
        holder.rollback()
    thread.join(timeout=30)
    assert not thread.is_alive()


def counter_is_free(engine: Engine, owner: str) -> bool:
    """Whether the owner's counter row can be locked now (NOWAIT raises if another transaction holds it)."""
    with engine.connect() as probe:
        try:
            probe.execute(select(OwnerQueue).where(OwnerQueue.owner == owner).with_for_update(nowait=True))
        except sa.exc.OperationalError:
            return False
        finally:
            probe.rollback()
    return True


def statuses(factory: sessionmaker[Session], run_ids: list[str]) -> list[str]:
    with factory() as session:
        rows = session.execute(select(Run.id, Run.status).where(Run.id.in_(run_ids)))
        found = {row.id: row.status for row in rows}
    return [found[run_id] for run_id in run_ids]


def test_cancelling_a_comparison_holds_no_queue_counter_while_it_waits_for_a_child(
    engine: Engine, owner: str
) -> None:
    factory = make_sessionmaker(engine)
    spec = COMPARISON.validate_python(
        {"model": {"name": "vanilla_cnn"}, "dataset": {"name": "digits"}, "epochs": 1, "repeats": 1}
    )
    with transaction(factory) as session:
        created = comparisons.create_comparison(
            session=session,
            owner=owner,
            spec=spec,
            planned=plan_children(spec),
            max_attempts=1,
            max_queued=100,
        )
        assert created is not None
        comparison = created
        child_ids = [run.id for run in comparisons.children(session=session, comparison_id=comparison.id)]
    assert len(child_ids) >= 3

    def work() -> None:
        with factory() as session:
            cancel(session=session, comparison=session.get_one(Comparison, comparison.id))

    def check() -> None:
        assert counter_is_free(engine, owner)
        assert statuses(factory, child_ids[:1]) == [RunStatus.CANCELLED]

    while_row_is_held(engine, child_ids[1], work, check)

    assert set(statuses(factory, child_ids)) == {RunStatus.CANCELLED}
    with factory() as session:
        assert runs.count_queued(session=session, owner=owner) == 0


def test_the_reaper_holds_no_queue_counter_while_it_waits_for_a_silent_run(
    engine: Engine, owner: str
) -> None:
    factory = make_sessionmaker(engine)
    with transaction(factory) as session:
        silent = [
            runs.create_run(session=session, owner=owner, kind="lr_find", request={}, max_attempts=2).id
            for _ in range(3)
        ]
    with transaction(factory) as session:
        for run_id in silent:
            runs.start_run(session=session, run_id=run_id, worker="gone")
        old = runs.utcnow() - timedelta(hours=1)
        session.execute(update(Run).where(Run.id.in_(silent)).values(heartbeat_at=old))
    silent.sort()  # the reaper's order
    requeued: list[str] = []

    def check() -> None:
        assert counter_is_free(engine, owner)
        assert statuses(factory, silent[:1]) == [RunStatus.QUEUED]

    while_row_is_held(
        engine, silent[1], lambda: requeued.extend(reap_silent(factory=factory, heartbeat_timeout=60)), check
    )

    assert set(silent) <= set(requeued)
    assert statuses(factory, silent) == [RunStatus.QUEUED] * 3
    with factory() as session:
        assert runs.count_queued(session=session, owner=owner) == 3
