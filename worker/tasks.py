"""Celery tasks: thin wrappers that take a run id and hand it to `execute`; the pool processes' set-up."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from celery import Task
from celery.signals import (
    setup_logging,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_shutdown,
    worker_shutting_down,
)
from sqlalchemy.orm import Session, sessionmaker

from dispatch.broker import RUN_TASK, declare_queues, make_celery
from dispatch.logs import configure_logging
from store.db import make_engine, make_sessionmaker
from store.settings import get_settings
from worker import drain
from worker.devices import Slot, pin_pool_process
from worker.execute import execute
from worker.metrics import forget_process, remove_scratch, serve_metrics

celery_app = make_celery()
_slot: list[Slot] = []  # this pool process's slot, set once it starts


@lru_cache
def session_factory() -> sessionmaker[Session]:
    """Created lazily in the pool process, so no connection crosses a fork."""
    return make_sessionmaker(make_engine(get_settings().resolved_database_url))


@setup_logging.connect
def _configure_logging(loglevel: int | str | None = None, **_: Any) -> None:
    """The service's log format instead of Celery's (a receiver here keeps Celery from setting up its own),
    at the worker's --loglevel."""
    configure_logging(get_settings(), "worker", level=loglevel)


@worker_init.connect
def _prepare_worker(sender: Any = None, **_: Any) -> None:
    if sender is not None:
        declare_queues(celery_app, sender.app.amqp.queues.consume_from.values())
    serve_metrics(get_settings())


@worker_shutdown.connect
def _remove_metrics_scratch(**_: Any) -> None:
    remove_scratch()


@worker_process_shutdown.connect
def _forget_pool_process(pid: int | None = None, **_: Any) -> None:
    forget_process(pid or os.getpid())


@worker_process_init.connect
def _prepare_pool_process(**_: Any) -> None:
    settings = get_settings()
    _slot[:] = [pin_pool_process(settings.worker_gpus)]  # first: nothing may initialise CUDA before
    if settings.worker_torch_threads:
        import torch

        torch.set_num_threads(settings.worker_torch_threads)


@worker_shutting_down.connect
def _drain_running_jobs(**_: Any) -> None:
    drain.forward_to_running_jobs()


@celery_app.task(name=RUN_TASK, bind=True, ignore_result=True)
def run(self: Task[Any, Any], run_id: str) -> str | None:
    """Run one queued run; a duplicate delivery returns None and does nothing."""
    worker = f"{self.request.hostname}/{os.getpid()}"
    slot = _slot[0] if _slot else Slot(index=0)
    settings = get_settings()
    with drain.on_sigterm(settings.drain_timeout):
        return execute(run_id, factory=session_factory(), settings=settings, worker=worker, slot=slot)
