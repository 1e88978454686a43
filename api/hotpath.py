"""What most requests do to the database, kept off worker threads: a key's owner, a run, accepting a run.

On PostgreSQL these go through a small asyncpg pool on the event loop. Measured on 2 cores with
benchmarks/api_load.py, `GET /runs/{id}` served 0.2x the trivial app's requests/s when the run was read
through the ORM in a worker thread (SQLAlchemy's per-statement work and the thread hop under the GIL cost
more than the whole trivial request), and 0.5x through asyncpg. The statements are compiled from the ORM's
tables, so they name the models' columns, and a run is accepted in one statement that also checks the
owner's queue limit. On SQLite the same work runs through the ORM in a worker thread. Every other query of
the API goes through SQLAlchemy sessions.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

import anyio
import anyio.to_thread
import asyncpg
from sqlalchemy import ARRAY, Engine, Insert, Select, String, Table, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store import keys, runs
from store.db import autocommit, transaction
from store.models import ApiKey, OwnerQueue, Run, RunTag

Found = TypeVar("Found")
RUNS: Table = Run.__table__  # type: ignore[assignment]
RUN_QUERY = select(RUNS).where(Run.id == bindparam("run_id"), Run.owner == bindparam("owner"))
REPLAY_QUERY = select(RUNS).where(Run.owner == bindparam("owner"), Run.idempotency_key == bindparam("key"))
OWNER_QUERY = select(ApiKey.owner).where(ApiKey.key_hash == bindparam("digest"), ApiKey.revoked_at.is_(None))


class IdempotencyConflict(Exception):
    """Another request committed a run with the same owner and Idempotency-Key first."""


class HotPath(Protocol):
    async def run(self, *, run_id: str, owner: str) -> Run | None:
        """The owner's run `run_id`, detached from any session."""

    async def run_by_idempotency_key(self, *, owner: str, key: str) -> Run | None:
        """The owner's run first submitted with Idempotency-Key `key`."""

    async def owner_of(self, *, key: str) -> str | None:
        """The owner of an active key."""

    async def accept(self, run: Run, *, max_queued: int) -> bool:
        """Commit the new `run` unless its owner has `max_queued` runs queued already (then False)."""

    async def close(self) -> None:
        """Release the connections."""


async def read_apart(factory: sessionmaker[Session], load: Callable[[Session], Found]) -> Found:
    """`load(session)` as one autocommit statement of its own in a worker thread; rows come back detached."""

    def read() -> Found:
        with autocommit(factory) as session:
            return load(session)

    return await anyio.to_thread.run_sync(read)


def make_hot_path(factory: sessionmaker[Session], *, pool_size: int) -> HotPath:
    """asyncpg statements for a PostgreSQL engine, the ORM in a worker thread otherwise."""
    engine: Engine = factory.kw["bind"]
    if engine.dialect.name == "postgresql":
        dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        return PostgresHotPath(dsn, pool_size=pool_size)
    return ThreadedHotPath(factory)


class ThreadedHotPath:
    """The ORM in a worker thread: reads are single autocommit statements, accepting is one transaction."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory

    async def run(self, *, run_id: str, owner: str) -> Run | None:
        return await read_apart(
            self._factory, lambda session: runs.get_run(session=session, run_id=run_id, owner=owner)
        )

    async def run_by_idempotency_key(self, *, owner: str, key: str) -> Run | None:
        return await read_apart(
            self._factory,
            lambda session: runs.find_by_idempotency_key(session=session, owner=owner, key=key),
        )

    async def owner_of(self, *, key: str) -> str | None:
        return await read_apart(self._factory, lambda session: keys.owner_of(session=session, key=key))

    async def accept(self, run: Run, *, max_queued: int) -> bool:
        def write() -> bool:
            try:
                with transaction(self._factory) as session:
                    if runs.lock_queue(session=session, owner=run.owner) >= max_queued:
                        return False
                    session.add(run)
            except IntegrityError as error:
                raise IdempotencyConflict from error
            return True

        return await anyio.to_thread.run_sync(write)

    async def close(self) -> None:
        """Nothing to release: the sessions come from the app's engine."""


