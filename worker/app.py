"""The Celery app: configured for long GPU jobs; importing it loads neither torch nor the tasks' code."""

from __future__ import annotations

from celery import Celery

from store.settings import Settings, get_settings

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
