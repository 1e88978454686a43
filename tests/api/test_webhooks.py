"""Webhooks: the supervisor POSTs an ended run's summary to its callback_url, signed, with retries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from dispatch.supervisor import supervise_once
from store.models import Run
from store.settings import Settings
from tests.api.conftest import LOCAL_RECEIVERS, SECRET, MakeClient, Receiver
from tests.e2e.conftest import wait_until
from tests.receivers import QuietHandler, serving

pytestmark = pytest.mark.anyio


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


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fe80::1]/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
        "http://2130706433/hook",
        "http://localhost:9000/hook",
        "http://api.localhost./hook",
    ],
)
async def test_a_callback_url_inside_the_network_is_refused_at_submit(
    make_client: MakeClient, auth: dict[str, str], train_body: dict[str, Any], owner: str, url: str
) -> None:
    client = await make_client()
    answer = await client.post("/train", json={**train_body, "callback_url": url}, headers=auth)
    listed = (await client.get("/runs", headers=auth)).json()

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "callback_url_not_allowed"
    assert answer.json()["errors"][0]["loc"] == ["body", "callback_url"]
    assert listed["items"] == []


async def test_allowed_networks_and_hosts_let_internal_receivers_through(
    make_client: MakeClient, auth: dict[str, str], train_body: dict[str, Any]
) -> None:
    client = await make_client(
        webhook_allowed_networks=["10.0.0.0/8"], webhook_allowed_hosts=["hooks.internal"]
    )
    for url in ("http://10.1.2.3/hook", "http://hooks.internal/hook", "https://example.com/hook"):
        answer = await client.post("/train", json={**train_body, "callback_url": url}, headers=auth)
        assert answer.status_code == 202, (url, answer.text)
    refused = await client.post(
        "/train", json={**train_body, "callback_url": "http://192.168.0.1/"}, headers=auth
    )
    assert refused.json()["code"] == "callback_url_not_allowed"


async def test_a_host_name_resolving_inside_the_network_is_refused_when_sending(
    make_client: MakeClient,
    auth: dict[str, str],
    train_body: dict[str, Any],
    receiver: Receiver,
    supervise: Callable[..., None],
) -> None:
    # Accepted by a process that allows the name, sent by one that does not: the resolved address decides.
    client = await make_client(webhook_allowed_hosts=["localhost"])
    url = receiver.url.replace("127.0.0.1", "localhost")
    created = (await client.post("/train", json={**train_body, "callback_url": url}, headers=auth)).json()
    await client.post(f"/runs/{created['id']}/cancel", headers=auth)

    supervise(webhook_allowed_networks=[])
    run = (await client.get(f"/runs/{created['id']}", headers=auth)).json()

    assert receiver.received == []
    assert run["delivery"]["state"] == "failed"
    assert run["delivery"]["attempts"] == 1
    assert "localhost resolves to 127.0.0.1, a loopback address" in run["delivery"]["last_error"]


async def test_the_delivery_outcome_is_part_of_the_run(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    train_body: dict[str, Any],
    receiver: Receiver,
    supervise: Callable[..., None],
) -> None:
    created = (
        await client.post("/train", json={**train_body, "callback_url": receiver.url}, headers=auth)
    ).json()
    await client.post(f"/runs/{created['id']}/cancel", headers=auth)
    before = (await client.get(f"/runs/{created['id']}", headers=auth)).json()

    supervise()
    after = (await client.get(f"/runs/{created['id']}", headers=auth)).json()

    assert created["delivery"] is None
    assert before["delivery"] is None
    assert after["delivery"]["state"] == "delivered"
    assert after["delivery"]["last_status"] == 200
    assert after["delivery"]["delivered_at"] is not None


async def test_a_receiver_answering_an_endless_body_is_read_only_up_to_the_cap(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    train_body: dict[str, Any],
    supervise: Callable[..., None],
) -> None:
    sent: list[int] = []

    class Endless(QuietHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", str(2**30))
            self.end_headers()
            total = 0
            try:
                while total < 2**30:
                    self.wfile.write(b"x" * 65536)
                    total += 65536
            except OSError:  # the sender stopped reading and hung up
                pass
            sent.append(total)

    with serving(Endless) as url:
        body = {**train_body, "callback_url": f"{url}/hook"}
        created = (await client.post("/train", json=body, headers=auth)).json()
        await client.post(f"/runs/{created['id']}/cancel", headers=auth)
        supervise(webhook_max_response_bytes=1024, webhook_deadline=30)
        run = (await client.get(f"/runs/{created['id']}", headers=auth)).json()
        wait_until(lambda: sent, timeout=30, what="the receiver to notice the hang-up")

    assert run["delivery"]["state"] == "delivered"
    assert sent[0] < 2**30 // 8  # the service hung up long before the gigabyte the receiver offered
