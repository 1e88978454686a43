"""Webhook delivery from the supervisor's pass: POST each ended run's summary, signed, with retries.

Outbox-style: every pass scans the runs that ended with a callback_url and a pending delivery, so every way a
run ends (worker, cancel of a queued run, reaper) is covered and a restart loses nothing. Delivery is at least
once: a receiver may see a summary twice and should key on the run id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from store import webhooks
from store.db import transaction
from store.models import Run
from store.runs import utcnow
from store.settings import Settings

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 3600.0
PER_PASS = 20


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256 over `timestamp + "." + body`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def summary(run: Run) -> dict[str, Any]:
    finished = run.finished_at.isoformat() if run.finished_at else None
    return {
        "id": run.id,
        "kind": run.kind,
        "status": run.status,
        "result": run.result,
        "error": run.error,
        "finished_at": finished,
    }


def deliver_due(*, factory: sessionmaker[Session], settings: Settings, client: httpx.Client) -> int:
    """POST the summaries that are due; returns how many were delivered."""
    with transaction(factory) as session:
        due = [
            (run.id, run.callback_url, summary(run), run.delivery or {})
            for run in webhooks.due_deliveries(session=session, now=utcnow(), limit=PER_PASS)
        ]
    delivered = 0
    for run_id, url, payload, previous in due:
        assert url is not None
        outcome = attempt(url=url, payload=payload, previous=previous, settings=settings, client=client)
        delivered += outcome["state"] == "delivered"
        with transaction(factory) as session:
            webhooks.record_delivery(session=session, run_id=run_id, delivery=outcome)
    return delivered


def attempt(
    *, url: str, payload: dict[str, Any], previous: dict[str, Any], settings: Settings, client: httpx.Client
) -> dict[str, Any]:
    """One POST and the delivery record after it."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    now = utcnow()
    timestamp = str(int(now.timestamp()))
    headers = {"Content-Type": "application/json", "X-CLR-Timestamp": timestamp}
    if settings.webhook_secret is not None:
        headers["X-CLR-Signature"] = sign(settings.webhook_secret.get_secret_value(), timestamp, body)
    attempts = int(previous.get("attempts", 0)) + 1
    status: int | None = None
    error: str | None = None
    try:
        response = client.post(url, content=body, headers=headers, timeout=settings.webhook_timeout)
        status = response.status_code
        if not response.is_success:
            error = f"the receiver answered {status}"
    except httpx.HTTPError as failure:
        error = f"{type(failure).__name__}: {failure}"
    record: dict[str, Any] = {
        "attempts": attempts,
        "last_status": status,
        "last_error": error,
        "delivered_at": None,
        "next_attempt_at": None,
    }
    if error is None:
        return {**record, "state": "delivered", "delivered_at": now.isoformat()}
    if attempts >= settings.webhook_max_attempts:
        log.warning("giving up on the webhook to %s after %d attempts: %s", url, attempts, error)
        return {**record, "state": "failed"}
    return {**record, "state": "pending", "next_attempt_at": _next_attempt(now, attempts, settings)}


def _next_attempt(now: datetime, attempts: int, settings: Settings) -> str:
    delay = min(settings.webhook_backoff * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS)
    return (now + timedelta(seconds=delay)).isoformat()
