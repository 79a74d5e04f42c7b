"""Key-server faults through the real fetch path and the middleware: serve stale, 503, recover.

Each fault is injected at the loopback key server (the HTTP boundary). For every one:
cached keys keep valid tokens passing, unprotected routes never wait, a cold worker answers
503 with Retry-After, nothing is fetched from where a redirect points, and the worker recovers
by itself once the server is healthy again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest

from auth0_asgi import JWKSCache

from .conftest import JWKSServer, SigningPair, TokenMaker, asgi_client, make_settings, protect, running_jwks_server

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def attacker_server() -> Iterator[JWKSServer]:
    with running_jwks_server() as server:
        yield server


Fault = Callable[[JWKSServer, JWKSServer, SigningPair], None]


def _status(status: int) -> Fault:
    def apply(server: JWKSServer, attacker: JWKSServer, key: SigningPair) -> None:
        server.status = status

    return apply


def _body(body: bytes, *, declare_length: bool = True) -> Fault:
    def apply(server: JWKSServer, attacker: JWKSServer, key: SigningPair) -> None:
        server.body, server.declare_length = body, declare_length

    return apply


def _keys(make: Callable[[SigningPair], list[Any]]) -> Fault:
    def apply(server: JWKSServer, attacker: JWKSServer, key: SigningPair) -> None:
        server.keys = make(key)

    return apply


def _redirect(server: JWKSServer, attacker: JWKSServer, key: SigningPair) -> None:
    server.status, server.headers = 302, {"Location": attacker.url}


def _hang(server: JWKSServer, attacker: JWKSServer, key: SigningPair) -> None:
    server.hang = True


def _drop(server: JWKSServer, attacker: JWKSServer, key: SigningPair) -> None:
    server.drop = True


TEN_MB = b'{"keys":[' + b" " * (10 * 1024 * 1024) + b"]}"

FAULTS = [
    pytest.param(_hang, id="slower-than-the-fetch-timeout"),
    pytest.param(_status(500), id="http-500"),
    pytest.param(_status(404), id="http-404"),
    pytest.param(_status(503), id="http-503"),
    pytest.param(_redirect, id="http-302-to-attacker"),
    pytest.param(_body(b"{not json"), id="invalid-json"),
    pytest.param(_body(b'[{"keys": []}]'), id="json-array"),
    pytest.param(_body(b'{"keys": {"kid": "rsa-1"}}'), id="keys-not-a-list"),
    pytest.param(_body(b"\xff\xfe"), id="not-utf8"),
    pytest.param(_body(TEN_MB), id="ten-megabytes-declared"),
    pytest.param(_body(TEN_MB, declare_length=False), id="ten-megabytes-undeclared"),
    pytest.param(_keys(lambda key: [{"kty": "oct", "k": "c2VjcmV0", "kid": key.kid}]), id="symmetric-key-only"),
    pytest.param(_keys(lambda key: [{"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": key.kid}]), id="okp-key-only"),
    pytest.param(_keys(lambda key: [key.jwk, key.jwk]), id="duplicate-kids"),
    pytest.param(_keys(lambda key: [{**key.jwk, "use": "enc"}]), id="use-enc-only"),
    pytest.param(_keys(lambda key: []), id="empty-key-set"),
    pytest.param(_drop, id="connection-dropped"),
]

UNAVAILABLE_BODY = {"detail": "The signing keys are temporarily unavailable", "error": "temporarily_unavailable"}


def _middleware(server: JWKSServer, clock: Clock) -> Any:
    settings = make_settings(server, jwks_fetch_timeout=0.5)
    return protect(server, settings=settings, keys=JWKSCache.from_settings(settings, clock=clock))


async def _protected(app: Any, token: str) -> Any:
    async with asgi_client(app) as client:
        public = await client.get("/api/public")
        protected = await client.get("/api/private", headers={"Authorization": f"Bearer {token}"})
    assert public.status_code == 200  # never waits on, nor fails with, the key server
    return protected


@pytest.mark.parametrize("fault", FAULTS)
async def test_cached_keys_keep_valid_tokens_passing(
    jwks_server: JWKSServer, attacker_server: JWKSServer, rsa_key: SigningPair, make_token: TokenMaker, fault: Fault
) -> None:
    clock = Clock()
    app = _middleware(jwks_server, clock)
    assert (await _protected(app, make_token())).status_code == 200
    fault(jwks_server, attacker_server, rsa_key)
    clock.now = 601.0  # past the TTL: the next request tries a refresh, and it fails
    started = time.monotonic()
    response = await _protected(app, make_token())
    assert response.status_code == 200
    assert time.monotonic() - started < 5
    assert jwks_server.count == 2
    assert attacker_server.count == 0


@pytest.mark.parametrize("fault", FAULTS)
async def test_with_no_keys_the_answer_is_503_then_recovery_is_automatic(
    jwks_server: JWKSServer, attacker_server: JWKSServer, rsa_key: SigningPair, make_token: TokenMaker, fault: Fault
) -> None:
    fault(jwks_server, attacker_server, rsa_key)
    clock = Clock()
    app = _middleware(jwks_server, clock)
    refused = await _protected(app, make_token())
    assert refused.status_code == 503
    assert refused.json() == UNAVAILABLE_BODY
    assert refused.headers["retry-after"] == "5"
    assert "www-authenticate" not in refused.headers
    again = await _protected(app, make_token())  # within the retry interval: no new fetch
    assert (again.status_code, jwks_server.count) == (503, 1)
    jwks_server.release.set()
    jwks_server.publish(rsa_key)
    jwks_server.headers, jwks_server.declare_length = {}, True
    clock.now = 5.0
    assert (await _protected(app, make_token())).status_code == 200
    assert jwks_server.count == 2
    assert attacker_server.count == 0


async def test_a_flood_of_random_kids_during_an_outage_costs_one_fetch_per_cooldown(
    jwks_server: JWKSServer, make_token: TokenMaker
) -> None:
    clock = Clock()
    app = _middleware(jwks_server, clock)
    async with asgi_client(app) as client:
        assert (
            await client.get("/api/private", headers={"Authorization": f"Bearer {make_token()}"})
        ).status_code == 200
        jwks_server.status = 500
        answers = {
            (
                await client.get(
                    "/api/private", headers={"Authorization": f"Bearer {make_token(headers={'kid': f'k{n}'})}"}
                )
            ).status_code
            for n in range(100)
        }
        valid = await client.get("/api/private", headers={"Authorization": f"Bearer {make_token()}"})
    assert answers == {401}
    assert valid.status_code == 200
    assert jwks_server.count == 2  # the first fetch, and one refresh for the whole flood


@pytest.mark.parametrize("declare_length", [True, False], ids=["declared", "undeclared"])
async def test_the_body_cap_stops_reading_a_huge_key_set(
    jwks_server: JWKSServer, make_token: TokenMaker, declare_length: bool
) -> None:
    jwks_server.body, jwks_server.declare_length = TEN_MB, declare_length
    app = _middleware(jwks_server, Clock())
    assert (await _protected(app, make_token())).status_code == 503
    assert await anyio.to_thread.run_sync(jwks_server.gave_up.wait, 10)
    assert jwks_server.abandoned == 1  # the server could not hand over its 10 MB
