"""The per-owner queued-runs counter kept by triggers matches the runs through every status change."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.hotpath import make_hot_path
from store import runs
from store.db import make_engine, make_sessionmaker, transaction
from store.migrate import alembic_config, upgrade
from store.models import ApiKey, Comparison, OwnerQueue, Run, RunKind, RunStatus
from tests.store.test_runs import new_run, reap_all


def new_owner() -> str:
    return f"queue-{uuid.uuid4().hex[:10]}"


def queued(session: Session, owner: str) -> int:
    """The counter, after checking it against a count of the runs themselves."""
    counted = runs.count_queued(session=session, owner=owner)
    real = session.scalar(select(func.count()).where(Run.owner == owner, Run.status == RunStatus.QUEUED))
    assert counted == real
    return counted


def test_an_owner_without_runs_has_none_queued(session: Session) -> None:
    assert queued(session, new_owner()) == 0


def test_counter_follows_inserts_starts_cancels_and_failures(session: Session) -> None:
    owner, other = new_owner(), new_owner()
    first, second, third, fourth = (new_run(session, owner) for _ in range(4))
    new_run(session, other)
    assert queued(session, owner) == 4
    assert runs.start_run(session=session, run_id=first.id, worker="w")
    assert queued(session, owner) == 3
    runs.record_progress(session=session, run_id=first.id, step=1, total=10, epoch=0)
    assert runs.request_cancel(session=session, run_id=second.id) == RunStatus.CANCELLED
    assert queued(session, owner) == 2
    assert runs.request_cancel(session=session, run_id=first.id) == RunStatus.CANCELLING
    assert runs.transition(session=session, run_id=third.id, to=RunStatus.FAILED)
    assert queued(session, owner) == 1
    assert runs.transition(session=session, run_id=first.id, to=RunStatus.CANCELLED)
    assert runs.transition(session=session, run_id=fourth.id, to=RunStatus.RUNNING)
    assert runs.transition(session=session, run_id=fourth.id, to=RunStatus.SUCCEEDED)
    assert queued(session, owner) == 0
    assert queued(session, other) == 1


def test_reaper_requeue_counts_the_run_again(session: Session) -> None:
    owner = new_owner()
    run = new_run(session, owner)
    assert runs.start_run(session=session, run_id=run.id, worker="w")
    assert queued(session, owner) == 0
    old = runs.utcnow() - timedelta(seconds=120)
    session.execute(update(Run).where(Run.id == run.id).values(heartbeat_at=old))
    assert reap_all(session, run.id) == [run.id]
    assert queued(session, owner) == 1


def test_deleting_a_comparison_uncounts_its_queued_children(session: Session) -> None:
    owner = new_owner()
    comparison = Comparison(id=uuid.uuid4().hex, owner=owner, request={}, created_at=runs.utcnow())
    session.add(comparison)
    session.flush()
    children = [new_run(session, owner, comparison_id=comparison.id) for _ in range(3)]
    new_run(session, owner)
    assert runs.start_run(session=session, run_id=children[0].id, worker="w")
    assert queued(session, owner) == 3
    session.execute(delete(Comparison).where(Comparison.id == comparison.id))
    session.expunge_all()
    assert session.scalar(select(func.count()).where(Run.comparison_id == comparison.id)) == 0
    assert queued(session, owner) == 1


def test_accept_refuses_once_the_owner_has_max_queued(session_factory: sessionmaker[Session]) -> None:
    owner = new_owner()

    async def accept_three() -> list[bool]:
        hot = make_hot_path(session_factory, pool_size=1)
        try:
            return [await hot.accept(unsaved_run(owner), max_queued=2) for _ in range(3)]
        finally:
            await hot.close()

    assert asyncio.run(accept_three()) == [True, True, False]
    with session_factory() as session:
        assert queued(session, owner) == 2


def test_concurrent_accepts_admit_exactly_max_queued(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    factory = make_sessionmaker(engine)
    owners, limit, attempts = [new_owner() for _ in range(5)], 5, 40
    with transaction(factory) as session:
        # An owner's counter row exists once it has had a run; accepts lock that row to take turns.
        for owner in owners:
            runs.request_cancel(session=session, run_id=new_run(session, owner).id)

    async def accept_all(owner: str) -> list[bool]:
        hot = make_hot_path(factory, pool_size=4)
        try:
            return await asyncio.gather(
                *(hot.accept(unsaved_run(owner), max_queued=limit) for _ in range(attempts))
            )
        finally:
            await hot.close()

    try:
        admitted = {owner: sum(asyncio.run(accept_all(owner))) for owner in owners}
        assert admitted == dict.fromkeys(owners, limit)
        with factory() as session:
            assert [queued(session, owner) for owner in owners] == [limit] * len(owners)
    finally:
        engine.dispose()


def unsaved_run(owner: str) -> Run:
    return runs.new_run(owner=owner, kind=RunKind.LR_FIND, request={"x": 1}, max_attempts=2)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_the_migration_counts_existing_queued_runs_and_gives_key_owners_a_row(
    kind: str, own_database: Callable[[str], str]
) -> None:
    url = own_database(kind)
    command.downgrade(alembic_config(url), "0003")
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with transaction(factory) as session:
        session.add(ApiKey(owner="keyed", prefix="p", key_hash="h", created_at=runs.utcnow()))
        queued = [new_run(session, "busy").id for _ in range(3)]
        runs.start_run(session=session, run_id=queued[0], worker="w")

    upgrade(url)

    with factory() as session:
        counters = dict(session.execute(select(OwnerQueue.owner, OwnerQueue.queued)).all())
    engine.dispose()
    assert counters == {"busy": 2, "keyed": 0}
