"""X-Request-ID: the caller's id for a request (or a new one), answered back and carried into the logs."""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch.logs import log_context

HEADER = "X-Request-ID"
# What a caller's id may hold: enough for UUIDs and tracing ids, nothing a log line or a header could misread.
ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# How the OpenAPI document declares it (api.openapi): a parameter of every operation, a header of each answer.
PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": "Your id for this request, answered back and written on every log line of it (and of the "
    "runs it creates, on the worker); an id that does not match the pattern is replaced by a new one",
    "schema": {"type": "string", "pattern": f"^{ACCEPTED.pattern}$", "examples": ["platform-req-42"]},
}
RESPONSE_HEADER = {
    "description": "The request's id: the caller's X-Request-ID, or one made for it (32 hex digits)",
    "required": True,
    "schema": {"type": "string", "pattern": f"^{ACCEPTED.pattern}$"},
}


class RequestId:
    """ASGI middleware: the request's id in `scope["state"]["request_id"]`, the log context and the answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(HEADER.lower().encode(), b"").decode("latin-1")
        request_id = given if ACCEPTED.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def answer_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (HEADER.lower().encode(), request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        with log_context(request_id=request_id):
            await self.app(scope, receive, answer_with_id)