class PostgresHotPath:
    """asyncpg statements on a pool opened on first use, in the event loop that uses it."""

    def __init__(self, dsn: str, *, pool_size: int) -> None:
        self._dsn, self._pool_size = dsn, pool_size
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        self._turns = anyio.CapacityLimiter(pool_size)
        self._run = Statement(RUN_QUERY)
        self._replay = Statement(REPLAY_QUERY)
        self._owner = Statement(OWNER_QUERY)
        self._accept = Statement(accept_statement())
        self._accept_tagged = Statement(accept_statement(tagged=True))

    async def run(self, *, run_id: str, owner: str) -> Run | None:
        async with self._connection() as connection:
            row = await connection.fetchrow(*self._run.bind(run_id=run_id, owner=owner))
        return None if row is None else Run(**dict(row))

    async def run_by_idempotency_key(self, *, owner: str, key: str) -> Run | None:
        async with self._connection() as connection:
            row = await connection.fetchrow(*self._replay.bind(owner=owner, key=key))
        return None if row is None else Run(**dict(row))

    async def owner_of(self, *, key: str) -> str | None:
        async with self._connection() as connection:
            owner: str | None = await connection.fetchval(*self._owner.bind(digest=keys.digest(key)))
        return owner

    async def accept(self, run: Run, *, max_queued: int) -> bool:
        values = {column.key: getattr(run, column.key) for column in RUNS.columns}
        statement = self._accept_tagged if run.tags else self._accept
        try:
            async with self._connection() as connection:
                accepted = await connection.fetchval(
                    *statement.bind(**values, max_queued=max_queued, tag_list=run.tags)
                )
        except asyncpg.UniqueViolationError as error:
            raise IdempotencyConflict from error
        return accepted is not None

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection, in arrival order (in the pool's own queue newcomers overtake waiters)."""
        pool = await self._open()
        async with self._turns, pool.acquire() as connection:
            yield connection

    async def _open(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        self._dsn, min_size=1, max_size=self._pool_size, init=_decode_json, reset=_keep
                    )
        return self._pool


def accept_statement(*, tagged: bool = False) -> Insert | Select[Any]:
    """INSERT the run (`tagged`: and its tag rows) while its owner has fewer than `max_queued` queued; its id.

    The limit reads the owner's row of `owner_queues`, which triggers on `runs` keep equal to the count:
    counting the queued runs themselves cost O(queue) (8.9 ms and 11,141 heap fetches per insert with
    8,000 queued). FOR UPDATE makes concurrent accepts of one owner take turns, and under READ COMMITTED
    the row is read again after the wait, so the limit holds exactly. An owner gets its row with its first
    API key (`keys.create_key`); an owner without one reads 0 and its first accepts do not take turns.
    """
    queued = (
        select(OwnerQueue.queued)
        .where(OwnerQueue.owner == bindparam("owner"))
        .with_for_update()
        .scalar_subquery()
    )
    below_limit = func.coalesce(queued, 0) < bindparam("max_queued")
    row = select(*(bindparam(column.key, type_=column.type) for column in RUNS.columns)).where(below_limit)
    inserted = insert(RUNS).from_select([column.key for column in RUNS.columns], row).returning(Run.id)
    if not tagged:  # the data-modifying CTE below slows every accept down: untagged runs do without it
        return inserted
    accepted = inserted.cte("accepted")
    tag_rows = select(
        accepted.c.id,
        bindparam("owner", type_=String()),
        func.unnest(bindparam("tag_list", type_=ARRAY(String))),
    )
    tag_insert = insert(RunTag).from_select(["run_id", "owner", "tag"], tag_rows).cte("tagged")
    return select(accepted.c.id).add_cte(tag_insert)


class Statement:
    """A SQLAlchemy statement compiled once for asyncpg: `$1, $2…` placeholders and their parameter names."""

    def __init__(self, query: Select[Any] | Insert) -> None:
        compiled = query.compile(dialect=asyncpg_dialect.dialect())  # type: ignore[no-untyped-call]
        self.sql = str(compiled)
        self.names: list[str] = list(compiled.positiontup or [])
        self.constants = {name: value for name, value in compiled.params.items() if value is not None}

    def bind(self, **values: Any) -> tuple[Any, ...]:
        """The SQL and the values in placeholder order, for `pool.fetchrow(*statement.bind(...))`."""
        given = {**self.constants, **values}
        return (self.sql, *(given[name] for name in self.names))


async def _keep(_connection: asyncpg.Connection) -> None:
    """No reset round trip when a connection goes back to the pool: these statements leave no state."""


async def _decode_json(connection: asyncpg.Connection) -> None:
    """JSON columns as Python values, as SQLAlchemy hands them back."""
    await connection.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
