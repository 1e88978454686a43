"""A typed Python client of clr-service."""

from client.client import DEFAULT_URL, ClrClient
from client.models import ClrError, Progress, Run, RunPage
from client.sse import Event

__all__ = ["DEFAULT_URL", "ClrClient", "ClrError", "Event", "Progress", "Run", "RunPage"]
