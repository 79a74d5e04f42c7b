"""RateLimit: at most one go per interval for each key, so a flood of one event logs a line a minute."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["RateLimit"]


class RateLimit:
    """At most one go per `interval` seconds for each key (a diagnosis code): a flood of the same
    mistake logs one line a minute, not one per request."""

    __slots__ = ("_clock", "_last", "interval")

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}

    def allow(self, key: str) -> bool:
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            return False
        self._last[key] = now
        return True
