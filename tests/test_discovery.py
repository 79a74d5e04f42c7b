"""OIDC discovery (AUTH0_DISCOVERY): the key-set URL from the issuer's openid-configuration.

Real loopback servers: the issuer's, serving its discovery document and key set, and an
attacker's, which a bad document names and which must never be asked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette

from auth0_asgi import Auth0Middleware, Auth0Settings, ConfigurationError

from .conftest import (
    AUDIENCE,
    JWKSServer,
    SigningPair,
    _rsa_private,
    asgi_client,
    demo_routes,
    running_jwks_server,
    sign_compact,
    standard_claims,
)

pytestmark = pytest.mark.anyio

DOCUMENT_PATH = "/.well-known/openid-configuration"
UNAVAILABLE = {"detail": "The signing keys are temporarily unavailable", "error": "temporarily_unavailable"}


@pytest.fixture
def servers() -> Iterator[tuple[JWKSServer, JWKSServer]]:
    key = SigningPair("rsa-1", _rsa_private(0), "RS256")
    with running_jwks_server() as issuer, running_jwks_server() as attacker:
        issuer.publish(key)
        attacker.publish(key)
        yield issuer, attacker


def _issuer(server: JWKSServer) -> str:
    return server.url.removesuffix(".well-known/jwks.json")


def _discovery(server: JWKSServer, **document: Any) -> None:
    server.documents[DOCUMENT_PATH] = json.dumps(
        {"issuer": _issuer(server), "jwks_uri": server.url, **document}
    ).encode()


def _middleware(server: JWKSServer, **tunables: Any) -> Auth0Middleware:
    environ = {"AUTH0_DOMAIN": _issuer(server).rstrip("/"), "AUTH0_API_AUDIENCE": AUDIENCE, "AUTH0_DISCOVERY": "true"}
    settings = Auth0Settings.from_env(environ, None, **tunables)
    return Auth0Middleware(Starlette(routes=demo_routes()), settings=settings, protected_prefixes=["/api/private"])


def _bearer(server: JWKSServer) -> dict[str, str]:
    key = SigningPair("rsa-1", _rsa_private(0), "RS256")
    token = sign_compact({"alg": "RS256", "kid": "rsa-1"}, standard_claims(iss=_issuer(server)), key)
    return {"Authorization": f"Bearer {token}"}


def _paths(server: JWKSServer) -> list[str]:
    return [request["path"] for request in server.requests]


async def test_the_key_set_url_is_discovered_once_and_used(servers: tuple[JWKSServer, JWKSServer]) -> None:
    issuer, _ = servers
    _discovery(issuer)
    async with asgi_client(_middleware(issuer)) as client:
        statuses = [(await client.get("/api/private", headers=_bearer(issuer))).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert _paths(issuer) == [DOCUMENT_PATH, "/.well-known/jwks.json"]


async def test_an_unknown_kid_refreshes_the_keys_with_the_discovered_url(
    servers: tuple[JWKSServer, JWKSServer],
) -> None:
    issuer, _ = servers
    _discovery(issuer)
    key = SigningPair("rsa-2", _rsa_private(1), "RS256")
    rotated = sign_compact({"alg": "RS256", "kid": "rsa-2"}, standard_claims(iss=_issuer(issuer)), key)
    async with asgi_client(_middleware(issuer)) as client:
        assert (await client.get("/api/private", headers=_bearer(issuer))).status_code == 200
        issuer.publish(SigningPair("rsa-1", _rsa_private(0), "RS256"), key)
        assert (await client.get("/api/private", headers={"Authorization": f"Bearer {rotated}"})).status_code == 200
    # The unknown kid refetched the keys; the discovered URL was still fresh, so no rediscovery.
    assert _paths(issuer) == [DOCUMENT_PATH, "/.well-known/jwks.json", "/.well-known/jwks.json"]


@pytest.mark.parametrize(
    "document",
    [
        pytest.param({"issuer": "https://another.example/"}, id="another-issuer"),
        pytest.param({"issuer": None}, id="no-issuer"),
        pytest.param({"jwks_uri": "http://keys.example.com/jwks.json"}, id="http-remote-jwks-uri"),
        pytest.param({"jwks_uri": "ftp://127.0.0.1/jwks.json"}, id="ftp-jwks-uri"),
        pytest.param({"jwks_uri": None}, id="no-jwks-uri"),
        pytest.param({"jwks_uri": ["x"]}, id="jwks-uri-not-a-string"),
    ],
)
async def test_a_bad_discovery_document_is_a_failed_fetch(
    servers: tuple[JWKSServer, JWKSServer], document: dict[str, Any]
) -> None:
    issuer, attacker = servers
    _discovery(issuer, **{"jwks_uri": attacker.url, **document})  # a bad document names the attacker
    async with asgi_client(_middleware(issuer)) as client:
        refused = await client.get("/api/private", headers=_bearer(issuer))
    assert (refused.status_code, refused.json(), refused.headers["retry-after"]) == (503, UNAVAILABLE, "5")
    assert _paths(issuer) == [DOCUMENT_PATH]  # no key set fetched from what a bad document says
    assert attacker.count == 0


async def test_the_issuer_must_match_exactly_even_by_a_trailing_slash(servers: tuple[JWKSServer, JWKSServer]) -> None:
    issuer, _ = servers
    _discovery(issuer, issuer=_issuer(issuer).rstrip("/"))
    async with asgi_client(_middleware(issuer)) as client:
        assert (await client.get("/api/private", headers=_bearer(issuer))).status_code == 503


async def test_a_discovered_url_is_kept_while_rediscovery_fails(servers: tuple[JWKSServer, JWKSServer]) -> None:
    issuer, _ = servers
    _discovery(issuer)
    async with asgi_client(_middleware(issuer, jwks_cache_ttl=0.05)) as client:
        assert (await client.get("/api/private", headers=_bearer(issuer))).status_code == 200
        issuer.documents[DOCUMENT_PATH] = b"not json"
        await anyio.sleep(0.1)  # past the TTL of both the document and the keys
        assert (await client.get("/api/private", headers=_bearer(issuer))).status_code == 200
    assert _paths(issuer) == [DOCUMENT_PATH, "/.well-known/jwks.json", DOCUMENT_PATH, "/.well-known/jwks.json"]


def test_discovery_and_a_jwks_url_together_are_refused() -> None:
    environ = {
        "AUTH0_DOMAIN": "dev-x.us.auth0.com",
        "AUTH0_API_AUDIENCE": AUDIENCE,
        "AUTH0_DISCOVERY": "true",
        "AUTH0_JWKS_URL": "https://dev-x.us.auth0.com/keys",
    }
    with pytest.raises(
        ConfigurationError, match=re.escape("AUTH0_JWKS_URL='https://dev-x.us.auth0.com/keys': not with")
    ):
        Auth0Settings.from_env(environ, None)
