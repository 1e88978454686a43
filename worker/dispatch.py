"""Sending runs to the broker, and the supervisor that re-sends lost messages and reaps silent workers."""

from __future__ import annotations

import logging
import threading

import httpx
from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from store import comparisons, runs
from store.db import autocommit, transaction
from store.settings import Settings
from worker.app import RUN_TASK
from worker.webhooks import deliver_due

log = logging.getLogger(__name__)


def dispatch(run_id: str, *, celery: Celery, factory: sessionmaker[Session], queue: str) -> bool:
    """Send the task for an already committed run; False when the broker is unreachable."""
    try:
        celery.send_task(RUN_TASK, args=[run_id], queue=queue)
    except Exception as error:  # kombu raises many kinds; the sweeper retries every one of them
        log.warning("could not send run %s to the broker: %s", run_id, error)
        return False
    with autocommit(factory) as session:
        runs.mark_dispatched(session=session, run_id=run_id)
    return True


def supervise_once(*, celery: Celery, factory: sessionmaker[Session], settings: Settings) -> list[str]:
    """Reap silent runs, release held variants, (re)send queued runs, then webhooks; returns runs sent."""
    with transaction(factory) as session:
        runs.reap_lost(session=session, heartbeat_timeout=settings.heartbeat_timeout)
    with transaction(factory) as session:
        released = comparisons.release_due(session=session, max_attempts=settings.max_attempts)
    with transaction(factory) as session:
        pending = runs.runs_to_dispatch(
            session=session,
            undispatched_after=settings.dispatch_timeout,
            redispatch_after=settings.redispatch_timeout,
        )
    sent = [
        run_id
        for run_id in [*released, *pending]
        if dispatch(run_id, celery=celery, factory=factory, queue=settings.queue)
    ]
    with httpx.Client(follow_redirects=False) as client:
        deliver_due(factory=factory, settings=settings, client=client)
    return sent


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
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self._settings.sweep_interval):
            try:
                supervise_once(celery=self._celery, factory=self._factory, settings=self._settings)
            except Exception:
                log.exception("supervisor pass failed; retrying in %s s", self._settings.sweep_interval)
