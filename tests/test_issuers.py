"""Several trusted issuers (a tenant's custom domains): real loopback key servers, one per issuer.

AUTH0_DOMAIN=http://127.0.0.1:A,http://127.0.0.1:B trusts the issuers http://127.0.0.1:A/
and http://127.0.0.1:B/, each with its own key set. A token's unverified `iss` only chooses
among them: any other `iss` is refused with no request to any server.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from auth0_asgi import Auth0Middleware, Auth0Settings, ConfigurationError, JWKSCache, TokenVerifier
from auth0_asgi.events import KeySetFetched

from .conftest import (
    AUDIENCE,
    JWKSServer,
    Recorder,
    SigningPair,
    _rsa_private,
    asgi_client,
    demo_routes,
    running_jwks_server,
    sign_compact,
    standard_claims,
)

pytestmark = pytest.mark.anyio

UNTRUSTED = {"detail": "The access token issuer is not trusted", "error": "invalid_token"}


def _base(server: JWKSServer) -> str:
    return server.url.removesuffix(".well-known/jwks.json")


@dataclass
class Tenant:
    a: JWKSServer
    b: JWKSServer
    attacker: JWKSServer
    key_a: SigningPair
    key_b: SigningPair

    @property
    def servers(self) -> tuple[JWKSServer, ...]:
        return (self.a, self.b, self.attacker)

    def token(self, server: JWKSServer, key: SigningPair | None = None, **claims: Any) -> str:
        signer = key or (self.key_a if server is self.a else self.key_b)
        return sign_compact({"alg": "RS256", "kid": signer.kid}, standard_claims(iss=_base(server), **claims), signer)

    def settings(self, **tunables: Any) -> Auth0Settings:
        domains = ",".join(_base(server).rstrip("/") for server in (self.a, self.b))
        return Auth0Settings.from_env({"AUTH0_DOMAIN": domains, "AUTH0_API_AUDIENCE": AUDIENCE}, None, **tunables)


@pytest.fixture
def tenant() -> Iterator[Tenant]:
    key_a, key_b = SigningPair("key-a", _rsa_private(0), "RS256"), SigningPair("key-b", _rsa_private(1), "RS256")
    with running_jwks_server() as a, running_jwks_server() as b, running_jwks_server() as attacker:
        a.publish(key_a)
        b.publish(key_b)
        attacker.publish(key_a, key_b)
        yield Tenant(a, b, attacker, key_a, key_b)


@contextlib.asynccontextmanager
async def _client(tenant: Tenant, **tunables: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = Auth0Middleware(
        Starlette(routes=demo_routes()), settings=tenant.settings(**tunables), protected_prefixes=["/api/private"]
    )
    async with asgi_client(app) as client:
        yield client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_each_domain_is_a_trusted_issuer_with_its_own_key_set(tenant: Tenant) -> None:
    settings = tenant.settings()
    assert [(t.issuer, t.jwks_url) for t in settings.trusted_issuers] == [
        (_base(tenant.a), tenant.a.url),
        (_base(tenant.b), tenant.b.url),
    ]


async def test_tokens_of_each_issuer_pass_and_each_key_set_is_fetched_once(tenant: Tenant) -> None:
    async with _client(tenant) as client:
        for _ in range(3):
            from_a = await client.get("/api/private", headers=_bearer(tenant.token(tenant.a)))
            from_b = await client.get("/api/private", headers=_bearer(tenant.token(tenant.b)))
            assert (from_a.status_code, from_b.status_code) == (200, 200)
    assert (tenant.a.count, tenant.b.count, tenant.attacker.count) == (1, 1, 0)


def _untrusted_issuers(tenant: Tenant) -> list[str]:
    a = _base(tenant.a)
    return [
        a.rstrip("/"),  # without the trailing slash
        a + "evil",  # a suffix
        a + "x/",  # a deeper path
        a[: len(a) - 2] + "/",  # a prefix (the port cut short)
        a.replace("http://", "https://"),  # another scheme
        a.replace("http://", "HTTP://"),  # another case
        _base(tenant.attacker),  # a loopback server nobody configured
        "https://tenant.example.test/",
        "",
    ]


async def test_an_unconfigured_iss_is_refused_with_no_request_at_all(tenant: Tenant) -> None:
    async with _client(tenant) as client:
        for issuer in _untrusted_issuers(tenant):
            for key in (tenant.key_a, tenant.key_b):
                token = sign_compact({"alg": "RS256", "kid": key.kid}, standard_claims(iss=issuer), key)
                response = await client.get("/api/private", headers=_bearer(token))
                assert (response.status_code, response.json()) == (401, UNTRUSTED), issuer
        for odd in ([_base(tenant.a)], {"iss": _base(tenant.a)}, 7, None):
            token = sign_compact({"alg": "RS256", "kid": "key-a"}, {**standard_claims(), "iss": odd}, tenant.key_a)
            assert (await client.get("/api/private", headers=_bearer(token))).json() == UNTRUSTED
    assert [server.count for server in tenant.servers] == [0, 0, 0]


async def test_a_key_of_one_issuer_does_not_verify_tokens_of_another(tenant: Tenant) -> None:
    async with _client(tenant) as client:
        crossed = await client.get("/api/private", headers=_bearer(tenant.token(tenant.a, key=tenant.key_b)))
    assert crossed.status_code == 401
    assert crossed.json() == {"detail": "The access token signing key is unknown", "error": "invalid_token"}
    assert (tenant.a.count, tenant.b.count) == (1, 0)  # asked A's key set only, once


async def test_one_issuer_down_does_not_affect_the_other(tenant: Tenant) -> None:
    tenant.a.status = 500
    async with _client(tenant) as client:
        from_a = await client.get("/api/private", headers=_bearer(tenant.token(tenant.a)))
        from_b = await client.get("/api/private", headers=_bearer(tenant.token(tenant.b)))
    assert (from_a.status_code, from_a.headers["retry-after"]) == (503, "5")
    assert from_b.status_code == 200


async def test_the_token_cache_records_the_issuer(tenant: Tenant) -> None:
    # Cached tokens of A are re-checked against A's key set, not B's: removing A's key from
    # A's set voids them while B's tokens go on passing.
    # The default 30 s cooldown: the rotated-in kid refreshes A once, and the retired kid met
    # right after costs no second fetch, however slow the machine.
    token_a, token_b = tenant.token(tenant.a), tenant.token(tenant.b)
    async with _client(tenant) as client:
        assert (await client.get("/api/private", headers=_bearer(token_a))).status_code == 200
        assert (await client.get("/api/private", headers=_bearer(token_b))).status_code == 200
        tenant.a.publish(SigningPair("key-a2", _rsa_private(2), "RS256"))
        fresh = tenant.token(tenant.a, key=SigningPair("key-a2", _rsa_private(2), "RS256"))
        assert (await client.get("/api/private", headers=_bearer(fresh))).status_code == 200  # refresh of A
        assert (await client.get("/api/private", headers=_bearer(token_a))).status_code == 401
        assert (await client.get("/api/private", headers=_bearer(token_b))).status_code == 200
    assert (tenant.a.count, tenant.b.count) == (2, 1)


def test_the_same_domain_twice_is_one_issuer_and_one_key_set(tenant: Tenant) -> None:
    base = _base(tenant.a).rstrip("/")
    settings = Auth0Settings(domain=f"{base}, {base}/", audience=(AUDIENCE,))
    middleware = Auth0Middleware(Starlette(), settings=settings)
    assert len(settings.trusted_issuers) == 1
    assert isinstance(middleware.key_set, JWKSCache)
    assert list(middleware.key_sets) == [_base(tenant.a)]


def test_each_issuer_gets_a_cache_of_its_own_key_set() -> None:
    settings = Auth0Settings(domain="login.example.com,dev-x.us.auth0.com", audience=(AUDIENCE,))
    middleware = Auth0Middleware(Starlette(), settings=settings)
    caches = list(middleware.key_sets.values())
    assert [cache.url for cache in caches if isinstance(cache, JWKSCache)] == [
        "https://login.example.com/.well-known/jwks.json",
        "https://dev-x.us.auth0.com/.well-known/jwks.json",
    ]
    assert caches[0] is not caches[1]


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        pytest.param(
            {"AUTH0_DOMAIN": "a.example.com,b.example.com", "AUTH0_ISSUER": "https://a.example.com/"},
            "AUTH0_ISSUER='https://a.example.com/': not with several AUTH0_DOMAIN values",
            id="issuer-with-several",
        ),
        pytest.param(
            {"AUTH0_DOMAIN": "a.example.com,b.example.com", "AUTH0_JWKS_URL": "https://a.example.com/k"},
            "AUTH0_JWKS_URL='https://a.example.com/k': not with several AUTH0_DOMAIN values",
            id="jwks-url-with-several",
        ),
        pytest.param(
            {"AUTH0_DOMAIN": "a.example.com,http://b.example.com"},
            "AUTH0_DOMAIN='http://b.example.com': http:// only for a loopback host; use https://",
            id="http-remote",
        ),
        pytest.param(
            {"AUTH0_DOMAIN": "a.example.com,b.example.com/path"},
            "AUTH0_DOMAIN='b.example.com/path': expected a tenant host",
            id="path-in-second",
        ),
    ],
)
def test_several_domains_configuration_errors(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)) as raised:
        Auth0Settings.from_env({**environ, "AUTH0_API_AUDIENCE": AUDIENCE}, None)
    assert "\n" not in str(raised.value)


def test_a_key_source_mapping_must_name_exactly_the_trusted_issuers(tenant: Tenant) -> None:
    settings = tenant.settings()
    cache = JWKSCache.from_settings(settings)
    with pytest.raises(ConfigurationError, match="give one key source per trusted issuer"):
        TokenVerifier(settings, keys={_base(tenant.a): cache})


async def test_an_observer_is_told_each_key_set_fetch_with_its_own_issuer(tenant: Tenant) -> None:
    recorder = Recorder()
    app = Auth0Middleware(
        Starlette(routes=demo_routes()),
        settings=tenant.settings(),
        protected_prefixes=["/api/private"],
        observer=recorder,
    )
    async with asgi_client(app) as client:
        await client.get("/api/private", headers=_bearer(tenant.token(tenant.a)))
        await client.get("/api/private", headers=_bearer(tenant.token(tenant.b)))
    assert [(event.url, event.issuer, event.outcome) for event in recorder.of(KeySetFetched)] == [
        (tenant.a.url, _base(tenant.a), "success"),
        (tenant.b.url, _base(tenant.b), "success"),
    ]
