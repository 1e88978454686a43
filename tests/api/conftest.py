"""An API app per test on the shared migrated databases, a real Celery app on Redis, keys for two owners."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from dispatch.broker import make_celery
from dispatch.relay import run_relay
from store import keys, runs
from store.db import transaction
from store.models import Run, RunKind, RunStatus
from store.settings import Settings
from tests.broker import queued_run_ids, send_leftovers
from tests.receivers import QuietHandler, serving

QUEUE = f"api-test-{uuid.uuid4().hex[:8]}"
DOWN_BROKER_URL = "redis://127.0.0.1:1/0"
LR_FIND_BODY: dict[str, Any] = {
    "model": {"name": "vanilla_cnn"},
    "dataset": {"name": "digits"},
    "batch_size": 16,
}
TRAIN_BODY: dict[str, Any] = {
    "model": {"name": "vanilla_cnn"},
    "dataset": {"name": "digits"},
    "epochs": 3,
    "schedule": {"policy": "triangular", "base_lr": 0.001, "max_lr": 0.01, "step_size_iter": 20},
}
COMPARISON_BODY: dict[str, Any] = {
    "model": {"name": "vanilla_cnn"},
    "dataset": {"name": "digits"},
    "epochs": 1,
    "repeats": 1,
    "variants": [{"name": "sgd", "optimizer": {"name": "sgd", "lr": 0.01}}],
}

MakeClient = Callable[..., Any]
SECRET = "test-webhook-secret"
# The test receivers listen on loopback, which only this allowance lets webhooks reach.
LOCAL_RECEIVERS = {"webhook_allowed_networks": ["127.0.0.0/8"]}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def celery_app(redis_url: str) -> Iterator[Celery]:
    """A real Celery app on the tests' Redis db; the api only sends to it, no worker consumes QUEUE."""
    app = make_celery(Settings(broker_url=redis_url, queue=QUEUE))
    yield app
    app.close()


@pytest.fixture(scope="session")
def down_celery_app() -> Iterator[Celery]:
    """A Celery app whose broker port is closed."""
    app = make_celery(Settings(broker_url=DOWN_BROKER_URL, queue=QUEUE))
    yield app
    app.close()


@pytest.fixture
def broker(redis_url: str) -> Iterator[redis.Redis]:
    """A client on the broker's Redis db, to look at what the API sent; the test queue starts empty."""
    client = redis.Redis.from_url(redis_url)
    client.delete(QUEUE)
    yield client
    client.delete(QUEUE)
    client.close()


@pytest.fixture
def sent_run_ids(broker: redis.Redis) -> Callable[..., list[str]]:
    """The run ids of the `clr.run` messages in the test queue, oldest first, once `at_least` are there.

    Submitted runs reach the broker through a relay (the `relay` fixture), a moment after the 202.
    """

    def sent(at_least: int = 0, timeout: float = 10) -> list[str]:
        deadline = time.monotonic() + timeout
        while broker.llen(QUEUE) < at_least and time.monotonic() < deadline:
            time.sleep(0.01)
        return queued_run_ids(broker, QUEUE)

    return sent


@pytest.fixture
def relay(
    session_factory: sessionmaker[Session],
    celery_app: Celery,
    make_settings: Callable[..., Settings],
    broker: redis.Redis,
) -> Iterator[None]:
    """A relay loop (dispatch/relay.py) in a thread for this test, sending to the test queue.

    Runs earlier tests left unsent go first and are dropped, so the queue holds this test's runs only.
    """
    send_leftovers(celery_app, session_factory, QUEUE, broker)
    stop = threading.Event()
    settings = make_settings(relay_interval=0.01)
    thread = threading.Thread(
        target=run_relay,
        kwargs={"celery": celery_app, "factory": session_factory, "settings": settings, "stop": stop},
    )
    thread.start()
    yield
    stop.set()
    thread.join(timeout=10)


@pytest.fixture
def make_settings(data_root: Path, redis_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"broker_url": redis_url, "data_roots": [data_root], "queue": QUEUE}
        return Settings(**{**values, **overrides})

    return make


