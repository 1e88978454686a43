"""Webhook delivery: POST each ended run's summary, signed, with retries, on an event loop of its own.

Outbox-style: every supervisor pass picks the runs that ended with a callback_url and a pending delivery,
so every way a run ends (worker, cancel of a queued run, reaper) is covered and a restart loses nothing.
Delivery is at least once: a receiver may see a summary twice and should key on the run id. Each delivery
runs as a task of `WebhookPool`'s loop under a deadline for the whole of it (a receiver that trickles its
answer byte by byte is cut off), so a slow receiver holds only its own delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import ip_address
from typing import Any

import anyio
import httpx

from dispatch.targets import refusal_for_address
from store.models import Run
from store.runs import utcnow
from store.settings import Settings

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 3600.0


class TargetRefused(Exception):
    """The receiver's host resolves to an address webhooks may not reach."""


@dataclass(frozen=True)
class Due:
    """One delivery to make: where, what, and the record of the attempts before it."""

    run_id: str
    owner: str
    url: str
    payload: dict[str, Any]
    previous: dict[str, Any]

    @classmethod
    def of(cls, run: Run) -> Due:
        assert run.callback_url is not None
        return cls(run.id, run.owner, run.callback_url, summary(run), run.delivery or {})


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256 over `timestamp + "." + body`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def summary(run: Run) -> dict[str, Any]:
    finished = run.finished_at.isoformat() if run.finished_at else None
    return {
        "id": run.id,
        "kind": run.kind,
        "status": run.status,
        "result": run.result,
        "error": run.error,
        "finished_at": finished,
    }


def open_client(settings: Settings) -> httpx.AsyncClient:
    """The pool's client: no proxies from the environment, no redirects, a fresh connection per delivery.

    Connections are not kept: one made to an address for one host name must not carry another's request.
    """
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=settings.webhook_timeout,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


async def attempt(*, due: Due, settings: Settings, client: httpx.AsyncClient) -> dict[str, Any]:
    """One POST, whole under `settings.webhook_deadline`, and the delivery record after it."""
    body = json.dumps(due.payload, separators=(",", ":")).encode()
    now = utcnow()
    timestamp = str(int(now.timestamp()))
    headers = {"Content-Type": "application/json", "X-CLR-Timestamp": timestamp}
    if settings.webhook_secret is not None:
        headers["X-CLR-Signature"] = sign(settings.webhook_secret.get_secret_value(), timestamp, body)
    attempts = int(due.previous.get("attempts", 0)) + 1
    status: int | None = None
    error: str | None = None
    refused = False
    try:
        with anyio.fail_after(settings.webhook_deadline):
            status = await _post(due.url, body, headers, settings, client)
        if not 200 <= status < 300:
            error = f"the receiver answered {status}"
    except TargetRefused as refusal:
        error, refused = f"refused: {refusal}", True
    except TimeoutError:
        error = f"no complete answer within the deadline of {settings.webhook_deadline} s"
    except httpx.HTTPError as failure:
        error = f"{type(failure).__name__}: {failure}"
    record: dict[str, Any] = {
        "attempts": attempts,
        "last_status": status,
        "last_error": error,
        "delivered_at": None,
        "next_attempt_at": None,
    }
    if error is None:
        return {**record, "state": "delivered", "delivered_at": now.isoformat()}
    if refused or attempts >= settings.webhook_max_attempts:
        log.warning("giving up on the webhook of run %s after %d attempts: %s", due.run_id, attempts, error)
        return {**record, "state": "failed"}
    return {**record, "state": "pending", "next_attempt_at": _next_attempt(now, attempts, settings)}


async def _post(
    url: str, body: bytes, headers: dict[str, str], settings: Settings, client: httpx.AsyncClient
) -> int:
    """POST to `url` at an address checked right now; the status, having read at most the response cap."""
    request = client.build_request("POST", url, content=body, headers=headers)
    host = request.url.host
    if host.rstrip(".") not in settings.webhook_allowed_hosts:
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        address = await _checked_address(host, port, settings)
        # Connect to the address just checked, not to whatever the name resolves to next (DNS rebinding);
        # the host name still goes in Host and in TLS SNI, so certificates are checked against it.
        request.url = request.url.copy_with(host=address)
        request.extensions["sni_hostname"] = host
    response = await client.send(request, stream=True)
    try:
        read = 0
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read >= settings.webhook_max_response_bytes:
                break
    finally:
        await response.aclose()
    return response.status_code


async def _checked_address(host: str, port: int, settings: Settings) -> str:
    """The first address `host` resolves to, if none of its addresses is refused; else TargetRefused."""
    try:
        found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise httpx.ConnectError(f"cannot resolve {host}: {error}") from error
    addresses = [str(info[4][0]).split("%")[0] for info in found]
    for address in addresses:
        why = refusal_for_address(ip_address(address), settings)
        if why is not None:
            raise TargetRefused(f"{host} resolves to {address}, a {why} address")
    return addresses[0]


def _next_attempt(now: datetime, attempts: int, settings: Settings) -> str:
    delay = min(settings.webhook_backoff * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS)
    return (now + timedelta(seconds=delay)).isoformat(timespec="microseconds")
