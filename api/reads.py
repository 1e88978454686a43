"""The two reads every request makes, a key's owner and the run of the path, kept off worker threads.

On PostgreSQL they go through a small asyncpg pool on the event loop. Measured on 2 cores with
benchmarks/api_load.py, `GET /runs/{id}` served 0.2x the trivial app's requests/s when the run was read
through the ORM in a worker thread (SQLAlchemy's per-statement work and the thread hop under the GIL cost
more than the whole trivial request), and 0.5x through asyncpg. The statements are compiled from the ORM's
tables, so they name the models' columns. On SQLite the same reads run through the ORM in a worker thread.
Every other query of the API goes through SQLAlchemy sessions.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol

import anyio.to_thread
import asyncpg
from sqlalchemy import Engine, Select, bindparam, select
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.orm import Session, sessionmaker

from store import keys, runs
from store.db import autocommit
from store.models import ApiKey, Run

RUN_QUERY = select(Run.__table__).where(Run.id == bindparam("run_id"), Run.owner == bindparam("owner"))
OWNER_QUERY = select(ApiKey.owner).where(ApiKey.key_hash == bindparam("digest"), ApiKey.revoked_at.is_(None))


class HotReads(Protocol):
    async def run(self, *, run_id: str, owner: str) -> Run | None:
        """The owner's run `run_id`, detached from any session."""

    async def owner_of(self, *, key: str) -> str | None:
        """The owner of an active key."""

    async def close(self) -> None:
        """Release the connections."""


def make_hot_reads(factory: sessionmaker[Session], *, pool_size: int) -> HotReads:
    """asyncpg reads for a PostgreSQL engine, threaded ORM reads otherwise."""
    engine: Engine = factory.kw["bind"]
    if engine.dialect.name == "postgresql":
        dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        return PostgresReads(dsn, pool_size=pool_size)
    return ThreadedReads(factory)


class ThreadedReads:
    """The ORM's reads in a worker thread, one autocommit statement each."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory

    async def run(self, *, run_id: str, owner: str) -> Run | None:
        def read() -> Run | None:
            with autocommit(self._factory) as session:
                return runs.get_run(session=session, run_id=run_id, owner=owner)

        return await anyio.to_thread.run_sync(read)

    async def owner_of(self, *, key: str) -> str | None:
        def read() -> str | None:
            with autocommit(self._factory) as session:
                return keys.owner_of(session=session, key=key)

        return await anyio.to_thread.run_sync(read)

    async def close(self) -> None:
        """Nothing to release: the sessions come from the app's engine."""


class PostgresReads:
    """asyncpg statements on a pool opened on first use, in the event loop that uses it."""

    def __init__(self, dsn: str, *, pool_size: int) -> None:
        self._dsn, self._pool_size = dsn, pool_size
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        self._run_query = Statement(RUN_QUERY)
        self._owner_query = Statement(OWNER_QUERY)

    async def run(self, *, run_id: str, owner: str) -> Run | None:
        pool = await self._open()
        row = await pool.fetchrow(*self._run_query.bind(run_id=run_id, owner=owner))
        return None if row is None else Run(**dict(row))

    async def owner_of(self, *, key: str) -> str | None:
        pool = await self._open()
        owner: str | None = await pool.fetchval(*self._owner_query.bind(digest=keys.digest(key)))
        return owner

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _open(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        self._dsn, min_size=1, max_size=self._pool_size, init=_decode_json
                    )
        return self._pool


class Statement:
    """A SQLAlchemy statement compiled once for asyncpg: `$1, $2…` placeholders and their parameter names."""

    def __init__(self, query: Select[Any]) -> None:
        compiled = query.compile(dialect=asyncpg_dialect.dialect())  # type: ignore[no-untyped-call]
        self.sql = str(compiled)
        self.names: list[str] = list(compiled.positiontup or [])

    def bind(self, **values: Any) -> tuple[Any, ...]:
        """The SQL and the values in placeholder order, for `pool.fetchrow(*statement.bind(...))`."""
        return (self.sql, *(values[name] for name in self.names))


async def _decode_json(connection: asyncpg.Connection) -> None:
    """JSON columns as Python values, as SQLAlchemy hands them back."""
    await connection.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
