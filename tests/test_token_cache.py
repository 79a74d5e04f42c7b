"""The verified-token cache: a reused token is verified once, yet every check that can change is redone."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from auth0_asgi import (
    Auth0Settings,
    BoundTokenError,
    ConfigurationError,
    ExpiredTokenError,
    ImmatureTokenError,
    InvalidSignatureError,
    InvalidTokenError,
    JWKSCache,
    TokenVerifier,
    UnknownSigningKeyError,
)
from auth0_asgi.testing import LocalIssuer

from .conftest import AUDIENCE, JWKSServer, SigningPair, TokenMaker, asgi_client, make_settings, protect

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def _verifier(issuer: LocalIssuer, clock: Clock | None = None, **tunables: Any) -> TokenVerifier:
    return TokenVerifier(issuer.settings(**tunables), keys=issuer, now=clock or time.time)


async def test_a_reused_token_is_verified_once_and_gets_the_same_user(auth0_issuer: LocalIssuer) -> None:
    verifier = _verifier(auth0_issuer)
    token = auth0_issuer.token(scope="read:messages")
    first = await verifier.authenticate(token)
    second = await verifier.authenticate(token)
    assert second is first
    assert first.scopes == {"read:messages"}


async def test_verify_hands_out_a_copy_of_the_claims(auth0_issuer: LocalIssuer) -> None:
    verifier = _verifier(auth0_issuer)
    token = auth0_issuer.token()
    claims = await verifier.verify(token)
    claims["sub"] = "changed"
    assert (await verifier.verify(token))["sub"] == "local-client@clients"


async def test_a_size_of_zero_disables_the_cache(auth0_issuer: LocalIssuer) -> None:
    verifier = _verifier(auth0_issuer, token_cache_size=0)
    token = auth0_issuer.token()
    assert await verifier.authenticate(token) is not await verifier.authenticate(token)


async def test_expiry_is_checked_on_every_reuse_and_drops_the_entry(auth0_issuer: LocalIssuer) -> None:
    clock = Clock(1_800_000_000)
    verifier = _verifier(auth0_issuer, clock, leeway=5)
    token = auth0_issuer.token(iat=1_800_000_000, exp=1_800_000_100)
    user = await verifier.authenticate(token)
    clock.now = 1_800_000_104  # within the leeway
    assert await verifier.authenticate(token) is user
    clock.now = 1_800_000_105
    with pytest.raises(ExpiredTokenError):
        await verifier.authenticate(token)
    clock.now = 1_800_000_000  # even with the clock set back, the entry is gone: verified afresh
    assert await verifier.authenticate(token) is not user


async def test_not_before_is_checked_on_every_reuse(auth0_issuer: LocalIssuer) -> None:
    clock = Clock(1_800_000_000)
    verifier = _verifier(auth0_issuer, clock, leeway=5)
    token = auth0_issuer.token(iat=1_799_999_990, nbf=1_800_000_000, exp=1_800_003_600)
    user = await verifier.authenticate(token)
    clock.now = 1_799_999_990  # the wall clock stepped back: nbf is ahead again
    with pytest.raises(ImmatureTokenError):
        await verifier.authenticate(token)
    clock.now = 1_800_000_001
    assert await verifier.authenticate(token) is user


async def test_a_retired_key_voids_the_tokens_it_signed(auth0_issuer: LocalIssuer) -> None:
    verifier = _verifier(auth0_issuer)
    token = auth0_issuer.token()
    await verifier.authenticate(token)
    auth0_issuer.rotate(retire_previous=True)
    with pytest.raises(UnknownSigningKeyError):
        await verifier.authenticate(token)
    assert len(verifier._cache) == 0


@dataclass
class Fetching:
    """A verifier whose keys come from the loopback key server, on a clock the test moves."""

    clock: Clock
    verifier: TokenVerifier


@pytest.fixture
async def fetching(jwks_server: JWKSServer) -> AsyncIterator[Fetching]:
    clock = Clock(0.0)
    settings = make_settings(jwks_server)
    keys = JWKSCache.from_settings(settings, clock=clock)
    yield Fetching(clock, TokenVerifier(settings, keys=keys))
    await keys.aclose()


async def test_a_key_that_leaves_the_fetched_key_set_voids_its_tokens(
    jwks_server: JWKSServer, fetching: Fetching, second_rsa_key: SigningPair, make_token: TokenMaker
) -> None:
    clock, verifier = fetching.clock, fetching.verifier
    token = make_token()
    user = await verifier.authenticate(token)
    assert await verifier.authenticate(token) is user
    jwks_server.publish(second_rsa_key)
    clock.now = 601.0  # past the TTL: the next lookup refreshes and finds rsa-1 gone
    with pytest.raises(UnknownSigningKeyError):
        await verifier.authenticate(token)
    assert jwks_server.count == 2


async def test_another_key_under_the_same_kid_means_verifying_afresh(
    jwks_server: JWKSServer,
    fetching: Fetching,
    rsa_key: SigningPair,
    second_rsa_key: SigningPair,
    make_token: TokenMaker,
) -> None:
    clock, verifier = fetching.clock, fetching.verifier
    token = make_token()
    await verifier.authenticate(token)
    impostor = SigningPair(rsa_key.kid, second_rsa_key.private, "RS256")
    jwks_server.publish(impostor)  # rsa-1 now names a different key
    clock.now = 601.0
    with pytest.raises(InvalidSignatureError):
        await verifier.authenticate(token)


async def test_a_refetched_identical_key_keeps_the_entry(
    jwks_server: JWKSServer, fetching: Fetching, make_token: TokenMaker
) -> None:
    clock, verifier = fetching.clock, fetching.verifier
    token = make_token()
    user = await verifier.authenticate(token)
    clock.now = 601.0  # a refresh parses the same key into a new object: equal, so still valid
    assert await verifier.authenticate(token) is user
    assert jwks_server.count == 2


async def test_the_cache_is_keyed_by_the_exact_token(auth0_issuer: LocalIssuer) -> None:
    verifier = _verifier(auth0_issuer)
    token = auth0_issuer.token()
    await verifier.authenticate(token)
    head, _, signature = token.rpartition(".")
    with pytest.raises(InvalidSignatureError):
        await verifier.authenticate(auth0_issuer.tampered_token())
    with pytest.raises(InvalidTokenError):
        await verifier.authenticate(f"{head}.{signature}A")


async def test_memory_stays_bounded_under_a_flood_of_distinct_valid_tokens(auth0_issuer: LocalIssuer) -> None:
    verifier = _verifier(auth0_issuer, token_cache_size=8)
    tokens = [auth0_issuer.token(jti=str(n)) for n in range(40)]
    for token in tokens:
        await verifier.authenticate(token)
    assert len(verifier._cache) == 8
    # Least recently used goes first: touching an old entry keeps it.
    survivor = await verifier.authenticate(tokens[-8])
    await verifier.authenticate(auth0_issuer.token(jti="new"))
    assert await verifier.authenticate(tokens[-8]) is survivor
    assert len(verifier._cache) == 8


async def test_scopes_are_checked_per_prefix_for_a_cached_token(
    jwks_server: JWKSServer, make_token: TokenMaker
) -> None:
    app = protect(jwks_server, required_scopes={"/api/admin": ["read:admin"]})
    token = make_token(scope="read:messages")
    async with asgi_client(app) as client:
        answers = [
            (await client.get(path, headers={"Authorization": f"Bearer {token}"})).status_code
            for path in ["/api/private", "/api/admin/x", "/api/private", "/api/admin/x"]
        ]
    assert answers == [200, 403, 200, 403]


@pytest.mark.parametrize("size", [-1, 1.5, True, "10"])
def test_bad_cache_sizes_are_refused(size: Any) -> None:
    with pytest.raises(ConfigurationError, match=f"token_cache_size={size!r}"):
        Auth0Settings(domain="tenant.example.test", audience=(AUDIENCE,), token_cache_size=size)


@pytest.mark.parametrize("cache_size", [1024, 0], ids=["cached", "uncached"])
async def test_a_key_bound_token_is_refused_as_bearer_on_every_path(auth0_issuer: LocalIssuer, cache_size: int) -> None:
    verifier = _verifier(auth0_issuer, token_cache_size=cache_size)
    token = auth0_issuer.token(cnf={"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"})
    for attempt in range(3):
        with pytest.raises(BoundTokenError):
            await verifier.authenticate(token)
        # Authentic, so remembered once verified: the refusal holds on the cached path too.
        assert len(verifier._cache) == (1 if cache_size else 0), attempt
    with pytest.raises(BoundTokenError):
        await verifier.verify(token)
