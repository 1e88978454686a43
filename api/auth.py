"""Bearer keys to owners, remembered for a few seconds so a request costs no key lookup in the database."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from store import keys


class OwnerCache:
    """The owner of each active key for `ttl` seconds: a revoked key is refused within `ttl` by every process.

    Only found owners are kept (an unknown key is looked up every time), keyed by the key's digest, so no
    plain key stays in memory; past `max_entries` the cache starts over rather than grow.
    """

    def __init__(
        self,
        *,
        look_up: Callable[[str], Awaitable[str | None]],
        ttl: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._look_up, self._ttl, self._max_entries, self._clock = look_up, ttl, max_entries, clock
        self._owners: dict[str, tuple[str, float]] = {}

    def __len__(self) -> int:
        """How many owners are remembered now."""
        return len(self._owners)

    async def owner_of(self, key: str) -> str | None:
        """The key's owner, from memory when looked up less than `ttl` seconds ago."""
        digest = keys.digest(key)
        now = self._clock()
        remembered = self._owners.get(digest)
        if remembered is not None and remembered[1] > now:
            return remembered[0]
        owner = await self._look_up(key)
        if owner is None:
            self._owners.pop(digest, None)
        elif self._ttl > 0:
            if len(self._owners) >= self._max_entries:
                self._owners.clear()
            self._owners[digest] = (owner, now + self._ttl)
        return owner
