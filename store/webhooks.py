"""The webhook outbox: ended runs with a callback_url whose delivery is still pending.

`Run.delivery` holds `{state: pending|delivered|failed, attempts, last_status, last_error, delivered_at,
next_attempt_at}`; a run that ended with a callback_url and no `delivery` yet is due at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from store.models import TERMINAL_STATUSES, Run


def due_deliveries(*, session: Session, now: datetime, limit: int) -> list[Run]:
    """Ended runs with a callback_url not yet attempted, or pending and due again; oldest first."""
    pending = or_(Run.delivery.is_(None), Run.delivery["state"].as_string() == "pending")
    query = (
        select(Run)
        .where(Run.callback_url.is_not(None), Run.status.in_([s.value for s in TERMINAL_STATUSES]), pending)
        .order_by(Run.finished_at)
        .limit(limit * 4)
    )
    found = [run for run in session.scalars(query) if _is_due(run.delivery, now)]
    return found[:limit]


def _is_due(delivery: dict[str, Any] | None, now: datetime) -> bool:
    if delivery is None or delivery.get("next_attempt_at") is None:
        return True
    return datetime.fromisoformat(delivery["next_attempt_at"]) <= now


def record_delivery(*, session: Session, run_id: str, delivery: dict[str, Any]) -> None:
    statement = update(Run).where(Run.id == run_id).values(delivery=delivery)
    session.execute(statement.execution_options(synchronize_session=False))
