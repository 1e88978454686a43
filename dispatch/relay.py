"""The relay: a process of its own that publishes committed runs to the broker (the outbox pattern).

The API only commits a run; this loop claims queued runs not yet sent by marking them dispatched (`FOR UPDATE
SKIP LOCKED`, so any number of relays share the work and no two claim a run), commits, then publishes their
tasks in one batch. Measured on 2 cores (benchmarks/api_load.py), building
and publishing Celery messages in a thread of the API process took a fifth of its GIL time, which
`POST /lr-find` needs for requests. `clr-service api` and `clr-service serve` start one beside uvicorn; a
run no relay sends is sent by the API's supervisor after `dispatch_timeout`.
"""

from __future__ import annotations

import logging
import signal
import threading

from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from dispatch.broker import make_celery, publish
from dispatch.logs import configure_logging
from store import runs
from store.db import make_engine, make_sessionmaker, transaction
from store.settings import Settings, get_settings

log = logging.getLogger(__name__)


def relay_once(*, celery: Celery, factory: sessionmaker[Session], queue: str, batch_size: int) -> int:
    """Claim up to `batch_size` queued runs never sent, oldest first, and publish them; the number published.

    The claim commits before the broker call, so no row stays locked while the broker is slow or down; a
    refused publish marks the runs unsent again. A relay that dies between the two leaves its claimed runs
    to the supervisor's re-send after `redispatch_timeout`.
    """
    with transaction(factory) as session:
        run_ids = runs.claim_undispatched(session=session, limit=batch_size)
    if not run_ids:
        return 0
    if not publish(run_ids, celery=celery, queue=queue):
        with transaction(factory) as session:
            runs.unmark_dispatched(session=session, run_ids=run_ids)
        return 0
    return len(run_ids)


def run_relay(
    *, celery: Celery, factory: sessionmaker[Session], settings: Settings, stop: threading.Event
) -> None:
    """`relay_once` until `stop` is set: again at once after a full batch, else after `relay_interval`."""
    while not stop.is_set():
        try:
            sent = relay_once(
                celery=celery, factory=factory, queue=settings.queue, batch_size=settings.relay_batch_size
            )
        except Exception:  # the database may be restarting: keep the process, try again
            log.exception("relay pass failed; retrying in %s s", settings.relay_interval)
            sent = 0
        if sent < settings.relay_batch_size:
            stop.wait(settings.relay_interval)


def main() -> None:
    """`python -m dispatch.relay`: relay with the environment's settings until SIGTERM or SIGINT."""
    settings = get_settings()
    configure_logging(settings, "relay")
    engine = make_engine(settings.resolved_database_url, pool_size=1, max_overflow=0)
    celery = make_celery(settings)
    stop = threading.Event()
    # The loop runs in a thread; this one only waits for the signal (setting an Event from a signal
    # handler could deadlock with the loop's own wait on it).
    signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    loop = threading.Thread(
        target=run_relay,
        kwargs={"celery": celery, "factory": make_sessionmaker(engine), "settings": settings, "stop": stop},
        name="clr-relay",
    )
    log.info("relay sending queued runs to queue %r every %s s", settings.queue, settings.relay_interval)
    loop.start()
    try:
        signal.sigwait(signals)
    finally:
        stop.set()
        loop.join()
        celery.close()
        engine.dispose()


if __name__ == "__main__":
    main()
