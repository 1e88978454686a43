"""Celery tasks: thin wrappers that take a run id and hand it to `execute`."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from celery import Task
from celery.signals import worker_process_init
from sqlalchemy.orm import Session, sessionmaker

from dispatch.broker import RUN_TASK, make_celery
from store.db import make_engine, make_sessionmaker
from store.settings import get_settings
from worker.execute import execute

celery_app = make_celery()


@lru_cache
def session_factory() -> sessionmaker[Session]:
    """Created lazily in the pool process, so no connection crosses a fork."""
    return make_sessionmaker(make_engine(get_settings().resolved_database_url))


@worker_process_init.connect
def _limit_torch_threads(**_: Any) -> None:
    threads = get_settings().worker_torch_threads
    if threads:
        import torch

        torch.set_num_threads(threads)


@celery_app.task(name=RUN_TASK, bind=True, ignore_result=True)
def run(self: Task[Any, Any], run_id: str) -> str | None:
    """Run one queued run; a duplicate delivery returns None and does nothing."""
    worker = f"{self.request.hostname}/{os.getpid()}"
    return execute(run_id, factory=session_factory(), settings=get_settings(), worker=worker)
