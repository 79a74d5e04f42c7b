"""RedisReplayStore: DPoP replay records shared by every worker and replica (the `redis` extra).

``pip install "auth0-asgi[redis]"``, then ``AUTH0_DPOP_REPLAY_URL=redis://host:6379/0`` (or
``rediss://`` for TLS). Each proof costs one round trip, ``SET key 1 NX EXAT expires_at``: the
record is written only if it is absent, in one atomic command, never a read and then a write,
so two workers racing with the same proof cannot both win. Redis expires the record itself once
the proof could no longer be accepted. Needs Redis 6.2 or later (EXAT) and an asyncio server
(redis-py's client is asyncio-only).
"""

from __future__ import annotations

import asyncio
import math
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
    """

    def __init__(
        self, client: Redis, *, prefix: str = _DEFAULT_PREFIX, timeout: float = 1.0, retry_after: int = 1
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.timeout = timeout
        self.retry_after = retry_after

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = _DEFAULT_PREFIX, timeout: float = 1.0, retry_after: int = 1
    ) -> RedisReplayStore:
        """A store with its own client for `url` (``redis://``, ``rediss://`` or ``unix://``)."""
        client = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        return cls(client, prefix=prefix, timeout=timeout, retry_after=retry_after)

    async def first_use(self, key: str, expires_at: float) -> bool:
        """See `auth0_asgi.replay.ReplayStore.first_use`: one ``SET NX EXAT`` round trip."""
        try:
            async with asyncio.timeout(self.timeout):
                created = await self.client.set(self.prefix + key, b"1", nx=True, exat=math.ceil(expires_at))
        except (RedisError, OSError, TimeoutError) as exc:
            raise ReplayStoreUnavailableError(self.retry_after, f"redis: {type(exc).__name__}") from exc
        return created is not None and bool(created)

    async def aclose(self) -> None:
        """Close the client's connections (done for you at lifespan shutdown)."""
        await self.client.aclose()
