"""Processes starting together on the embedded broker (Kombu's SQLAlchemy transport on SQLite)."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from dispatch.broker import declare_queues, job_queue, make_celery
from store.settings import Settings


def _declare(url: str, at: float, answers: multiprocessing.Queue[str]) -> None:
    app = make_celery(Settings(broker_url=url, queue="jobs"))
    time.sleep(max(0.0, at - time.time()))  # asleep, not spinning: the suite's other processes need the CPU
    try:
        declare_queues(app, [job_queue("jobs")])
        answers.put("ok")
    except Exception as error:  # the answer is what the test reads
        answers.put(f"{type(error).__name__}: {error}")


def test_processes_declaring_the_job_queue_at_once_on_a_fresh_broker_all_succeed(tmp_path: Path) -> None:
    """Each first use creates the tables and the queue's row by a check, then a create: without the retry,
    four processes at once failed on "already exists" or the unique queue name in 10 of 10 tries here."""
    spawn = multiprocessing.get_context("spawn")
    for attempt in range(2):
        url = f"sqla+sqlite:///{tmp_path / f'broker-{attempt}.db'}"
        answers: multiprocessing.Queue[str] = spawn.Queue()
        at = time.time() + 5  # every process started and imported by then
        processes = [spawn.Process(target=_declare, args=(url, at, answers)) for _ in range(4)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=60)
        assert [answers.get(timeout=5) for _ in processes] == ["ok"] * 4
