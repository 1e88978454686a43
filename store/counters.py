"""Counters kept as things happen, so a metrics scrape reads a few hundred rows, never the big tables.

Each counter is spread over SHARDS rows chosen by run id: writers of different runs rarely wait on one row.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from store.models import StatCounter

SHARDS = 16
DURATION_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 24 * 3600.0)


def ended_key(kind: str, status: str) -> str:
    return f"ended:{kind}:{status}"


def duration_key(kind: str, status: str, part: str) -> str:
    """`part`: "count", "sum", or a bucket's upper bound as in DURATION_BUCKETS."""
    return f"duration:{kind}:{status}:{part}"


def points_key(series: str) -> str:
    return f"points:{series}"


def webhook_key(state: str) -> str:
    """Webhook attempts by the state they left the delivery in: delivered, pending (to retry) or failed."""
    return f"webhook:{state}"


def count_ending(*, session: Session, run_id: str, kind: str, status: str, seconds: float | None) -> None:
    """A run ended with `status`, after `seconds` of running (None: it never started)."""
    amounts = {ended_key(kind, status): 1.0}
    if seconds is not None:
        amounts[duration_key(kind, status, "count")] = 1.0
        amounts[duration_key(kind, status, "sum")] = seconds
        amounts |= {duration_key(kind, status, str(b)): 1.0 for b in DURATION_BUCKETS if seconds <= b}
    add(session=session, run_id=run_id, amounts=amounts)


def add(*, session: Session, run_id: str, amounts: Mapping[str, float]) -> None:
    """Add `amounts` (by counter key) in the shard of `run_id`, inside the caller's transaction."""
    if not amounts:
        return
    shard = int(run_id[-2:], 16) % SHARDS
    insert = (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite).insert
    rows = [{"key": key, "shard": shard, "value": float(value)} for key, value in sorted(amounts.items())]
    statement = insert(StatCounter).values(rows)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[StatCounter.key, StatCounter.shard],
            set_={"value": StatCounter.value + statement.excluded.value},
        )
    )


def totals(*, session: Session) -> dict[str, float]:
    """Every counter's total."""
    query = select(StatCounter.key, func.sum(StatCounter.value)).group_by(StatCounter.key)
    return {key: float(total) for key, total in session.execute(query)}
