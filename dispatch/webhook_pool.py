"""Webhook deliveries on an event loop thread of their own, a bounded number at once and per owner."""

from __future__ import annotations

import logging
from collections import Counter
from concurrent.futures import Future, wait
from contextlib import ExitStack
from types import TracebackType
from typing import Any

import anyio.from_thread
import anyio.to_thread
from sqlalchemy.orm import Session, sessionmaker

from dispatch.webhooks import Due, attempt, open_client
from store import webhooks
from store.db import transaction
from store.runs import utcnow
from store.settings import Settings

log = logging.getLogger(__name__)


class WebhookPool:
    """Starts due deliveries as tasks of its own loop: `webhook_concurrency` in flight at most, of which
    `webhook_concurrency_per_owner` of one owner, each recorded on its run when it ends.

    Leaving the context waits for the deliveries in flight (each ends within `webhook_deadline`).
    """

    def __init__(self, *, factory: sessionmaker[Session], settings: Settings) -> None:
        self._factory, self._settings = factory, settings
        self._stack = ExitStack()
        self._in_flight: dict[str, tuple[str, Future[None]]] = {}

    def __enter__(self) -> WebhookPool:
        self._portal = self._stack.enter_context(anyio.from_thread.start_blocking_portal(name="clr-webhooks"))
        self._client = self._portal.call(open_client, self._settings)  # made on the loop that uses it
        self._stack.callback(self._portal.call, self._client.aclose)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        wait([future for _, future in self._in_flight.values()])
        self._stack.close()

    def submit_due(self) -> int:
        """Start the deliveries that are due and fit in the pool; how many started."""
        self._in_flight = {run_id: item for run_id, item in self._in_flight.items() if not item[1].done()}
        free = self._settings.webhook_concurrency - len(self._in_flight)
        if free <= 0:
            return 0
        per_owner = self._settings.webhook_concurrency_per_owner
        with transaction(self._factory) as session:
            found = webhooks.due_deliveries(
                session=session, now=utcnow(), limit=free, per_owner=per_owner, busy=self._in_flight
            )
            due = [Due.of(run) for run in found]
        flying = Counter(owner for owner, _ in self._in_flight.values())
        started = 0
        for item in due:
            if flying[item.owner] >= per_owner:
                continue
            flying[item.owner] += 1
            self._in_flight[item.run_id] = (item.owner, self._portal.start_task_soon(self._deliver, item))
            started += 1
        return started

    async def _deliver(self, due: Due) -> None:
        try:
            outcome = await attempt(due=due, settings=self._settings, client=self._client)
            await anyio.to_thread.run_sync(self._record, due.run_id, outcome)
        except Exception:  # one delivery's failure is logged; it stays pending and the others go on
            log.exception("webhook delivery of run %s failed", due.run_id)

    def _record(self, run_id: str, outcome: dict[str, Any]) -> None:
        with transaction(self._factory) as session:
            webhooks.record_delivery(session=session, run_id=run_id, delivery=outcome)
