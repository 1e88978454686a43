"""Celery is configured for long GPU jobs whose state lives in SQL."""

from __future__ import annotations

import subprocess
import sys

from dispatch.broker import RUN_TASK, make_celery
from store.settings import Settings


def test_celery_is_set_up_for_long_jobs_that_survive_a_lost_worker() -> None:
    settings = Settings(broker_url="redis://127.0.0.1:6379/13", job_time_limit=7200, job_soft_time_limit=7000)
    conf = make_celery(settings).conf
    assert conf.task_acks_late
    assert conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_ignore_result
    assert (conf.task_soft_time_limit, conf.task_time_limit) == (7000, 7200)
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit
    assert conf.task_routes[RUN_TASK] == {"queue": "gpu"}


def test_the_embedded_default_uses_a_sqlite_broker_under_clr_home(tmp_path: object) -> None:
    settings = Settings(home=tmp_path)  # type: ignore[arg-type]
    assert make_celery(settings).conf.broker_url.startswith("sqla+sqlite:///")
    assert settings.resolved_database_url.startswith("sqlite:///")


def test_loading_the_worker_tasks_does_not_initialize_cuda() -> None:
    code = "import worker.tasks, torch, sys; sys.exit(1 if torch.cuda.is_initialized() else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
