"""API keys: random tokens shown once, stored as SHA-256 digests (256 random bits need no slow hash)."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store.models import ApiKey, OwnerQueue
from store.runs import utcnow

PREFIX = "clr_"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(*, session: Session, owner: str, key: str | None = None) -> tuple[ApiKey, str]:
    """A new key for `owner`; returns the row and the plain key, which is never stored.

    The owner's queue counter is created with the first key, so even the owner's first submits lock a row
    and the queue limit holds exactly under concurrency.
    """
    plain = key or PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(owner=owner, prefix=plain[:12], key_hash=digest(plain), created_at=utcnow())
    session.add(row)
    if session.get(OwnerQueue, owner) is None:
        session.add(OwnerQueue(owner=owner, queued=0))
    session.flush()
    return row, plain


def owner_of(*, session: Session, key: str) -> str | None:
    """The owner of an active key, or None."""
    query = select(ApiKey.owner).where(ApiKey.key_hash == digest(key), ApiKey.revoked_at.is_(None))
    return session.scalars(query).one_or_none()


def revoke_key(*, session: Session, prefix: str) -> int:
    """Revoke the active keys starting with `prefix`; returns how many."""
    statement = (
        update(ApiKey)
        .where(ApiKey.prefix == prefix[:12], ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(session.execute(statement).rowcount)  # type: ignore[attr-defined]


def list_keys(*, session: Session, owner: str | None = None) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.id)
    if owner is not None:
        query = query.where(ApiKey.owner == owner)
    return list(session.scalars(query))
