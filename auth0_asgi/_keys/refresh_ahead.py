"""Key sets refreshed ahead of need, in a task the app's lifespan owns.

Each cache is refreshed at about 80 % of its TTL (less a random tenth, so that the workers
of a fleet spread their fetches), so no request ever waits for a TTL refresh: while this task
runs, a request holding keys serves them, stale ones too, and never fetches itself. After a failed
fetch the next try waits for the retry interval, as on-demand refreshes do. Unknown-kid
refreshes stay on demand, under the cooldown.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from typing import Final

import anyio

from auth0_asgi._log import fields
from auth0_asgi.jwks import JWKSCache

__all__ = ["REFRESH_AHEAD", "keep_fresh", "prefetch"]

logger = logging.getLogger("auth0_asgi")

#: The share of the TTL after which a key set is refreshed in the background.
REFRESH_AHEAD: Final = 0.8
_JITTER: Final = 0.1
# Floor between two wake-ups, so that nothing can make the loop spin.
_MIN_SLEEP: Final = 0.05
# Before the first fetch (no pre-warm), or while one is under way: how often to look again.
_IDLE_POLL: Final = 1.0


async def prefetch(caches: Iterable[JWKSCache]) -> None:
    """Fetch every key set now, concurrently; failures are logged by the caches, not raised."""
    async with anyio.create_task_group() as task_group:
        for cache in caches:
            task_group.start_soon(cache.refresh)


async def keep_fresh(caches: Iterable[JWKSCache], *, fraction: Callable[[], float] = random.random) -> None:
    """Refresh each cache ahead of its TTL until cancelled; `fraction` draws the jitter (0 to 1)."""
    async with anyio.create_task_group() as task_group:
        for cache in caches:
            task_group.start_soon(_keep_one_fresh, cache, fraction)


async def _keep_one_fresh(cache: JWKSCache, fraction: Callable[[], float]) -> None:
    with cache.refreshing_ahead():  # requests holding keys now leave every TTL refresh to us
        await _refresh_until_cancelled(cache, fraction)


async def _refresh_until_cancelled(cache: JWKSCache, fraction: Callable[[], float]) -> None:
    while True:
        if cache.fetch_count == 0 or cache.refresh_under_way:
            # Nothing fetched yet: without pre-warm the first protected request fetches, as
            # without lifespan. A fetch under way decides when the next is due: taken for "no
            # keys, due now", it was fetched again the moment it landed (twice at start).
            await anyio.sleep(_IDLE_POLL)
            continue
        ahead = REFRESH_AHEAD * (1 - _JITTER * fraction())
        await anyio.sleep(max(_MIN_SLEEP, cache.refresh_due_in(ahead)))
        logger.debug(
            "refreshing the key set of %s ahead of its TTL",
            cache.url,
            extra=fields("refresh_ahead", "ahead_of_ttl", url=cache.url),
        )
        await cache.refresh()
