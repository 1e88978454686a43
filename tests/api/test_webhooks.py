"""Webhooks: the supervisor POSTs an ended run's summary to its callback_url, signed, with retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from dispatch.supervisor import supervise_once
from store.models import Run
from store.settings import Settings
from tests.api.conftest import MakeClient

pytestmark = pytest.mark.anyio
SECRET = "test-webhook-secret"
# The receivers of these tests listen on loopback, which only this allowance lets webhooks reach.
LOCAL_RECEIVERS = {"webhook_allowed_networks": ["127.0.0.0/8"]}


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

    class Handler(BaseHTTPRequestHandler):
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

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
async def client(make_client: MakeClient) -> httpx.AsyncClient:
    """A client of an app that accepts callback_urls on loopback."""
    client: httpx.AsyncClient = await make_client(**LOCAL_RECEIVERS)
    return client


@pytest.fixture
def supervise(
    session_factory: sessionmaker[Session], celery_app: Celery, make_settings: Callable[..., Settings]
) -> Callable[..., None]:
    def once(**overrides: Any) -> None:
        settings = make_settings(
            webhook_secret=SECRET, webhook_backoff=0.0, **{**LOCAL_RECEIVERS, **overrides}
        )
        supervise_once(celery=celery_app, factory=session_factory, settings=settings)

    return once


async def test_cancelling_a_queued_run_posts_its_signed_summary_once(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    train_body: dict[str, Any],
    receiver: Receiver,
    supervise: Callable[..., None],
    read_run: Callable[[str], Run | None],
) -> None:
    created = (
        await client.post("/train", json={**train_body, "callback_url": receiver.url}, headers=auth)
    ).json()
    await client.post(f"/runs/{created['id']}/cancel", headers=auth)

    supervise()
    supervise()

    assert receiver.bad_signatures == 0
    assert [(body["id"], body["status"], body["kind"]) for body in receiver.received] == [
        (created["id"], "cancelled", "train")
    ]
    assert set(receiver.received[0]) == {"id", "kind", "status", "result", "error", "finished_at"}
    run = read_run(created["id"])
    assert run is not None
    assert run.delivery is not None
    assert (run.delivery["state"], run.delivery["attempts"], run.delivery["last_status"]) == (
        "delivered",
        1,
        200,
    )


async def test_failed_delivery_is_retried_then_recorded_as_delivered(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    train_body: dict[str, Any],
    receiver: Receiver,
    supervise: Callable[..., None],
    read_run: Callable[[str], Run | None],
) -> None:
    receiver.statuses = [500]
    created = (
        await client.post("/train", json={**train_body, "callback_url": receiver.url}, headers=auth)
    ).json()
    await client.post(f"/runs/{created['id']}/cancel", headers=auth)

    supervise()
    first = read_run(created["id"])
    supervise()
    second = read_run(created["id"])

    assert first is not None
    assert first.delivery is not None
    assert first.delivery["state"] == "pending"
    assert first.delivery["last_status"] == 500
    assert first.delivery["next_attempt_at"] is not None
    assert second is not None
    assert second.delivery is not None
    assert (second.delivery["state"], second.delivery["attempts"]) == ("delivered", 2)
    assert len(receiver.received) == 1


async def test_delivery_gives_up_after_the_last_attempt(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    train_body: dict[str, Any],
    receiver: Receiver,
    supervise: Callable[..., None],
    read_run: Callable[[str], Run | None],
) -> None:
    receiver.statuses = [503, 503, 503]
    created = (
        await client.post("/train", json={**train_body, "callback_url": receiver.url}, headers=auth)
    ).json()
    await client.post(f"/runs/{created['id']}/cancel", headers=auth)

    for _ in range(3):
        supervise(webhook_max_attempts=2)

    run = read_run(created["id"])
    assert run is not None
    assert run.delivery is not None
    assert (run.delivery["state"], run.delivery["attempts"]) == ("failed", 2)
    assert receiver.statuses == [503]