@pytest.fixture
async def make_client(
    session_factory: sessionmaker[Session], celery_app: Celery, make_settings: Callable[..., Settings]
) -> AsyncIterator[MakeClient]:
    """Clients over HTTP to apps built with `create_app(settings overrides, celery=...)`."""
    async with AsyncExitStack() as stack:

        async def make(
            *, celery: Celery | None = None, raise_app_exceptions: bool = True, **overrides: Any
        ) -> Any:
            app = create_app(
                make_settings(**overrides), session_factory=session_factory, celery=celery or celery_app
            )
            # No lifespan runs under ASGITransport: release what the app opened.
            stack.push_async_callback(app.state.hot.close)
            transport = httpx.ASGITransport(app, raise_app_exceptions=raise_app_exceptions)
            client = httpx.AsyncClient(transport=transport, base_url="http://clr.test")
            return await stack.enter_async_context(client)

        yield make


@pytest.fixture
async def client(make_client: MakeClient) -> httpx.AsyncClient:
    client: httpx.AsyncClient = await make_client()
    return client


def _key_for(factory: sessionmaker[Session], owner: str) -> dict[str, str]:
    with transaction(factory) as session:
        _, plain = keys.create_key(session=session, owner=owner)
    return {"Authorization": f"Bearer {plain}"}


@pytest.fixture
def owner() -> str:
    return f"owner-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def auth(session_factory: sessionmaker[Session], owner: str) -> dict[str, str]:
    """Headers with a key of `owner`, a fresh owner per test so tests never see each other's runs."""
    return _key_for(session_factory, owner)


@pytest.fixture
def other_auth(session_factory: sessionmaker[Session]) -> dict[str, str]:
    """Headers with a key of a second owner."""
    return _key_for(session_factory, f"other-{uuid.uuid4().hex[:10]}")


@pytest.fixture
def make_run(session_factory: sessionmaker[Session], owner: str) -> Callable[..., Run]:
    """A run of `owner` written through `store`, moved along the state machine to `status`."""

    def make(
        kind: RunKind = RunKind.LR_FIND,
        status: RunStatus = RunStatus.QUEUED,
        *,
        result: dict[str, Any] | None = None,
        request: dict[str, Any] | None = None,
        run_owner: str | None = None,
    ) -> Run:
        body = request or (LR_FIND_BODY if kind == RunKind.LR_FIND else TRAIN_BODY)
        with transaction(session_factory) as session:
            run = runs.create_run(
                session=session, owner=run_owner or owner, kind=kind, request=body, max_attempts=2
            )
            path = {
                RunStatus.QUEUED: [],
                RunStatus.RUNNING: [RunStatus.RUNNING],
                RunStatus.CANCELLING: [RunStatus.RUNNING, RunStatus.CANCELLING],
                RunStatus.SUCCEEDED: [RunStatus.RUNNING, RunStatus.SUCCEEDED],
                RunStatus.FAILED: [RunStatus.RUNNING, RunStatus.FAILED],
                RunStatus.CANCELLED: [RunStatus.CANCELLED],
            }[status]
            for step in path:
                if step == RunStatus.RUNNING:
                    assert runs.start_run(session=session, run_id=run.id, worker="test-worker")
                    continue
                values: dict[str, Any] = {"result": result} if step == RunStatus.SUCCEEDED else {}
                assert runs.transition(session=session, run_id=run.id, to=step, **values)
        return run

    return make


@pytest.fixture
def read_run(session_factory: sessionmaker[Session]) -> Callable[[str], Run | None]:
    """The run as a fresh session sees it."""

    def read(run_id: str) -> Run | None:
        with session_factory() as session:
            return runs.get_run(session=session, run_id=run_id)

    return read


@pytest.fixture
def lr_find_body() -> dict[str, Any]:
    return copy.deepcopy(LR_FIND_BODY)


@pytest.fixture
def train_body() -> dict[str, Any]:
    return copy.deepcopy(TRAIN_BODY)


@dataclass
class Receiver:
    """A local HTTP server that answers with the queued statuses (then 200) and keeps verified bodies."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            timestamp = self.headers["X-CLR-Timestamp"]
            expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(self.headers.get("X-CLR-Signature", ""), f"sha256={expected}"):
                state.bad_signatures += 1
            status = state.statuses.pop(0) if state.statuses else 200
            if status == 200:
                state.received.append(json.loads(body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with serving(Handler) as url:
        state.url = f"{url}/hook"
        yield state
