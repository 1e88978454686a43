"""SQLAlchemy tables: runs, their series chunks and epoch rows, comparisons, API keys, counters."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from store.labels import NAME_MAX_LENGTH, TAG_MAX_LENGTH

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class RunKind(enum.StrEnum):
    LR_FIND = "lr_find"
    TRAIN = "train"


class RunStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    CANCELLING = "cancelling"
    LOST = "lost"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(100), index=True)
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


# Names compare code point by code point on both databases (PostgreSQL's default collation is linguistic),
# so a name prefix is a range of this index; unnamed rows stay out of it, so they cost no index write.
NameColumn = String(NAME_MAX_LENGTH).with_variant(String(NAME_MAX_LENGTH, collation="C"), "postgresql")
NAMED = text("name IS NOT NULL")


def name_index(table: str) -> Index:
    return Index(f"ix_{table}_owner_name", "owner", "name", postgresql_where=NAMED, sqlite_where=NAMED)


class Labelled:
    """The name, tags and metadata a run or comparison was filed under."""

    name: Mapped[str | None] = mapped_column(NameColumn)
    # Read back with the row; filters use the tag table beside it (a row per tag), written with it.
    tags: Mapped[list[str]] = mapped_column(JSON, server_default=text("'[]'"))
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, server_default=text("'{}'"))


class Comparison(Labelled, Base):
    __tablename__ = "comparisons"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(100))
    request: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    # True while variants wait for the comparison's range test; the supervisor creates them and clears it.
    pending_release: Mapped[bool] = mapped_column(default=False, index=True)
    release_error: Mapped[dict[str, Any] | None]
    tag_rows: Mapped[list[ComparisonTag]] = relationship(lazy="raise", passive_deletes=True)

    __table_args__ = (
        Index("ix_comparisons_owner_id", "owner", "id"),
        name_index("comparisons"),
    )


class ComparisonTag(Base):
    """One tag of a comparison, for `GET /comparisons?tag=`."""

    __tablename__ = "comparison_tags"

    comparison_id: Mapped[str] = mapped_column(
        ForeignKey("comparisons.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(TAG_MAX_LENGTH), primary_key=True)
    owner: Mapped[str] = mapped_column(String(100))

    __table_args__ = (Index("ix_comparison_tags_owner_tag", "owner", "tag", "comparison_id"),)


class Run(Labelled, Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED)
    request: Mapped[dict[str, Any]]
    request_hash: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    comparison_id: Mapped[str | None] = mapped_column(ForeignKey("comparisons.id", ondelete="CASCADE"))
    # A comparison's child is named by its variant and repeat (the range test: "lr_find", 0), never by a key.
    variant: Mapped[str | None] = mapped_column(String(40))
    repeat: Mapped[int | None] = mapped_column(Integer)
    result: Mapped[dict[str, Any] | None]
    error: Mapped[dict[str, Any] | None]
    progress_step: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None]
    progress_epoch: Mapped[int | None]
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=2)
    # Attempts handed back by a worker shutting down (a drain): counted apart, they use no retry.
    drains: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    worker: Mapped[str | None] = mapped_column(String(200))
    # Where the current or last attempt runs: node, process, device.
    placement: Mapped[dict[str, Any] | None]
    callback_url: Mapped[str | None] = mapped_column(String(2000))
    delivery: Mapped[dict[str, Any] | None]
    request_id: Mapped[str | None] = mapped_column(String(128))  # X-Request-ID of the request that made it
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    dispatched_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    tag_rows: Mapped[list[RunTag]] = relationship(lazy="raise", passive_deletes=True)

    @property
    def failed_attempts(self) -> int:
        """Attempts that used up a retry: every start but those handed back in a drain."""
        return self.attempt - self.drains

    __table_args__ = (
        UniqueConstraint("owner", "idempotency_key", name="uq_runs_owner_idempotency_key"),
        Index("ix_runs_owner_id", "owner", "id"),
        name_index("runs"),
        Index("ix_runs_status_updated_at", "status", "updated_at"),
        Index("ix_runs_comparison_id", "comparison_id"),
        Index("uq_runs_comparison_variant_repeat", "comparison_id", "variant", "repeat", unique=True),
        Index(
            "ix_runs_undispatched",
            "created_at",
            postgresql_where=text("status = 'queued' AND dispatched_at IS NULL"),
            sqlite_where=text("status = 'queued' AND dispatched_at IS NULL"),
        ),
    )


class RunTag(Base):
    """One tag of a run, for `GET /runs?tag=`: found by (owner, tag) without reading other owners' runs."""

    __tablename__ = "run_tags"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(TAG_MAX_LENGTH), primary_key=True)
    owner: Mapped[str] = mapped_column(String(100))

    __table_args__ = (Index("ix_run_tags_owner_tag", "owner", "tag", "run_id"),)


class OwnerQueue(Base):
    """How many of an owner's runs are queued: kept by triggers on `runs` (migration 0004), not by code."""

    __tablename__ = "owner_queues"

    owner: Mapped[str] = mapped_column(String(100), primary_key=True)
    queued: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class StatCounter(Base):
    """One shard of a counter the metrics read (`store/counters.py`): ended runs, durations, points."""

    __tablename__ = "stat_counters"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[float]


class SeriesChunk(Base):
    """A run of consecutive per-batch points of one series, stored as packed little-endian columns."""

    __tablename__ = "series_chunks"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    series: Mapped[str] = mapped_column(String(16), primary_key=True)
    first_step: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_step: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class EpochMetric(Base):
    """One row per epoch and run: the primary key makes a duplicated epoch impossible."""

    __tablename__ = "epoch_metrics"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer, primary_key=True)
    step: Mapped[int] = mapped_column(Integer)
    train_loss: Mapped[float]
    train_accuracy: Mapped[float]
    val_loss: Mapped[float | None]
    val_accuracy: Mapped[float | None]
    lr: Mapped[float]
