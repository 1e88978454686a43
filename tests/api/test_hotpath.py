"""The hot reads (asyncpg on PostgreSQL, the ORM on SQLite) return what the ORM returns."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from api.hotpath import make_hot_path
from api.views import run_out
from store import runs
from store.db import transaction
from store.models import RunKind, RunStatus

pytestmark = pytest.mark.anyio


async def test_a_run_read_off_thread_has_the_orms_values(session_factory: sessionmaker[Session]) -> None:
    request = {"model": {"name": "vanilla_cnn"}, "nested": [1.5, None, "x"]}
    with transaction(session_factory) as session:
        created = runs.create_run(
            session=session, owner="reader", kind=RunKind.LR_FIND, request=request, max_attempts=2
        )
        runs.transition(session=session, run_id=created.id, to=RunStatus.RUNNING, result={"a": 1.0})
    with session_factory() as session:
        expected = runs.get_run(session=session, run_id=created.id, owner="reader")
    assert expected is not None
    reads = make_hot_path(session_factory, pool_size=1)
    try:
        found = await reads.run(run_id=created.id, owner="reader")
        assert await reads.run(run_id=created.id, owner="someone-else") is None
        assert await reads.run(run_id="missing", owner="reader") is None
    finally:
        await reads.close()
    assert found is not None
    assert run_out(found) == run_out(expected)
    assert found.request == request
