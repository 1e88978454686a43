"""Time-ordered run ids: newest-first listing and cursor paging sort by the id alone."""

from __future__ import annotations

import os
import time


def new_id() -> str:
    """48 bits of milliseconds then 80 random bits, as 32 hex digits (the layout of UUIDv7)."""
    millis = time.time_ns() // 1_000_000
    return f"{millis:012x}{os.urandom(10).hex()}"
