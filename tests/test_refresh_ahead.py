"""Keys refreshed ahead of need, pre-warm and readiness, through real uvicorn with lifespan.

The loopback key server counts its requests: a request made after the TTL would have ended
must find the keys already refreshed, and cost no fetch of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

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
