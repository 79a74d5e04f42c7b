"""Where used DPoP proofs are remembered, so that each is accepted once (RFC 9449 §11.1).

A store answers one atomic question, `first_use(key, expires_at)`: is this the first time
`key` is seen? The key is derived from signed values of the proof only (its key's thumbprint
and its `jti`), and `expires_at` is the last moment the proof could be accepted, after which
the record can go. A store that cannot answer raises ReplayStoreUnavailableError and the
request is refused with 503: a proof that cannot be recorded could be replayed.

- `InMemoryReplayStore` (the default) remembers per process: a proof replayed to another
  worker or replica is not caught.
- `auth0_asgi.redis.RedisReplayStore` (the `redis` extra) shares one record across a fleet.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from typing import Protocol

from .errors import ReplayStoreUnavailableError

__all__ = ["InMemoryReplayStore", "ReplayStore"]


class ReplayStore(Protocol):
    """Remembers which DPoP proofs were used."""

    async def first_use(self, key: str, expires_at: float) -> bool:
        """True the first time `key` is seen (and records it until `expires_at`, epoch seconds);
        False for every later use before then. Atomic: of concurrent calls, one gets True.

        Raises ReplayStoreUnavailableError when it cannot tell.
        """


class InMemoryReplayStore:
    """A bounded, per-process replay store.

    - `max_entries`: how many live records it holds; default 100000. When full of records that
      have not expired it refuses (ReplayStoreUnavailableError) rather than forget one: evicting
      a live record would let its proof be replayed.
    - `now`: wall-clock seconds since the epoch; default `time.time`.
    """

    __slots__ = ("_expiries", "_now", "_records", "max_entries")

    def __init__(self, max_entries: int = 100_000, *, now: Callable[[], float] = time.time) -> None:
        self.max_entries = max_entries
        self._now = now
        self._records: dict[str, float] = {}
        self._expiries: list[tuple[float, str]] = []  # a heap: the soonest expiry first

    def __len__(self) -> int:
        return len(self._records)

    async def first_use(self, key: str, expires_at: float) -> bool:
        """See `ReplayStore.first_use`; never awaits, so it is atomic within the process."""
        now = self._now()
        self._forget_expired(now)
        if key in self._records:
            return False
        if len(self._records) >= self.max_entries:
            raise ReplayStoreUnavailableError(1, f"the in-memory replay store holds {self.max_entries} live proofs")
        self._records[key] = expires_at
        heapq.heappush(self._expiries, (expires_at, key))
        return True

    def _forget_expired(self, now: float) -> None:
        expiries, records = self._expiries, self._records
        while expiries and expiries[0][0] < now:
            _, key = heapq.heappop(expiries)
            del records[key]
