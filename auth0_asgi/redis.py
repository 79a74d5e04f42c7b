"""RedisReplayStore: DPoP replay records shared by every worker and replica (the `redis` extra).

``pip install "auth0-asgi[redis]"``, then ``AUTH0_DPOP_REPLAY_URL=redis://host:6379/0`` (or
``rediss://`` for TLS). Each proof costs one round trip, ``SET key 1 NX PX ttl``: the record
is written only if it is absent, in one atomic command, never a read and then a write, so two
workers racing with the same proof cannot both win. Redis expires the record itself once the
proof could no longer be accepted. The lifetime is relative, measured on the clock that
accepts proofs (ours): an absolute expiry (``EXAT``) would be read on Redis's clock, and with
the app's clock behind Redis's a record would vanish while its proof is still accepted. Needs
an asyncio server (redis-py's client is asyncio-only).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from .errors import ReplayStoreUnavailableError

__all__ = ["RedisReplayStore"]

_DEFAULT_PREFIX: Final = "auth0-asgi:dpop:"


class RedisReplayStore:
    """A replay store on Redis: ``RedisReplayStore.from_url("redis://localhost:6379/0")``.

    - `client`: a `redis.asyncio.Redis`; its connection pool serves every request of the worker.
    - `prefix`: what every key starts with, so the records share a database safely; default
      ``auth0-asgi:dpop:``.
    - `timeout`: seconds one record may take, connecting included; default 1. Past it, or on any
      Redis error, `first_use` raises ReplayStoreUnavailableError (answered 503).
    - `retry_after`: the `Retry-After` seconds of that answer; default 1.
    - `now`: wall-clock seconds since the epoch, the clock proofs are accepted by (the
      `ProofChecker`'s); default `time.time`.
    """

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = _DEFAULT_PREFIX,
        timeout: float = 1.0,
        retry_after: int = 1,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.timeout = timeout
        self.retry_after = retry_after
        self._now = now

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = _DEFAULT_PREFIX,
        timeout: float = 1.0,
        retry_after: int = 1,
        now: Callable[[], float] = time.time,
    ) -> RedisReplayStore:
        """A store with its own client for `url` (``redis://``, ``rediss://`` or ``unix://``)."""
        client = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        return cls(client, prefix=prefix, timeout=timeout, retry_after=retry_after, now=now)

    async def first_use(self, key: str, expires_at: float) -> bool:
        """See `auth0_asgi.replay.ReplayStore.first_use`: one ``SET NX PX`` round trip, the
        record living from now until `expires_at` by `now` (at least a millisecond)."""
        lifetime_ms = max(1, math.ceil((expires_at - self._now()) * 1000))
        try:
            async with asyncio.timeout(self.timeout):
                created = await self.client.set(self.prefix + key, b"1", nx=True, px=lifetime_ms)
        except (RedisError, OSError, TimeoutError) as exc:
            raise ReplayStoreUnavailableError(self.retry_after, f"redis: {type(exc).__name__}") from exc
        return created is not None and bool(created)

    async def aclose(self) -> None:
        """Close the client's connections (done for you at lifespan shutdown)."""
        await self.client.aclose()
