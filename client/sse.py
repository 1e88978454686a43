"""A small reader of `text/event-stream` lines (the WHATWG event-stream format)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    """One server-sent event; `data` is its JSON payload decoded."""

    event: str
    data: Any
    id: str | None


def parse_events(lines: Iterable[str]) -> Iterator[Event]:
    """Events from the stream's lines; comments (pings) and events without data are skipped."""
    name, data, event_id = "message", list[str](), None
    for line in lines:
        if not line:
            if data:
                yield Event(event=name, data=json.loads("\n".join(data)), id=event_id)
            name, data = "message", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
        elif field == "id":
            event_id = value
