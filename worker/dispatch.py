"""Sending runs to the broker, and the supervisor that sends what no relay sent and reaps silent workers."""

from __future__ import annotations

import contextlib
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


def publish(run_ids: list[str], *, celery: Celery, queue: str) -> bool:
    """Send the tasks of these runs in one batch (one round trip on Redis); False if the broker refused."""
    try:
        with celery.producer_or_acquire() as producer, producer.batch(max_size=2 * len(run_ids) + 1):
            for run_id in run_ids:
                celery.send_task(RUN_TASK, args=[run_id], queue=queue, producer=producer)
    except Exception as error:  # kombu raises many kinds; the caller leaves these runs to be sent again
        log.warning("could not send runs %s to the broker: %s", ", ".join(run_ids), error)
        return False
    return True


def send_runs(run_ids: list[str], *, celery: Celery, factory: sessionmaker[Session], queue: str) -> bool:
    """Publish committed runs and record them dispatched; False if the broker refused.

    A run whose message is refused, or whose record fails, keeps `dispatched_at` NULL and is sent again
    (a duplicate message starts nothing twice).
    """
    if not run_ids:
        return True
    if not publish(run_ids, celery=celery, queue=queue):
        return False
    try:
        with autocommit(factory) as session:
            runs.mark_dispatched(session=session, run_ids=run_ids)
    except Exception:
        log.exception("could not record %d runs dispatched; the supervisor sends them again", len(run_ids))
    return True


def reap_silent(*, factory: sessionmaker[Session], heartbeat_timeout: float) -> list[str]:
    """Reap the runs whose worker went silent, a transaction each (`runs.reap` says why); the ids requeued."""
    with transaction(factory) as session:
        silent = runs.silent_runs(session=session, heartbeat_timeout=heartbeat_timeout)
    requeued = []
    for run_id in silent:
        with transaction(factory) as session:
            if runs.reap(session=session, run_id=run_id, heartbeat_timeout=heartbeat_timeout):
                requeued.append(run_id)
    return requeued


def supervise_once(
    *,
    celery: Celery,
    factory: sessionmaker[Session],
    settings: Settings,
    client: httpx.Client | None = None,
) -> list[str]:
    """Reap silent runs, release held variants (a relay sends them), send what no relay sent, then webhooks.

    Returns the runs this pass sent; `client` delivers the webhooks (without one, one is made for the pass).
    """
    reap_silent(factory=factory, heartbeat_timeout=settings.heartbeat_timeout)
    with transaction(factory) as session:
        held = comparisons.held_comparisons(session=session)
    for comparison_id in held:  # one transaction each (comparisons.release says why)
        with transaction(factory) as session:
            comparisons.release(
                session=session, comparison_id=comparison_id, max_attempts=settings.max_attempts
            )
    with transaction(factory) as session:
        pending = runs.runs_to_dispatch(
            session=session,
            undispatched_after=settings.dispatch_timeout,
            redispatch_after=settings.redispatch_timeout,
        )
    sent = pending if send_runs(pending, celery=celery, factory=factory, queue=settings.queue) else []
    with contextlib.ExitStack() as stack:
        client = client or stack.enter_context(httpx.Client(follow_redirects=False))
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
        # One client for every pass: making one loads the CA bundle, tens of ms holding the GIL.
        with httpx.Client(follow_redirects=False) as client:
            while not self._stop.wait(self._settings.sweep_interval):
                try:
                    supervise_once(
                        celery=self._celery, factory=self._factory, settings=self._settings, client=client
                    )
                except Exception:
                    log.exception("supervisor pass failed; retrying in %s s", self._settings.sweep_interval)
