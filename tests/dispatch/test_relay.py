"""The relay: each committed run reaches the broker once, with one relay or several; it stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from cli.main import relay_command
from dispatch.broker import make_celery
from dispatch.relay import relay_once
from store import runs
from store.db import make_engine, make_sessionmaker, transaction
from store.models import Run, RunKind, RunStatus
from store.settings import Settings
from tests.broker import queued_run_ids, send_leftovers

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def queue() -> str:
    return f"relay-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def broker(redis_url: str, queue: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.delete(queue)
    client.close()


@pytest.fixture
def celery_app(redis_url: str, queue: str) -> Iterator[Celery]:
    app = make_celery(Settings(broker_url=redis_url, queue=queue))
    yield app
    app.close()


def create_runs(factory: sessionmaker[Session], count: int) -> list[str]:
    with transaction(factory) as session:
        return [
            runs.create_run(
                session=session, owner="relay", kind=RunKind.LR_FIND, request={}, max_attempts=1
            ).id
            for _ in range(count)
        ]


def test_the_relay_sends_each_unsent_queued_run_once_and_records_it_dispatched(
    session_factory: sessionmaker[Session], celery_app: Celery, broker: redis.Redis, queue: str
) -> None:
    send_leftovers(celery_app, session_factory, queue, broker)
    waiting, started, dispatched = create_runs(session_factory, 3)
    with transaction(session_factory) as session:
        runs.start_run(session=session, run_id=started, worker="w")
        runs.mark_dispatched(session=session, run_ids=[dispatched])
    first = create_runs(session_factory, 1)[0]  # created after `waiting`: sent after it

    assert relay_once(celery=celery_app, factory=session_factory, queue=queue, batch_size=10) == 2
    assert relay_once(celery=celery_app, factory=session_factory, queue=queue, batch_size=10) == 0

    assert queued_run_ids(broker, queue) == [waiting, first]
    with session_factory() as session:
        stored = {run_id: runs.get_run(session=session, run_id=run_id) for run_id in (waiting, first)}
    assert all(run is not None and run.dispatched_at is not None for run in stored.values())


def test_relays_at_once_send_every_run_exactly_once(
    postgres_url: str, celery_app: Celery, broker: redis.Redis, queue: str
) -> None:
    engine = make_engine(postgres_url)
    factory = make_sessionmaker(engine)
    send_leftovers(celery_app, factory, queue, broker)
    created = create_runs(factory, 300)

    def relay() -> None:
        while relay_once(celery=celery_app, factory=factory, queue=queue, batch_size=20):
            pass

    relays = [threading.Thread(target=relay) for _ in range(3)]
    for thread in relays:
        thread.start()
    for thread in relays:
        thread.join(timeout=60)
    engine.dispose()

    messages = queued_run_ids(broker, queue)
    assert len(messages) == len(set(messages)) == 300, "no run is sent twice by relays at once"
    assert set(messages) == set(created)


def test_the_relay_process_sends_a_new_run_at_its_next_pass_and_stops_on_sigterm(
    postgres_url: str, redis_url: str, broker: redis.Redis, queue: str, tmp_path: Path
) -> None:
    engine = make_engine(postgres_url)
    factory = make_sessionmaker(engine)
    with make_celery(Settings(broker_url=redis_url, queue=queue)) as celery:
        send_leftovers(celery, factory, queue, broker)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLR_")}
    env |= {"CLR_DATABASE_URL": postgres_url, "CLR_BROKER_URL": redis_url, "CLR_QUEUE": queue}
    with (tmp_path / "relay.log").open("wb") as log:
        process = subprocess.Popen(relay_command(), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    started = time.monotonic()
    log_text = (tmp_path / "relay.log").read_text
    try:
        while "relay sending" not in log_text():
            assert process.poll() is None, log_text()
            assert time.monotonic() - started < 30, log_text()
            time.sleep(0.01)
        [run_id] = create_runs(factory, 1)
        created = time.monotonic()
        while not queued_run_ids(broker, queue):
            assert time.monotonic() - created < 10, log_text()
            time.sleep(0.01)
        latency = time.monotonic() - created
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
    with factory() as session:
        stored: Run | None = runs.get_run(session=session, run_id=run_id)
    engine.dispose()

    assert queued_run_ids(broker, queue) == [run_id]
    assert latency < 2, f"sent {latency:.2f} s after its commit, not at the relay's next pass"
    assert stored is not None
    assert stored.status == RunStatus.QUEUED
    assert stored.dispatched_at is not None
