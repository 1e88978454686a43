"""Time-ordered ids: newest-first listing and cursor paging sort by the id alone."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ID_PATTERN = r"^[0-9a-f]{32}$"


def new_id(at: datetime) -> str:
    """48 bits of `at`'s milliseconds then 80 random bits, as 32 hex digits (the layout of UUIDv7).

    Give the row's `created_at` as `at`, so a creation-time range is also a range of ids.
    """
    return f"{id_prefix(at)}{os.urandom(10).hex()}"


def is_id(text: str) -> bool:
    """Whether `text` has the form of an id; anything else names no row (and never reaches a query)."""
    return re.fullmatch(ID_PATTERN, text) is not None


def id_prefix(at: datetime, *, later_ms: int = 0) -> str:
    """The 12 hex digits every id made in the millisecond of `at` (plus `later_ms`) starts with."""
    millis = (at - EPOCH) // timedelta(milliseconds=1) + later_ms
    return f"{max(millis, 0):012x}"
