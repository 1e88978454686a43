"""Reading what reached the broker, shared by the API and relay tests."""

from __future__ import annotations

import base64
import json

import redis
from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from dispatch.relay import relay_once


def queued_run_ids(broker: redis.Redis, queue: str) -> list[str]:
    """The run ids of the `clr.run` messages in `queue`, oldest first."""
    ids: list[str] = []
    for raw in reversed(broker.lrange(queue, 0, -1)):
        message = json.loads(raw)
        assert message["headers"]["task"] == "clr.run"
        args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        assert kwargs == {}
        ids.extend(args)
    return ids


def send_leftovers(celery: Celery, factory: sessionmaker[Session], queue: str, broker: redis.Redis) -> None:
    """Send the runs earlier tests left unsent, and drop them: `queue` then holds the test's own runs only."""
    while relay_once(celery=celery, factory=factory, queue=queue, batch_size=1000):
        pass
    broker.delete(queue)
