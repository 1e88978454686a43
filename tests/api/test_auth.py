"""The owner cache: a key's owner is remembered for `ttl` seconds, and a revoked key is refused after that."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from api.auth import OwnerCache
from api.hotpath import HotPath, make_hot_path
from store import keys
from store.db import transaction

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def reads(session_factory: sessionmaker[Session]) -> AsyncIterator[HotPath]:
    reads = make_hot_path(session_factory, pool_size=2)
    yield reads
    await reads.close()


def new_key(factory: sessionmaker[Session], owner: str) -> str:
    with transaction(factory) as session:
        _, plain = keys.create_key(session=session, owner=owner)
    return plain


def revoke(factory: sessionmaker[Session], plain: str) -> None:
    with transaction(factory) as session:
        assert keys.revoke_key(session=session, prefix=plain) == 1


async def test_a_revoked_key_is_refused_once_its_remembered_owner_expires(
    session_factory: sessionmaker[Session], reads: HotPath
) -> None:
    clock = Clock()
    cache = OwnerCache(look_up=lambda key: reads.owner_of(key=key), ttl=5.0, clock=clock)
    plain = new_key(session_factory, "alice")
    assert await cache.owner_of(plain) == "alice"
    revoke(session_factory, plain)
    clock.now += 4.9
    assert await cache.owner_of(plain) == "alice"  # remembered: no database read within the ttl
    clock.now += 0.2
    assert await cache.owner_of(plain) is None
    assert await cache.owner_of(plain) is None


async def test_with_no_ttl_every_request_reads_the_key(
    session_factory: sessionmaker[Session], reads: HotPath
) -> None:
    cache = OwnerCache(look_up=lambda key: reads.owner_of(key=key), ttl=0, clock=Clock())
    plain = new_key(session_factory, "bob")
    assert await cache.owner_of(plain) == "bob"
    revoke(session_factory, plain)
    assert await cache.owner_of(plain) is None


async def test_unknown_keys_are_not_remembered_and_the_cache_stays_bounded(
    session_factory: sessionmaker[Session], reads: HotPath
) -> None:
    cache = OwnerCache(look_up=lambda key: reads.owner_of(key=key), ttl=60, max_entries=3, clock=Clock())
    assert await cache.owner_of("clr_unknown") is None
    assert len(cache) == 0
    found = [await cache.owner_of(new_key(session_factory, f"owner-{i}")) for i in range(7)]
    assert found == [f"owner-{i}" for i in range(7)]
    assert len(cache) <= 3
