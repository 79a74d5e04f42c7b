"""The DPoP replay stores: one first use per key, records that expire, and refusals that fail closed.

The Redis store runs against a real redis-server (see conftest); faults are a stopped server.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anyio
import pytest
from redis.asyncio import Redis

from auth0_asgi import InMemoryReplayStore, ReplayStoreUnavailableError
from auth0_asgi.redis import RedisReplayStore

from .conftest import RedisServer, loopback_socket

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_in_memory_store_accepts_each_key_once_until_it_expires(anyio_backend: str) -> None:
    clock = Clock()
    store = InMemoryReplayStore(now=clock)
    assert await store.first_use("a", clock.now + 10) is True
    assert await store.first_use("a", clock.now + 10) is False
    assert await store.first_use("b", clock.now + 10) is True
    clock.now += 10
    assert await store.first_use("a", clock.now + 10) is False  # still live at its expiry instant
    clock.now += 0.001
    assert await store.first_use("a", clock.now + 10) is True  # forgotten once it could not be accepted
    assert len(store) == 1  # "b" went with it


async def test_a_full_in_memory_store_refuses_rather_than_forget_a_live_record(anyio_backend: str) -> None:
    clock = Clock()
    store = InMemoryReplayStore(2, now=clock)
    assert await store.first_use("a", clock.now + 5)
    assert await store.first_use("b", clock.now + 50)
    with pytest.raises(ReplayStoreUnavailableError) as full:
        await store.first_use("c", clock.now + 50)
    assert (full.value.status_code, full.value.retry_after) == (503, 1)
    assert await store.first_use("a", clock.now + 5) is False  # the live record was kept
    clock.now += 6
    assert await store.first_use("c", clock.now + 50) is True  # room again once "a" expired


async def test_concurrent_first_uses_of_one_key_have_one_winner(anyio_backend: str) -> None:
    store = InMemoryReplayStore()
    results: list[bool] = []

    async def use() -> None:
        results.append(await store.first_use("same", time.time() + 60))

    async with anyio.create_task_group() as group:
        for _ in range(50):
            group.start_soon(use)
    assert sorted(results) == [False] * 49 + [True]


@pytest.fixture
async def redis_store(redis_url: str) -> AsyncIterator[RedisReplayStore]:
    store = RedisReplayStore.from_url(redis_url, prefix=f"test-{time.monotonic_ns()}:")
    try:
        yield store
    finally:
        await store.aclose()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # redis-py's client is asyncio-only
async def test_redis_store_accepts_each_key_once_and_lets_redis_expire_it(
    redis_store: RedisReplayStore, redis_url: str
) -> None:
    expires_at = time.time() + 30
    assert await redis_store.first_use("k", expires_at) is True
    assert await redis_store.first_use("k", expires_at) is False
    inspector = Redis.from_url(redis_url)
    try:
        # The TTL is the PX written: the proof's remaining acceptance window, rounded up (never early).
        remaining = await inspector.pttl(redis_store.prefix + "k")
        assert 29_000 < remaining <= 31_000
        assert await inspector.get(redis_store.prefix + "k") == b"1"
    finally:
        await inspector.aclose()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_concurrent_first_uses_on_redis_have_one_winner(redis_url: str) -> None:
    # Two stores, two connection pools: what two workers are.
    stores = [RedisReplayStore.from_url(redis_url, prefix="race:") for _ in range(2)]
    results: list[bool] = []

    async def use(store: RedisReplayStore) -> None:
        results.append(await store.first_use("same", time.time() + 60))

    try:
        async with anyio.create_task_group() as group:
            for index in range(40):
                group.start_soon(use, stores[index % 2])
    finally:
        for store in stores:
            await store.aclose()
    assert sorted(results) == [False] * 39 + [True]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_redis_down_is_unavailable_and_recovers(own_redis_server: RedisServer) -> None:
    store = RedisReplayStore.from_url(own_redis_server.url, timeout=0.5)
    try:
        assert await store.first_use("before", time.time() + 60) is True
        own_redis_server.stop()
        started = time.monotonic()
        with pytest.raises(ReplayStoreUnavailableError) as down:
            await store.first_use("during", time.time() + 60)
        assert time.monotonic() - started < 5  # bounded by the timeout, not hung
        assert (down.value.status_code, down.value.error, down.value.retry_after) == (
            503,
            "temporarily_unavailable",
            1,
        )
        own_redis_server.start()  # an empty server: a restart without persistence
        assert await store.first_use("after", time.time() + 60) is True
    finally:
        await store.aclose()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_hung_redis_is_unavailable_within_the_timeout() -> None:
    # A socket that listens and never answers: connecting succeeds (the kernel's backlog), then
    # nothing. The store must give up within its timeout, not hold the request for ever.
    sock, port = loopback_socket()
    sock.listen(8)
    store = RedisReplayStore.from_url(f"redis://127.0.0.1:{port}/0", timeout=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(ReplayStoreUnavailableError):
            await store.first_use("k", time.time() + 60)
        assert time.monotonic() - started < 3
    finally:
        await store.aclose()
        sock.close()


# From the outside review (issue 18), finding 9: a replay record timed by Redis's clock.


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # redis-py runs on asyncio
async def test_a_replay_record_lives_as_long_as_the_proof_by_our_clock_not_redis_clock(redis_url: str) -> None:
    from auth0_asgi.redis import RedisReplayStore

    lagging = time.time() - 120.0  # the app's clock is two minutes behind Redis's
    store = RedisReplayStore.from_url(redis_url, now=lambda: lagging)
    try:
        assert await store.first_use("proof-key", lagging + 60.0) is True
        assert await store.first_use("proof-key", lagging + 60.0) is False
        ttl = await store.client.pttl(store.prefix + "proof-key")
        assert 55_000 <= ttl <= 60_000
    finally:
        await store.aclose()
