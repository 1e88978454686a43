"""The supervisor beside each API process: reaps silent workers, releases held variants, sends what no
relay sent and starts due webhooks, each item on its own so one that fails never stops the pass."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Iterable
from contextlib import ExitStack
from typing import TypeVar

from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from dispatch.broker import send_runs
from dispatch.webhook_pool import WebhookPool
from store import comparisons, runs
from store.db import transaction
from store.settings import Settings

log = logging.getLogger(__name__)
Item = TypeVar("Item", bound=Hashable)
Outcome = TypeVar("Outcome")


def isolated(what: str, action: Callable[[], Outcome]) -> Outcome | None:
    """`action()`, or None with the error logged: a failing item must not stop the rest of the pass."""
    try:
        return action()
    except Exception:
        log.exception("supervisor: %s failed; the pass goes on", what)
        return None


def each(what: str, items: Iterable[Item], action: Callable[[Item], Outcome]) -> dict[Item, Outcome]:
    """`action(item)` for every item, isolated from the others; the outcomes of those that did not fail."""
    outcomes: dict[Item, Outcome] = {}
    for item in items:
        try:
            outcomes[item] = action(item)
        except Exception:
            log.exception("supervisor: %s %s failed; the pass goes on", what, item)
    return outcomes


def reap_silent(*, factory: sessionmaker[Session], heartbeat_timeout: float) -> list[str]:
    """Reap the runs whose worker went silent, a transaction each (`runs.reap` says why); the ids requeued."""
    with transaction(factory) as session:
        silent = runs.silent_runs(session=session, heartbeat_timeout=heartbeat_timeout)

    def reap(run_id: str) -> bool:
        with transaction(factory) as session:
            return runs.reap(session=session, run_id=run_id, heartbeat_timeout=heartbeat_timeout)

    return [run_id for run_id, requeued in each("reaping run", silent, reap).items() if requeued]


def release_held(*, factory: sessionmaker[Session], max_attempts: int) -> None:
    """Create the held variants whose range test ended, a transaction each (`comparisons.release`)."""
    with transaction(factory) as session:
        held = comparisons.held_comparisons(session=session)

    def release(comparison_id: str) -> None:
        with transaction(factory) as session:
            comparisons.release(session=session, comparison_id=comparison_id, max_attempts=max_attempts)

    each("releasing comparison", held, release)


def send_pending(*, celery: Celery, factory: sessionmaker[Session], settings: Settings) -> list[str]:
    """Send the queued runs no relay sent (or whose message the broker may have lost); those sent."""
    with transaction(factory) as session:
        pending = runs.runs_to_dispatch(
            session=session,
            undispatched_after=settings.dispatch_timeout,
            redispatch_after=settings.redispatch_timeout,
        )
    return pending if send_runs(pending, celery=celery, factory=factory, queue=settings.queue) else []


def supervise_once(
    *,
    celery: Celery,
    factory: sessionmaker[Session],
    settings: Settings,
    webhooks: WebhookPool | None = None,
) -> list[str]:
    """One pass: reap, release held variants (a relay sends them), send what no relay sent, start webhooks.

    Returns the runs this pass sent. Without a `webhooks` pool, one is made for the pass and its deliveries
    are waited for.
    """
    isolated("reaping", lambda: reap_silent(factory=factory, heartbeat_timeout=settings.heartbeat_timeout))
    isolated("releasing", lambda: release_held(factory=factory, max_attempts=settings.max_attempts))
    sent = isolated("sending", lambda: send_pending(celery=celery, factory=factory, settings=settings))
    with ExitStack() as stack:
        pool = webhooks or stack.enter_context(WebhookPool(factory=factory, settings=settings))
        isolated("starting webhooks", pool.submit_due)
    return sent or []


class Supervisor:
    """A daemon thread calling `supervise_once` every `settings.sweep_interval` seconds."""

    def __init__(self, *, celery: Celery, factory: sessionmaker[Session], settings: Settings) -> None:
        self._celery, self._factory, self._settings = celery, factory, settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="clr-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._settings.webhook_deadline + 10)

    def _loop(self) -> None:
        # One pool for every pass: its client loads the CA bundle once, not every pass.
        with WebhookPool(factory=self._factory, settings=self._settings) as pool:
            while not self._stop.wait(self._settings.sweep_interval):
                supervise_once(
                    celery=self._celery, factory=self._factory, settings=self._settings, webhooks=pool
                )
