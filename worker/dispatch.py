"""Sending runs to the broker, and the supervisor that re-sends lost messages and reaps silent workers."""

from __future__ import annotations

import contextlib
import logging
import threading
from queue import SimpleQueue

import httpx
from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from store import comparisons, runs
from store.db import autocommit, transaction
from store.settings import Settings
from worker.app import RUN_TASK
from worker.webhooks import deliver_due

log = logging.getLogger(__name__)


def send_runs(run_ids: list[str], *, celery: Celery, factory: sessionmaker[Session], queue: str) -> bool:
    """Send the tasks of committed runs in one batch and record them dispatched; False if the broker refused.

    One round trip where the transport batches (Redis). A run whose message is refused, or whose record fails,
    keeps `dispatched_at` NULL and the supervisor sends it again (a duplicate message starts nothing twice).
    """
    if not run_ids:
        return True
    try:
        with celery.producer_or_acquire() as producer, producer.batch(max_size=2 * len(run_ids) + 1):
            for run_id in run_ids:
                celery.send_task(RUN_TASK, args=[run_id], queue=queue, producer=producer)
    except Exception as error:  # kombu raises many kinds; the supervisor sends these runs again
        log.warning("could not send runs %s to the broker: %s", ", ".join(run_ids), error)
        return False
    try:
        with autocommit(factory) as session:
            runs.mark_dispatched(session=session, run_ids=run_ids)
    except Exception:
        log.exception("could not record %d runs dispatched; the supervisor sends them again", len(run_ids))
    return True


class Relay:
    """Sends committed runs to the broker from a thread of its own, in batches (`send_runs`).

    `send` only queues the id, so a request never waits on the broker; a run whose message is lost with this
    process keeps `dispatched_at` NULL and the supervisor sends it again.
    """

    def __init__(
        self, *, celery: Celery, factory: sessionmaker[Session], queue: str, batch_size: int = 200
    ) -> None:
        self._celery, self._factory, self._queue, self._batch_size = celery, factory, queue, batch_size
        self._pending: SimpleQueue[str | None] = SimpleQueue()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    def send(self, run_id: str) -> None:
        """Queue `run_id` for the broker; the thread starts with the first one."""
        with self._starting:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="clr-relay", daemon=True)
                self._thread.start()
        self._pending.put(run_id)

    def stop(self, timeout: float = 10) -> None:
        """Send what is queued, then end the thread."""
        with self._starting:
            thread = self._thread
        if thread is not None:
            self._pending.put(None)
            thread.join(timeout)

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            batch = [self._pending.get()]
            while len(batch) < self._batch_size and not self._pending.empty():
                batch.append(self._pending.get())
            stopping = None in batch
            run_ids = [run_id for run_id in batch if run_id is not None]
            send_runs(run_ids, celery=self._celery, factory=self._factory, queue=self._queue)


def supervise_once(
    *,
    celery: Celery,
    factory: sessionmaker[Session],
    settings: Settings,
    client: httpx.Client | None = None,
) -> list[str]:
    """Reap silent runs, release held variants, (re)send queued runs, then webhooks; returns runs sent.

    `client` delivers the webhooks; without one, a client is made for this pass.
    """
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
    due = [*released, *pending]
    sent = due if send_runs(due, celery=celery, factory=factory, queue=settings.queue) else []
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
