"""stat_counters: counters for /metrics kept as runs end and write, filled once from the existing rows

Revision ID: 0007
Revises: 0008
Create Date: 2026-11-29 16:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from store import counters

revision: str = "0007"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TERMINAL = ("succeeded", "failed", "cancelled")


def upgrade() -> None:
    table = op.create_table(
        "stat_counters",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", "shard", name=op.f("pk_stat_counters")),
    )
    op.bulk_insert(table, [{"key": key, "shard": 0, "value": value} for key, value in _existing().items()])


def _existing() -> dict[str, float]:
    """The counters' values for what the database already holds (one pass over it, at migration only)."""
    bind = op.get_bind()
    totals: dict[str, float] = {}

    def add(key: str, value: float) -> None:
        totals[key] = totals.get(key, 0.0) + value

    ended = sa.text("SELECT kind, status, started_at, finished_at FROM runs WHERE status IN :ended")
    for kind, status, started, finished in bind.execute(
        ended.bindparams(sa.bindparam("ended", expanding=True)), {"ended": TERMINAL}
    ):
        add(counters.ended_key(kind, status), 1)
        if started is None or finished is None:
            continue
        seconds = (_utc(finished) - _utc(started)).total_seconds()
        add(counters.duration_key(kind, status, "count"), 1)
        add(counters.duration_key(kind, status, "sum"), seconds)
        for bound in counters.DURATION_BUCKETS:
            if seconds <= bound:
                add(counters.duration_key(kind, status, str(bound)), 1)
    points = "SELECT series, SUM(count) FROM series_chunks WHERE series IN ('range', 'batch') GROUP BY series"
    for series, total in bind.execute(sa.text(points)):
        add(counters.points_key(series), float(total))
    epochs = bind.execute(sa.text("SELECT COUNT(*) FROM epoch_metrics")).scalar() or 0
    if epochs:
        add(counters.points_key("epoch"), float(epochs))
    return totals


def _utc(moment: datetime | str) -> datetime:
    """SQLite hands back naive datetimes (as text through a raw query); every stored one is UTC."""
    parsed = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def downgrade() -> None:
    op.drop_table("stat_counters")
