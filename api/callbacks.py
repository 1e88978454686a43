"""The callback_url check at submit: 422 `callback_url_not_allowed` unless its host may receive webhooks."""

from __future__ import annotations

from api.errors import ApiError
from dispatch.targets import refusal_for_url
from store.settings import Settings


def check_callback_url(*, settings: Settings, url: str | None) -> None:
    """422 when `url` names a loopback, private, link-local, multicast or reserved host not allowed."""
    why = None if url is None else refusal_for_url(url, settings)
    if why is None:
        return
    detail = (
        f"callback_url {url!r} may not receive webhooks: {why}; "
        "allow it with CLR_WEBHOOK_ALLOWED_NETWORKS or CLR_WEBHOOK_ALLOWED_HOSTS"
    )
    error = {"loc": ["body", "callback_url"], "msg": detail, "type": "callback_url_not_allowed"}
    raise ApiError(422, "callback_url_not_allowed", detail, errors=[error])
