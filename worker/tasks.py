"""Celery tasks: thin wrappers that take a run id and hand it to `execute`; the pool processes' set-up."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from celery import Task
from celery.signals import worker_process_init, worker_shutting_down
from sqlalchemy.orm import Session, sessionmaker

from dispatch.broker import RUN_TASK, make_celery
from store.db import make_engine, make_sessionmaker
from store.settings import get_settings
from worker import drain
from worker.devices import Slot, pin_pool_process
from worker.execute import execute

celery_app = make_celery()
_slot: list[Slot] = []  # this pool process's slot, set once it starts


@lru_cache
def session_factory() -> sessionmaker[Session]:
    """Created lazily in the pool process, so no connection crosses a fork."""
    return make_sessionmaker(make_engine(get_settings().resolved_database_url))


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
