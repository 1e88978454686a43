"""The Celery app (set for long GPU jobs) and publishing runs to it; loads neither torch nor the tasks."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from celery import Celery
from kombu import Exchange, Queue
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from store import runs
from store.db import autocommit
from store.settings import Settings, get_settings

log = logging.getLogger(__name__)

RUN_TASK = "clr.run"


def make_celery(settings: Settings | None = None) -> Celery:
    """A Celery app for `settings`; the API uses it only to send tasks by name."""
    settings = settings or get_settings()
    broker_url = settings.resolved_broker_url
    app = Celery("clr", broker=broker_url, include=["worker.tasks"])
    transport_options: dict[str, object] = {"visibility_timeout": settings.visibility_timeout}
    if broker_url.startswith("sqla+"):
        # Kombu hands the SQLAlchemy transport's options to create_engine, so only engine arguments fit here.
        transport_options = {"connect_args": {"timeout": 30}}
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=settings.queue,
        task_routes={RUN_TASK: {"queue": settings.queue}},
        task_soft_time_limit=settings.job_soft_time_limit,
        task_time_limit=settings.job_time_limit,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        # Fail fast when the broker is down: the run row is already committed and is sent again later.
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        worker_hijack_root_logger=False,
        # Task events for monitors such as Flower; no "sent" event, which would cost every submit a publish.
        worker_send_task_events=True,
    )
    return app


def job_queue(name: str) -> Queue:
    """The queue runs are sent to, as Celery declares its default queue."""
    return Queue(name, Exchange(name), routing_key=name)


def declare_queues(celery: Celery, queues: Iterable[Queue], *, attempts: int = 5) -> None:
    """Declare queues before consuming or publishing, again when another process won a race.

    Kombu's SQLAlchemy transport (the embedded broker) creates its tables, then a queue's row, by a check and
    then a create, so processes starting together can fail on "already exists" or the unique queue name; a
    worker whose consumer fails so stops ("Unrecoverable error"). `serve` declares the job queue before it
    starts its processes, a worker the queues it consumes before its consumer starts.
    """
    for queue in queues:
        for attempt in range(attempts):
            try:
                with celery.connection_for_write() as connection:
                    queue.bind(connection.default_channel).declare()
                break
            except (IntegrityError, OperationalError):
                if attempt == attempts - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))


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
