"""Keys refreshed ahead of need, pre-warm and readiness, through real uvicorn with lifespan.

The loopback key server counts its requests: a request made after the TTL would have ended
must find the keys already refreshed, and cost no fetch of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth0_asgi import Auth0Middleware, Auth0Settings, ConfigurationError, JWKSCache
from auth0_asgi.testing import LocalIssuer

from .conftest import (
    AUDIENCE,
    JWKSServer,
    SigningPair,
    _rsa_private,
    demo_routes,
    make_settings,
    serve_with_uvicorn,
    sign_compact,
    standard_claims,
)

TENANT = {"AUTH0_DOMAIN": "dev-x.us.auth0.com", "AUTH0_API_AUDIENCE": AUDIENCE}


def _app(server: JWKSServer, **settings: Any) -> Auth0Middleware:
    middleware: list[Auth0Middleware] = []

    async def ready(request: Request) -> JSONResponse:
        # The readiness probe the README shows: 503 until every issuer's keys are held.
        return JSONResponse({"ready": middleware[0].ready}, status_code=200 if middleware[0].ready else 503)

    app = Starlette(routes=[*demo_routes(), Route("/healthz/ready", ready)])
    middleware.append(
        Auth0Middleware(app, settings=make_settings(server, **settings), protected_prefixes=["/api/private"])
    )
    return middleware[0]


def _token(key: SigningPair) -> dict[str, str]:
    return {"Authorization": f"Bearer {sign_compact({'alg': 'RS256', 'kid': key.kid}, standard_claims(), key)}"}


def _wait_for(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_rotation_is_picked_up_in_the_background_and_no_request_waits(
    jwks_server: JWKSServer, rsa_key: SigningPair, second_rsa_key: SigningPair
) -> None:
    # TTL 1.2 s: the background refresh comes at 0.86-0.96 s, the next one 0.86 s after it; the
    # request below lands past the first TTL and well before that next refresh.
    app = _app(jwks_server, jwks_cache_ttl=1.2, prefetch_keys=True)
    with serve_with_uvicorn(app) as base_url, httpx.Client(base_url=base_url) as client:
        assert jwks_server.count == 1  # pre-warmed before the first request
        assert client.get("/api/private", headers=_token(rsa_key)).status_code == 200
        jwks_server.publish(second_rsa_key)  # rotated: rsa-1 out, rsa-2 in
        _wait_for(lambda: jwks_server.count >= 2)  # the background refresh at ~80 % of the TTL
        time.sleep(0.35)  # past the TTL of the first fetch
        before = jwks_server.count
        rotated_in = client.get("/api/private", headers=_token(second_rsa_key))
        assert jwks_server.count == before  # the request fetched nothing on its own path
    assert rotated_in.status_code == 200


def test_the_first_refresh_ahead_waits_its_share_of_the_ttl_after_the_first_fetch(
    jwks_server: JWKSServer, rsa_key: SigningPair
) -> None:
    # Issue 31: with a 2 s TTL the key set was fetched twice within 50 ms at start. The refresher
    # looked (once a second) while the first request's fetch was in flight, found no keys held
    # ("due now") and fetched again the moment that fetch finished. A slow key server makes the
    # first fetch span the refresher's first look.
    jwks_server.delay = 1.3
    app = _app(jwks_server, jwks_cache_ttl=2)
    with serve_with_uvicorn(app) as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
        assert client.get("/api/private", headers=_token(rsa_key)).status_code == 200
        first_held = time.monotonic()  # the first fetch is done: its keys verified the token
        jwks_server.delay = 0
        _wait_for(lambda: jwks_server.count >= 3, seconds=15)
    first, second, third = jwks_server.arrivals[:3]
    # Each refresh is due at 72-80 % of the TTL after the keys it replaces arrived (a busy machine
    # can only make it later): 1.44 s at the earliest, less what the response took to come back.
    assert second - first_held >= 1.3, jwks_server.arrivals
    assert third - second >= 1.4, jwks_server.arrivals
    assert second - first >= 1.3 + 1.3  # the first one was slow, the second came long after it


def test_without_pre_warm_the_first_protected_request_fetches_and_readiness_follows(
    jwks_server: JWKSServer, rsa_key: SigningPair
) -> None:
    app = _app(jwks_server)
    with serve_with_uvicorn(app) as base_url, httpx.Client(base_url=base_url) as client:
        not_ready = client.get("/healthz/ready")
        public = client.get("/api/public")
        assert jwks_server.count == 0  # no I/O until a protected request
        assert client.get("/api/private", headers=_token(rsa_key)).status_code == 200
        ready = client.get("/healthz/ready")
    assert (not_ready.status_code, not_ready.json()) == (503, {"ready": False})
    assert public.status_code == 200
    assert (ready.status_code, ready.json(), jwks_server.count) == (200, {"ready": True}, 1)


def test_readiness_is_false_while_the_key_server_is_down_then_true(
    jwks_server: JWKSServer, rsa_key: SigningPair
) -> None:
    jwks_server.status = 500
    app = _app(jwks_server, prefetch_keys=True, jwks_retry_interval=0.2)
    with serve_with_uvicorn(app) as base_url, httpx.Client(base_url=base_url) as client:
        assert jwks_server.count == 1  # the pre-warm tried, failed, and start-up went on
        assert client.get("/healthz/ready").status_code == 503
        assert client.get("/api/private", headers=_token(rsa_key)).status_code == 503
        jwks_server.status = 200
        _wait_for(lambda: client.get("/healthz/ready").status_code == 200)  # retried in the background
        before = jwks_server.count
        assert client.get("/api/private", headers=_token(rsa_key)).status_code == 200
        assert jwks_server.count == before


def test_the_refresher_stops_at_shutdown_and_the_key_clients_close(jwks_server: JWKSServer) -> None:
    app = _app(jwks_server, jwks_cache_ttl=0.3, prefetch_keys=True)
    with serve_with_uvicorn(app):
        _wait_for(lambda: jwks_server.count >= 2)
    stopped_at = jwks_server.count
    time.sleep(0.5)  # more than a TTL: a refresher still running would have fetched again
    assert jwks_server.count == stopped_at
    assert isinstance(app.key_set, JWKSCache)
    assert app.key_set._fetcher.client is None  # closed by aclose()


def test_other_sources_are_always_ready() -> None:
    issuer = LocalIssuer(private_key=_rsa_private(0))
    assert Auth0Middleware(Starlette(), settings=issuer.settings(), keys=issuer).ready is True


@pytest.mark.parametrize(
    ("text", "value"), [("true", True), ("1", True), ("YES", True), ("false", False), ("off", False)]
)
def test_prefetch_keys_from_the_environment(text: str, value: bool) -> None:
    assert Auth0Settings.from_env({**TENANT, "AUTH0_PREFETCH_KEYS": text}, None).prefetch_keys is value


def test_a_bad_prefetch_keys_is_named() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Auth0Settings.from_env({**TENANT, "AUTH0_PREFETCH_KEYS": "maybe"}, None)
    assert str(raised.value) == "AUTH0_PREFETCH_KEYS='maybe': must be true or false"


@pytest.mark.anyio
async def test_the_refresher_does_not_fetch_again_as_the_first_fetch_lands() -> None:
    # Issue 31, the race behind "fetched twice within 50 ms at start": the refresher looked while
    # the first request's fetch was in flight, took "no keys held" for "due now", slept its 50 ms
    # floor, and forced a second fetch because the first had landed in between. The key server
    # is a transport whose answer this test releases: the first fetch lands inside that sleep.
    from auth0_asgi._keys.refresh_ahead import keep_fresh

    issuer = LocalIssuer(private_key=_rsa_private(0))
    release, fetches = anyio.Event(), []

    async def key_server(request: httpx.Request) -> httpx.Response:
        fetches.append(request.url.path)
        if len(fetches) == 1:
            await release.wait()
        return httpx.Response(200, json=issuer.jwks())

    async with httpx.AsyncClient(transport=httpx.MockTransport(key_server)) as client:
        cache = JWKSCache("https://tenant.example/.well-known/jwks.json", algorithms=["RS256"], http_client=client,
                          cache_ttl=2.0)  # fmt: skip
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(cache.get_signing_key, issuer.kid)  # the first request: its fetch hangs
            await anyio.sleep(0.01)
            tasks.start_soon(keep_fresh, [cache])  # it looks now, with the fetch in flight
            await anyio.sleep(0.01)
            release.set()  # the first fetch lands while the refresher would sleep 50 ms
            await anyio.sleep(0.5)  # long before the first refresh is due (1.44 s at the earliest)
            tasks.cancel_scope.cancel()
    assert fetches == ["/.well-known/jwks.json"]
