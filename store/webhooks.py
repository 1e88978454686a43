"""The webhook outbox: ended runs with a callback_url whose delivery is still pending.

`Run.delivery` holds `{state: pending|delivered|failed, attempts, last_status, last_error, delivered_at,
next_attempt_at}`; a run that ended with a callback_url and no `delivery` yet is due at once.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from store import counters
from store.models import TERMINAL_STATUSES, Run


def due_deliveries(
    *, session: Session, now: datetime, limit: int, per_owner: int, busy: Collection[str] = ()
) -> list[Run]:
    """Ended runs with a callback_url not yet attempted, or pending and due again: oldest first, at most
    `per_owner` of any one owner (so one owner's backlog never hides another's), none of the `busy` ids."""
    next_attempt = Run.delivery["next_attempt_at"].as_string()
    due = or_(
        Run.delivery.is_(None),
        (Run.delivery["state"].as_string() == "pending")
        & (next_attempt.is_(None) | (next_attempt <= now.isoformat(timespec="microseconds"))),
    )
    conditions = [Run.callback_url.is_not(None), Run.status.in_([s.value for s in TERMINAL_STATUSES]), due]
    if busy:
        conditions.append(Run.id.not_in(list(busy)))
    rank = func.row_number().over(partition_by=Run.owner, order_by=(Run.finished_at, Run.id)).label("rank")
    ranked = select(Run.id, Run.finished_at, rank).where(*conditions).subquery()
    chosen = (
        select(ranked.c.id)
        .where(ranked.c.rank <= per_owner)
        .order_by(ranked.c.finished_at, ranked.c.id)
        .limit(limit)
    )
    found = {run.id: run for run in session.scalars(select(Run).where(Run.id.in_(chosen.scalar_subquery())))}
    return sorted(found.values(), key=lambda run: (run.finished_at, run.id))


def record_delivery(*, session: Session, run_id: str, delivery: dict[str, Any]) -> None:
    """Store how the latest attempt left the delivery, and count the attempt by that state."""
    statement = update(Run).where(Run.id == run_id).values(delivery=delivery)
    session.execute(statement.execution_options(synchronize_session=False))
    counters.add(session=session, run_id=run_id, amounts={counters.webhook_key(delivery["state"]): 1.0})
