"""Webhooks from a live API process: a receiver that trickles its answer holds up no other owner's webhook."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from tests.e2e.conftest import Service, service_env, wait_until
from tests.receivers import QuietHandler, serving

pytestmark = pytest.mark.e2e
DEADLINE = 4.0
TRICKLE_SECONDS = 0.5  # between two bytes of the slow receiver's answer, well under any read timeout
BODY = {"model": {"name": "vanilla_cnn"}, "dataset": {"name": "digits"}, "epochs": 1}


@dataclass
class Receivers:
    """`/slow` answers one byte every TRICKLE_SECONDS, status line included; `/fast` answers at once."""

    url: str = ""
    arrived: dict[str, float] = field(default_factory=dict)
    closed: dict[str, float] = field(default_factory=dict)


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    state = Receivers()

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            state.arrived[self.path] = time.monotonic()
            answer = b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n" + b"x" * 200
            pieces = [answer] if self.path == "/fast" else [answer[i : i + 1] for i in range(len(answer))]
            try:
                for piece in pieces:
                    self.wfile.write(piece)
                    self.wfile.flush()
                    if self.path == "/slow":
                        time.sleep(TRICKLE_SECONDS)
            except OSError:  # the sender hung up
                pass
            state.closed[self.path] = time.monotonic()
            self.close_connection = True

    with serving(Handler) as state.url:
        yield state


@pytest.fixture
def api_only(
    own_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """A live uvicorn and its supervisor on PostgreSQL; no worker: cancelled queued runs end at once."""
    home = tmp_path_factory.mktemp("webhooks")
    env = service_env(
        home,
        own_database("postgres"),
        "redis://127.0.0.1:1/0",  # the supervisor needs no broker for webhooks
        CLR_SWEEP_INTERVAL="0.2",
        CLR_WEBHOOK_DEADLINE=str(DEADLINE),
        CLR_WEBHOOK_MAX_ATTEMPTS="1",
        CLR_WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
    )
    service = Service(env=env, home=home)
    try:
        service.start_api()
        yield service
    finally:
        service.stop()


def _ended_with_callback(client: httpx.Client, url: str) -> str:
    created = client.post("/train", json={**BODY, "callback_url": url})
    assert created.status_code == 202, created.text
    run_id = str(created.json()["id"])
    assert client.post(f"/runs/{run_id}/cancel").json()["status"] == "cancelled"
    return run_id


def test_a_trickling_receiver_delays_no_other_owners_webhook_and_is_cut_at_the_deadline(
    api_only: Service, receivers: Receivers
) -> None:
    slow_owner, fast_owner = api_only.create_key("slow-owner"), api_only.create_key("fast-owner")
    with api_only.client(slow_owner) as slow, api_only.client(fast_owner) as fast:
        slow_run = _ended_with_callback(slow, f"{receivers.url}/slow")
        wait_until(lambda: "/slow" in receivers.arrived, timeout=30, what="the slow receiver's request")
        _ended_with_callback(fast, f"{receivers.url}/fast")
        wait_until(lambda: "/fast" in receivers.arrived, timeout=30, what="the other owner's webhook")
        fast_arrived = time.monotonic()
        still_trickling = "/slow" not in receivers.closed
        delivery = wait_until(
            lambda: slow.get(f"/runs/{slow_run}").json()["delivery"], timeout=30, what="the slow delivery"
        )
        wait_until(lambda: "/slow" in receivers.closed, timeout=30, what="the slow connection to close")

    assert still_trickling, "the other owner's webhook waited for the trickling receiver"
    assert fast_arrived < receivers.closed["/slow"]
    # The whole slow delivery ended at its deadline, not after the receiver's ~20 s answer.
    assert receivers.closed["/slow"] - receivers.arrived["/slow"] < DEADLINE + 3
    assert delivery["state"] == "failed"
    assert delivery["last_error"] == f"no complete answer within the deadline of {DEADLINE} s"
