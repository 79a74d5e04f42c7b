"""JWKSCache against a real loopback key server, on asyncio and trio; time from a fake clock."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from auth0_asgi import Auth0Settings, ConfigurationError, JWKSCache, SigningKeysUnavailableError, UnknownSigningKeyError

from .conftest import JWKSServer, SigningPair, running_jwks_server

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make_cache(jwks_server: JWKSServer, clock: FakeClock) -> AsyncIterator[Any]:
    caches: list[JWKSCache] = []

    def make(**options: Any) -> JWKSCache:
        options.setdefault("algorithms", ["RS256", "ES256"])
        options.setdefault("clock", clock)
        cache = JWKSCache(options.pop("url", jwks_server.url), **options)
        caches.append(cache)
        return cache

    yield make
    for cache in caches:
        await cache.aclose()


async def test_keys_are_fetched_once_and_cached(jwks_server: JWKSServer, make_cache: Any, rsa_key: SigningPair) -> None:
    cache = make_cache()
    for _ in range(20):
        key = await cache.get_signing_key("rsa-1")
    assert key.kid == "rsa-1"
    assert key.algorithms == frozenset({"RS256"})
    assert key.key.public_numbers() == rsa_key.private.public_key().public_numbers()
    assert jwks_server.count == 1
    assert cache.fetch_count == 1


async def test_fetch_sends_a_user_agent_naming_the_package(jwks_server: JWKSServer, make_cache: Any) -> None:
    await make_cache().get_signing_key("rsa-1")
    assert jwks_server.requests[0]["user-agent"].startswith("auth0-asgi/")
    assert jwks_server.requests[0]["path"] == "/.well-known/jwks.json"


async def test_ttl_expiry_refreshes(jwks_server: JWKSServer, make_cache: Any, clock: FakeClock) -> None:
    cache = make_cache(cache_ttl=600)
    await cache.get_signing_key("rsa-1")
    clock.advance(599)
    await cache.get_signing_key("rsa-1")
    assert jwks_server.count == 1
    clock.advance(2)
    await cache.get_signing_key("rsa-1")
    assert jwks_server.count == 2


async def test_fresh_key_answers_only_within_the_ttl_and_never_fetches(
    jwks_server: JWKSServer, make_cache: Any, clock: FakeClock
) -> None:
    cache = make_cache(cache_ttl=600)
    assert cache.fresh_key("rsa-1") is None  # nothing held yet: get_signing_key fetches
    key = await cache.get_signing_key("rsa-1")
    assert cache.fresh_key("rsa-1") is key
    assert cache.fresh_key("never-published") is None  # get_signing_key decides on a refresh
    clock.advance(600)
    assert cache.fresh_key("rsa-1") is None  # stale: get_signing_key refreshes or serves it
    assert jwks_server.count == 1


async def test_while_refreshed_ahead_a_lookup_holding_its_key_never_fetches(
    jwks_server: JWKSServer, make_cache: Any, clock: FakeClock, second_rsa_key: SigningPair, rsa_key: SigningPair
) -> None:
    cache = make_cache(cache_ttl=600, max_stale=3600)
    await cache.get_signing_key("rsa-1")
    jwks_server.publish(rsa_key, second_rsa_key)
    with cache.refreshing_ahead():
        clock.advance(601)  # stale: the background task's to refresh, not this lookup's
        assert (await cache.get_signing_key("rsa-1")).kid == "rsa-1"
        assert jwks_server.count == 1
        assert (await cache.get_signing_key("rsa-2")).kid == "rsa-2"  # a key not held may fetch
        assert jwks_server.count == 2
        clock.advance(4300)  # past max_stale: no keys held, so a lookup fetches
        await cache.get_signing_key("rsa-1")
        assert jwks_server.count == 3
    clock.advance(601)  # the background task is gone: the lookup refreshes on demand again
    await cache.get_signing_key("rsa-1")
    assert jwks_server.count == 4


async def test_a_rotated_in_key_is_accepted_at_once(
    jwks_server: JWKSServer, make_cache: Any, rsa_key: SigningPair, second_rsa_key: SigningPair
) -> None:
    cache = make_cache()
    await cache.get_signing_key("rsa-1")
    jwks_server.publish(rsa_key, second_rsa_key)
    key = await cache.get_signing_key("rsa-2")
    assert key.kid == "rsa-2"
    assert jwks_server.count == 2


async def test_a_removed_key_is_refused_after_refresh(
    jwks_server: JWKSServer, make_cache: Any, clock: FakeClock, second_rsa_key: SigningPair
) -> None:
    cache = make_cache(cache_ttl=600)
    await cache.get_signing_key("rsa-1")
    jwks_server.publish(second_rsa_key)
    clock.advance(601)
    with pytest.raises(UnknownSigningKeyError):
        await cache.get_signing_key("rsa-1")


async def test_a_flood_of_unknown_kids_costs_one_fetch_per_cooldown(
    jwks_server: JWKSServer, make_cache: Any, clock: FakeClock
) -> None:
    cache = make_cache(refresh_cooldown=30)
    await cache.get_signing_key("rsa-1")
    refused = 0
    for i in range(50):
        try:
            await cache.get_signing_key(f"made-up-{i}")
        except UnknownSigningKeyError:
            refused += 1
    assert refused == 50
    assert jwks_server.count == 2  # the first fetch plus one unknown-kid refresh
    clock.advance(31)
    for i in range(50):
        with pytest.raises(UnknownSigningKeyError):
            await cache.get_signing_key(f"again-{i}")
    assert jwks_server.count == 3
    assert (await cache.get_signing_key("rsa-1")).kid == "rsa-1"


async def test_concurrent_unknown_kids_share_one_refresh(jwks_server: JWKSServer, make_cache: Any) -> None:
    cache = make_cache()
    await cache.get_signing_key("rsa-1")
    outcomes: list[str] = []

    async def lookup(i: int) -> None:
        try:
            await cache.get_signing_key(f"made-up-{i}")
        except UnknownSigningKeyError:
            outcomes.append("refused")

    async with anyio.create_task_group() as tg:
        for i in range(50):
            tg.start_soon(lookup, i)
    assert outcomes == ["refused"] * 50
    assert jwks_server.count == 2


async def test_fifty_concurrent_cold_lookups_share_one_fetch(jwks_server: JWKSServer, make_cache: Any) -> None:
    cache = make_cache()
    kids: list[str] = []

    async def lookup() -> None:
        kids.append((await cache.get_signing_key("rsa-1")).kid)

    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(lookup)
    assert kids == ["rsa-1"] * 50
    assert jwks_server.count == 1


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"status": 500}, id="http-500"),
        pytest.param({"status": 404}, id="http-404"),
        pytest.param({"body": b"{not json"}, id="invalid-json"),
        pytest.param({"body": b"[1, 2]"}, id="json-array"),
        pytest.param({"body": b'{"keys": {}}'}, id="keys-not-a-list"),
        pytest.param({"body": b"\xff\xfe{}"}, id="not-utf8"),
        pytest.param({"drop": True}, id="connection-dropped"),
    ],
)
async def test_serve_stale_when_a_refresh_fails(
    jwks_server: JWKSServer, make_cache: Any, clock: FakeClock, fault: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    cache = make_cache(cache_ttl=600, retry_interval=5)
    await cache.get_signing_key("rsa-1")
    for name, value in fault.items():
        setattr(jwks_server, name, value)
    clock.advance(601)
    with caplog.at_level(logging.WARNING, logger="auth0_asgi"):
        assert (await cache.get_signing_key("rsa-1")).kid == "rsa-1"
    assert jwks_server.count == 2
    assert "serving the cached keys" in caplog.text
    # Within the retry interval nobody calls the failing server again.
    clock.advance(4)
    assert (await cache.get_signing_key("rsa-1")).kid == "rsa-1"
    assert jwks_server.count == 2


async def test_with_no_keys_at_all_lookups_fail_with_retry_after_and_recover(
    jwks_server: JWKSServer, make_cache: Any, clock: FakeClock, rsa_key: SigningPair
) -> None:
    jwks_server.status = 503
    cache = make_cache(retry_interval=5)
    with pytest.raises(SigningKeysUnavailableError) as first:
        await cache.get_signing_key("rsa-1")
    assert first.value.retry_after == 5
    clock.advance(3.5)
    with pytest.raises(SigningKeysUnavailableError) as second:
        await cache.get_signing_key("rsa-1")
    assert second.value.retry_after == 2
    assert jwks_server.count == 1
    jwks_server.publish(rsa_key)
    clock.advance(2)
    assert (await cache.get_signing_key("rsa-1")).kid == "rsa-1"
    assert jwks_server.count == 2


async def test_a_hung_key_server_times_out(jwks_server: JWKSServer, make_cache: Any) -> None:
    jwks_server.hang = True
    cache = make_cache(fetch_timeout=0.2)
    with pytest.raises(SigningKeysUnavailableError):
        await cache.get_signing_key("rsa-1")
    assert jwks_server.count == 1


async def test_redirects_are_not_followed(jwks_server: JWKSServer, make_cache: Any) -> None:
    with running_jwks_server() as elsewhere:
        jwks_server.status = 302
        jwks_server.headers = {"Location": elsewhere.url}
        with pytest.raises(SigningKeysUnavailableError):
            await make_cache().get_signing_key("rsa-1")
        assert elsewhere.count == 0


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "read-to-close"])
async def test_an_oversized_body_is_refused(jwks_server: JWKSServer, make_cache: Any, declared: bool) -> None:
    jwks_server.body = json.dumps({"keys": [], "padding": "x" * 300_000}).encode()
    jwks_server.declare_length = declared
    with pytest.raises(SigningKeysUnavailableError):
        await make_cache().get_signing_key("rsa-1")
    assert jwks_server.count == 1


def _rsa_jwk(kid: str, bits: int = 2048, **extra: Any) -> dict[str, Any]:
    public = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    return {**RSAAlgorithm.to_jwk(public, as_dict=True), "kid": kid, **extra}


def _private_rsa_jwk(kid: str) -> dict[str, Any]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {**RSAAlgorithm.to_jwk(private, as_dict=True), "kid": kid}


UNUSABLE_ENTRIES: list[Any] = [
    pytest.param(lambda rsa_jwk, ec_jwk: {**rsa_jwk, "kid": "enc", "use": "enc"}, id="use-enc"),
    pytest.param(lambda rsa_jwk, ec_jwk: {"kty": "oct", "kid": "sym", "k": "c2VjcmV0"}, id="symmetric"),
    pytest.param(lambda rsa_jwk, ec_jwk: {**rsa_jwk, "kid": "okp", "kty": "OKP"}, id="unsupported-kty"),
    pytest.param(lambda rsa_jwk, ec_jwk: {k: v for k, v in rsa_jwk.items() if k != "kid"}, id="no-kid"),
    pytest.param(lambda rsa_jwk, ec_jwk: {**rsa_jwk, "kid": 7}, id="numeric-kid"),
    pytest.param(lambda rsa_jwk, ec_jwk: {**rsa_jwk, "kid": "k" * 300}, id="huge-kid"),
    pytest.param(lambda rsa_jwk, ec_jwk: {**rsa_jwk, "kid": "bad-n", "n": "!!!"}, id="unparseable"),
    pytest.param(lambda rsa_jwk, ec_jwk: {**rsa_jwk, "kid": "rs512", "alg": "RS512"}, id="alg-outside-allow-list"),
    pytest.param(lambda rsa_jwk, ec_jwk: _private_rsa_jwk("priv"), id="private-rsa-key"),
    pytest.param(lambda rsa_jwk, ec_jwk: _rsa_jwk("small", bits=1024), id="rsa-1024"),
    pytest.param(lambda rsa_jwk, ec_jwk: {**ec_jwk, "kid": "p384", "crv": "P-384"}, id="ec-curve-mismatch"),
    pytest.param(lambda rsa_jwk, ec_jwk: "not-an-object", id="not-an-object"),
]


@pytest.mark.parametrize("make_entry", UNUSABLE_ENTRIES)
async def test_unusable_keys_are_skipped(
    jwks_server: JWKSServer, make_cache: Any, rsa_key: SigningPair, ec_key: SigningPair, make_entry: Any
) -> None:
    entry = make_entry(rsa_key.jwk, ec_key.jwk)
    jwks_server.keys = [entry, rsa_key.jwk]
    cache = make_cache()
    assert (await cache.get_signing_key("rsa-1")).kid == "rsa-1"
    kid = entry.get("kid") if isinstance(entry, dict) else None
    if isinstance(kid, str):
        with pytest.raises(UnknownSigningKeyError):
            await cache.get_signing_key(kid)


async def test_a_duplicated_kid_is_ignored_whole(
    jwks_server: JWKSServer, make_cache: Any, rsa_key: SigningPair, second_rsa_key: SigningPair, ec_key: SigningPair
) -> None:
    jwks_server.keys = [rsa_key.jwk, {**second_rsa_key.jwk, "kid": "rsa-1"}, ec_key.jwk]
    cache = make_cache()
    assert (await cache.get_signing_key("ec-1")).algorithms == frozenset({"ES256"})
    with pytest.raises(UnknownSigningKeyError):
        await cache.get_signing_key("rsa-1")


async def test_an_injected_client_is_used_and_left_open(jwks_server: JWKSServer, make_cache: Any) -> None:
    async with httpx.AsyncClient() as client:
        cache = make_cache(http_client=client)
        await cache.get_signing_key("rsa-1")
        await cache.aclose()
        assert not client.is_closed
    assert jwks_server.count == 1


async def test_an_owned_client_is_closed_by_aclose(jwks_server: JWKSServer, make_cache: Any) -> None:
    cache = make_cache()
    await cache.get_signing_key("rsa-1")
    client = cache._fetcher.client
    assert client is not None
    await cache.aclose()
    assert client.is_closed


async def test_while_one_refresh_hangs_others_are_served_the_stale_keys(
    jwks_server: JWKSServer, make_cache: Any, clock: FakeClock
) -> None:
    cache = make_cache(cache_ttl=600, fetch_timeout=30)
    await cache.get_signing_key("rsa-1")
    clock.advance(601)
    jwks_server.hang = True
    jwks_server.received.clear()
    served: list[str] = []

    async def refresher() -> None:
        served.append((await cache.get_signing_key("rsa-1")).kid + " after refresh")

    async with anyio.create_task_group() as tg:
        tg.start_soon(refresher)
        await anyio.to_thread.run_sync(jwks_server.received.wait, 10)
        for _ in range(10):
            served.append((await cache.get_signing_key("rsa-1")).kid)
        assert served == ["rsa-1"] * 10  # none of them waited for the hung fetch
        jwks_server.hang = False
        jwks_server.release.set()
    assert served[-1] == "rsa-1 after refresh"
    assert jwks_server.count == 2


async def test_a_fetch_outlives_the_cancelled_requests_that_started_it(
    jwks_server: JWKSServer, make_cache: Any
) -> None:
    # Clients give up after 50 ms; the key server takes 300 ms. Were the fetch the request's,
    # each request would start a fetch and cancel it, and keys would never be held.
    cache = make_cache(fetch_timeout=5)
    jwks_server.delay = 0.3
    for _ in range(3):
        with anyio.move_on_after(0.05):
            await cache.get_signing_key("rsa-1")
    jwks_server.delay = 0
    assert (await cache.get_signing_key("rsa-1")).kid == "rsa-1"
    assert jwks_server.count == 1  # the first fetch was carried through; nobody fetched again
    assert cache.fetch_count == 1


async def test_a_cancelled_fetcher_does_not_fail_the_lookups_waiting_on_it(
    make_cache: Any, rsa_key: SigningPair
) -> None:
    calls: list[str] = []
    fetching, answer = anyio.Event(), anyio.Event()
    document = json.dumps({"keys": [rsa_key.jwk]}).encode()

    async def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        fetching.set()
        await answer.wait()
        return httpx.Response(200, content=document)

    fetcher_scope = anyio.CancelScope()
    kids: list[str] = []
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        cache = make_cache(http_client=client, fetch_timeout=30)

        async def fetcher() -> None:
            with fetcher_scope:
                await cache.get_signing_key("rsa-1")

        async def waiter() -> None:
            kids.append((await cache.get_signing_key("rsa-1")).kid)

        async with anyio.create_task_group() as tg:
            tg.start_soon(fetcher)
            await fetching.wait()
            tg.start_soon(waiter)  # queues behind the fetch in progress
            await anyio.wait_all_tasks_blocked()
            fetcher_scope.cancel()  # the request that started the fetch is cancelled...
            await anyio.wait_all_tasks_blocked()
            assert kids == []  # ...and the fetch goes on
            answer.set()
    assert kids == ["rsa-1"]
    assert len(calls) == 1


async def test_stale_keys_are_served_up_to_max_stale_then_refused(
    jwks_server: JWKSServer, make_cache: Any, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    cache = make_cache(cache_ttl=600, retry_interval=5, max_stale=3600)
    await cache.get_signing_key("rsa-1")
    jwks_server.status = 500
    clock.advance(600 + 3599)  # one second short of the ceiling: still served stale
    assert (await cache.get_signing_key("rsa-1")).kid == "rsa-1"
    clock.advance(1)
    with caplog.at_level(logging.WARNING, logger="auth0_asgi"), pytest.raises(SigningKeysUnavailableError) as info:
        await cache.get_signing_key("rsa-1")
    assert info.value.retry_after == 4  # the refresh that failed a second ago set the interval
    assert "over 3600s stale; refusing them" in caplog.text
    clock.advance(1)  # within the retry interval: no fetch, still refused
    with pytest.raises(SigningKeysUnavailableError):
        await cache.get_signing_key("rsa-1")
    assert jwks_server.count == 2  # the first fetch and the one failed refresh
    jwks_server.status = 200
    clock.advance(5)
    assert (await cache.get_signing_key("rsa-1")).kid == "rsa-1"  # recovers with the next fetch
    assert jwks_server.count == 3


async def test_max_stale_zero_serves_no_stale_keys(jwks_server: JWKSServer, make_cache: Any, clock: FakeClock) -> None:
    cache = make_cache(cache_ttl=600, max_stale=0)
    await cache.get_signing_key("rsa-1")
    jwks_server.status = 500
    clock.advance(600)
    with pytest.raises(SigningKeysUnavailableError):
        await cache.get_signing_key("rsa-1")


async def test_an_injected_mock_transport_serves_keys_with_our_timeout_and_headers(
    make_cache: Any, rsa_key: SigningPair
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"keys": [rsa_key.jwk]})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        cache = make_cache(http_client=client, fetch_timeout=12.5)
        assert (await cache.get_signing_key("rsa-1")).kid == "rsa-1"
    # httpx's own default (5 s a phase) must not cut a longer configured fetch short.
    assert seen[0].extensions["timeout"] == {"connect": 12.5, "read": 12.5, "write": 12.5, "pool": 12.5}
    assert seen[0].headers["accept-encoding"] == "identity"


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "no-length"])
async def test_an_oversized_pre_read_response_is_refused(make_cache: Any, declared: bool) -> None:
    huge = json.dumps({"keys": [], "padding": "x" * 300_000}).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        response = httpx.Response(200, content=huge)
        if not declared:
            del response.headers["content-length"]
        return response

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(SigningKeysUnavailableError):
            await make_cache(http_client=client).get_signing_key("rsa-1")


@pytest.mark.parametrize(
    ("cache_control", "bounds", "ttl"),
    [
        pytest.param("public, max-age=5", (60, 3600), 60, id="clamped-up-auth0s-few-seconds"),
        pytest.param("max-age=120", (60, 3600), 120, id="within-bounds"),
        pytest.param("max-age=999999", (60, 3600), 3600, id="clamped-down"),
        pytest.param('MAX-AGE="300", must-revalidate', (60, 3600), 300, id="quoted-and-upper-case"),
        pytest.param("no-store", (60, 3600), 60, id="no-store-is-the-lowest"),
        pytest.param("no-cache, max-age=600", (60, 3600), 60, id="no-cache-wins"),
        pytest.param("s-maxage=900", (60, 3600), 600, id="shared-cache-directive-ignored"),
        pytest.param(None, (60, 3600), 600, id="no-header-uses-cache-ttl"),
        pytest.param("max-age=5", None, 600, id="disabled-by-default"),
    ],
)
async def test_cache_control_max_age_is_honoured_only_when_enabled_and_clamped(
    jwks_server: JWKSServer,
    make_cache: Any,
    clock: FakeClock,
    cache_control: str | None,
    bounds: tuple[float, float] | None,
    ttl: float,
) -> None:
    if cache_control is not None:
        jwks_server.headers["Cache-Control"] = cache_control
    cache = make_cache(cache_ttl=600, cache_control_ttl=bounds)
    await cache.get_signing_key("rsa-1")
    clock.advance(ttl - 1)
    await cache.get_signing_key("rsa-1")
    assert jwks_server.count == 1  # still fresh one second before the TTL
    clock.advance(1)
    await cache.get_signing_key("rsa-1")
    assert jwks_server.count == 2  # refreshed at the TTL


def test_cache_control_settings_come_from_the_environment() -> None:
    settings = Auth0Settings.from_env(
        {
            "AUTH0_DOMAIN": "dev-x.us.auth0.com",
            "AUTH0_API_AUDIENCE": "https://api.example.com",
            "AUTH0_JWKS_CACHE_CONTROL": "true",
            "AUTH0_JWKS_CACHE_TTL_MIN": "30",
            "AUTH0_JWKS_CACHE_TTL_MAX": "7200",
        },
        None,
    )
    assert (settings.jwks_cache_control, settings.jwks_cache_ttl_min, settings.jwks_cache_ttl_max) == (True, 30, 7200)
    assert JWKSCache.from_settings(settings)._fetcher._cache_control_ttl == (30.0, 7200.0)
    bounds = "AUTH0_JWKS_CACHE_TTL_MIN=900 must not exceed AUTH0_JWKS_CACHE_TTL_MAX=60"
    with pytest.raises(ConfigurationError, match=re.escape(bounds)):
        Auth0Settings(domain="x.example.com", audience=("a",), jwks_cache_ttl_min=900, jwks_cache_ttl_max=60)
