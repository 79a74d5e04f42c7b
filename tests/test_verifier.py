"""TokenVerifier: strict parsing and every claim check, with keys from a real loopback key server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from jwt.algorithms import RSAAlgorithm

from auth0_asgi import (
    DisallowedAlgorithmError,
    ExpiredTokenError,
    ImmatureTokenError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidSignatureError,
    InvalidTokenError,
    JWKSCache,
    MalformedTokenError,
    TokenTooLargeError,
    TokenVerifier,
    UnknownSigningKeyError,
)

from .conftest import (
    AUDIENCE,
    ISSUER,
    JWKSServer,
    SigningPair,
    TokenMaker,
    b64url,
    forge,
    make_settings,
    running_jwks_server,
    sign_compact,
    standard_claims,
)

pytestmark = pytest.mark.anyio

NOW = 1_800_000_000.0
RS256_HEADER = {"alg": "RS256", "typ": "JWT", "kid": "rsa-1"}

Verify = Callable[..., Any]


@pytest.fixture
async def verify(jwks_server: JWKSServer) -> AsyncIterator[Verify]:
    """verify(token, **settings_overrides) -> claims, with the wall clock fixed at NOW."""
    caches: list[JWKSCache] = []

    async def run(token: str, **overrides: Any) -> Any:
        settings = make_settings(jwks_server, **overrides)
        cache = JWKSCache.from_settings(settings)
        caches.append(cache)
        return await TokenVerifier(settings, keys=cache, now=lambda: NOW).verify(token)

    yield run
    for cache in caches:
        await cache.aclose()


def claims_at(**overrides: Any) -> dict[str, Any]:
    return standard_claims(**{"iat": int(NOW) - 10, "exp": int(NOW) + 3600, **overrides})


async def test_a_valid_token_yields_its_claims(verify: Verify, rsa_key: SigningPair) -> None:
    claims = claims_at(permissions=["read:x"])
    assert await verify(sign_compact(RS256_HEADER, claims, rsa_key)) == claims


@pytest.mark.parametrize("algorithm", ["RS256", "PS256"])
async def test_rsa_algorithms_verify_when_allowed(
    jwks_server: JWKSServer, verify: Verify, rsa_key: SigningPair, algorithm: str
) -> None:
    jwks_server.keys = [{name: value for name, value in rsa_key.jwk.items() if name != "alg"}]
    token = sign_compact(
        {"alg": algorithm, "kid": "rsa-1"}, claims_at(), SigningPair("rsa-1", rsa_key.private, algorithm)
    )
    assert (await verify(token, algorithms=("RS256", "PS256")))["sub"] == "client-42@clients"


async def test_es256_verifies_when_allowed(jwks_server: JWKSServer, verify: Verify, ec_key: SigningPair) -> None:
    jwks_server.publish(ec_key)
    token = sign_compact({"alg": "ES256", "kid": "ec-1"}, claims_at(), ec_key)
    assert (await verify(token, algorithms=("ES256",)))["aud"] == AUDIENCE


# --- structure ------------------------------------------------------------------------------

STRUCTURE_ROWS: list[Any] = [
    pytest.param(lambda t: t.split(".")[0], id="one-segment"),
    pytest.param(lambda t: ".".join(t.split(".")[:2]), id="two-segments"),
    pytest.param(lambda t: t + ".e30", id="four-segments"),
    pytest.param(lambda t: t + ".e30.e30", id="five-segments-jwe-shape"),
    pytest.param(lambda t: t.replace(".", "=.", 1), id="padding-in-header"),
    pytest.param(lambda t: t + "=", id="padding-in-signature"),
    pytest.param(lambda t: t.replace(".", ". ", 1), id="space-inside"),
    pytest.param(
        lambda t: t.replace("-", "+").replace("_", "/") if ("-" in t or "_" in t) else "a+b.c.d", id="std-b64"
    ),
    pytest.param(lambda t: t[:10] + "\u00e9" + t[11:], id="non-ascii"),
    pytest.param(lambda t: t.split(".")[0] + "A." + ".".join(t.split(".")[1:]), id="length-mod-4-is-1"),
]


@pytest.mark.parametrize("mangle", STRUCTURE_ROWS)
async def test_malformed_structure_is_refused(verify: Verify, make_token: TokenMaker, mangle: Any) -> None:
    with pytest.raises(MalformedTokenError):
        await verify(mangle(make_token()))


async def test_non_canonical_base64url_is_refused(verify: Verify, rsa_key: SigningPair) -> None:
    token = sign_compact(RS256_HEADER, claims_at(), rsa_key)
    header, payload, signature = token.split(".")
    # The last character of a 2-or-3-remainder segment carries unused bits; setting them
    # spells the same bytes differently, which a strict parser must refuse.
    for segment_index, segment in enumerate((header, payload, signature)):
        if len(segment) % 4 in (2, 3):
            alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
            twisted = segment[:-1] + alphabet[alphabet.index(segment[-1]) + 1]
            parts = [header, payload, signature]
            parts[segment_index] = twisted
            with pytest.raises(MalformedTokenError):
                await verify(".".join(parts))
            return
    pytest.fail("no segment has a remainder to twist")  # pragma: no cover


HEADER_ROWS: list[Any] = [
    pytest.param(b"[]", MalformedTokenError, id="header-array"),
    pytest.param(b'"RS256"', MalformedTokenError, id="header-string"),
    pytest.param(b'{"alg":"RS256","alg":"RS256","kid":"rsa-1"}', MalformedTokenError, id="duplicate-alg"),
    pytest.param(b'{"alg":"RS256","kid":"rsa-1","kid":"other"}', MalformedTokenError, id="duplicate-kid"),
    pytest.param(b"\xef\xbb\xbf" + b'{"alg":"RS256","kid":"rsa-1"}', MalformedTokenError, id="utf8-bom"),
    pytest.param('{"alg":"RS256","kid":"rsa-1"}'.encode("utf-16"), MalformedTokenError, id="utf16"),
    pytest.param(b'{"alg":"RS256","kid":"rsa-1",', MalformedTokenError, id="truncated-json"),
    pytest.param(b'{"alg":"RS256"}', MalformedTokenError, id="no-kid"),
    pytest.param(b'{"alg":"RS256","kid":""}', MalformedTokenError, id="empty-kid"),
    pytest.param(b'{"alg":"RS256","kid":7}', MalformedTokenError, id="numeric-kid"),
    pytest.param(b'{"alg":"RS256","kid":"' + b"k" * 300 + b'"}', MalformedTokenError, id="huge-kid"),
    pytest.param(b'{"alg":"RS256","kid":"../../etc/passwd"}', UnknownSigningKeyError, id="path-like-kid"),
    pytest.param(b'{"alg":"RS256","kid":"rsa-1","crit":["exp"]}', MalformedTokenError, id="crit"),
    pytest.param(b'{"alg":"RS256","kid":"rsa-1","b64":false,"crit":["b64"]}', MalformedTokenError, id="b64-false"),
    pytest.param(b'{"alg":"RS256","kid":"rsa-1","b64":false}', MalformedTokenError, id="b64-false-no-crit"),
    pytest.param(b'{"alg":"none","kid":"rsa-1"}', DisallowedAlgorithmError, id="alg-none"),
    pytest.param(b'{"alg":"None","kid":"rsa-1"}', DisallowedAlgorithmError, id="alg-None"),
    pytest.param(b'{"alg":"NONE","kid":"rsa-1"}', DisallowedAlgorithmError, id="alg-NONE"),
    pytest.param(b'{"alg":"HS256","kid":"rsa-1"}', DisallowedAlgorithmError, id="alg-HS256"),
    pytest.param(b'{"alg":"RS384","kid":"rsa-1"}', DisallowedAlgorithmError, id="alg-outside-allow-list"),
    pytest.param(b'{"alg":["RS256"],"kid":"rsa-1"}', DisallowedAlgorithmError, id="alg-not-a-string"),
    pytest.param(b'{"kid":"rsa-1"}', DisallowedAlgorithmError, id="alg-missing"),
    pytest.param(b"[" * 5000 + b"]" * 5000, MalformedTokenError, id="deep-nesting"),
]


@pytest.mark.parametrize(("header", "error"), HEADER_ROWS)
async def test_header_defects_are_refused(
    verify: Verify, rsa_key: SigningPair, header: bytes, error: type[InvalidTokenError]
) -> None:
    with pytest.raises(error):
        await verify(sign_compact(header, claims_at(), rsa_key), max_token_bytes=100_000)


async def test_key_bearing_headers_are_never_used(verify: Verify, second_rsa_key: SigningPair) -> None:
    attacker = second_rsa_key
    with running_jwks_server() as attacker_server:
        attacker_server.publish(SigningPair("rsa-1", attacker.private, "RS256"))
        header = {
            "alg": "RS256",
            "kid": "rsa-1",
            "jku": attacker_server.url,
            "x5u": attacker_server.url,
            "jwk": {**attacker.jwk, "kid": "rsa-1"},
            "x5c": ["MIIB"],
        }
        token = sign_compact(header, claims_at(), SigningPair("rsa-1", attacker.private, "RS256"))
        with pytest.raises(InvalidSignatureError):
            await verify(token)
        assert attacker_server.count == 0


async def test_hs256_signed_with_the_public_key_is_refused(verify: Verify, rsa_key: SigningPair) -> None:
    public = rsa_key.private.public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    jwk = RSAAlgorithm.to_jwk(public).encode()
    header = b64url(b'{"alg":"HS256","kid":"rsa-1"}')
    signing_input = f"{header}.{b64url(b'{}')}"
    for secret in (pem, der, jwk):
        mac = jwt.algorithms.HMACAlgorithm(jwt.algorithms.HMACAlgorithm.SHA256).sign(signing_input.encode(), secret)
        with pytest.raises(DisallowedAlgorithmError):
            await verify(f"{signing_input}.{b64url(mac)}", algorithms=("RS256",))


async def test_alg_must_fit_the_key(
    jwks_server: JWKSServer, verify: Verify, rsa_key: SigningPair, ec_key: SigningPair
) -> None:
    jwks_server.publish(rsa_key, ec_key)  # rsa-1 declares alg RS256
    allowed = ("RS256", "PS256", "ES256")
    ps256 = sign_compact({"alg": "PS256", "kid": "rsa-1"}, claims_at(), SigningPair("rsa-1", rsa_key.private, "PS256"))
    with pytest.raises(DisallowedAlgorithmError):
        await verify(ps256, algorithms=allowed)
    es_header_on_rsa_key = forge({"alg": "ES256", "kid": "rsa-1"}, claims_at(), b"\x00" * 64)
    with pytest.raises(DisallowedAlgorithmError):
        await verify(es_header_on_rsa_key, algorithms=allowed)


async def test_ecdsa_zero_signature_is_refused(jwks_server: JWKSServer, verify: Verify, ec_key: SigningPair) -> None:
    jwks_server.publish(ec_key)
    with pytest.raises(InvalidSignatureError):
        await verify(forge({"alg": "ES256", "kid": "ec-1"}, claims_at(), b"\x00" * 64), algorithms=("ES256",))
    with pytest.raises(InvalidSignatureError):
        await verify(forge({"alg": "ES256", "kid": "ec-1"}, claims_at(), b"\x00" * 7), algorithms=("ES256",))


async def test_a_token_over_the_size_cap_is_refused_before_parsing(verify: Verify, jwks_server: JWKSServer) -> None:
    with pytest.raises(TokenTooLargeError):
        await verify("x" * 8193)
    assert jwks_server.count == 0


# --- claims ---------------------------------------------------------------------------------

CLAIM_ROWS: list[Any] = [
    pytest.param({"exp": None}, MalformedTokenError, id="exp-missing"),
    pytest.param({"exp": str(int(NOW) + 60)}, MalformedTokenError, id="exp-string"),
    pytest.param({"exp": True}, MalformedTokenError, id="exp-bool"),
    pytest.param({"exp": [int(NOW) + 60]}, MalformedTokenError, id="exp-list"),
    pytest.param({"exp": 10**30}, MalformedTokenError, id="exp-beyond-double-precision"),
    pytest.param({"exp": 1e300}, MalformedTokenError, id="exp-float-beyond-the-integer-bound"),
    pytest.param({"exp": 2.0**53}, MalformedTokenError, id="exp-float-just-over-the-bound"),
    pytest.param({"sub": None}, MalformedTokenError, id="sub-missing"),
    pytest.param({"sub": ""}, MalformedTokenError, id="sub-empty"),
    pytest.param({"sub": 7}, MalformedTokenError, id="sub-number"),
    pytest.param({"exp": int(NOW) - 6}, ExpiredTokenError, id="expired-beyond-leeway"),
    pytest.param({"exp": int(NOW) - 5}, ExpiredTokenError, id="expired-at-leeway"),
    pytest.param({"nbf": int(NOW) + 6}, ImmatureTokenError, id="nbf-beyond-leeway"),
    pytest.param({"nbf": "0"}, MalformedTokenError, id="nbf-string"),
    pytest.param({"iat": int(NOW) + 6}, ImmatureTokenError, id="iat-beyond-leeway"),
    pytest.param({"iat": False}, MalformedTokenError, id="iat-bool"),
    pytest.param({"iss": ISSUER.rstrip("/")}, InvalidIssuerError, id="iss-without-slash"),
    pytest.param({"iss": ISSUER + "x"}, InvalidIssuerError, id="iss-with-suffix"),
    pytest.param({"iss": ISSUER.upper()}, InvalidIssuerError, id="iss-other-case"),
    pytest.param({"iss": None}, InvalidIssuerError, id="iss-missing"),
    pytest.param({"iss": [ISSUER]}, InvalidIssuerError, id="iss-list"),
    pytest.param({"aud": "https://other.test"}, InvalidAudienceError, id="aud-other"),
    pytest.param({"aud": []}, InvalidAudienceError, id="aud-empty-list"),
    pytest.param({"aud": [AUDIENCE, 7]}, InvalidAudienceError, id="aud-list-with-non-string"),
    pytest.param({"aud": None}, InvalidAudienceError, id="aud-missing"),
    pytest.param({"aud": {"a": AUDIENCE}}, InvalidAudienceError, id="aud-object"),
]


@pytest.mark.parametrize(("overrides", "error"), CLAIM_ROWS)
async def test_claim_defects_are_refused(
    verify: Verify, rsa_key: SigningPair, overrides: dict[str, Any], error: type[InvalidTokenError]
) -> None:
    with pytest.raises(error):
        await verify(sign_compact(RS256_HEADER, claims_at(**overrides), rsa_key))


ACCEPTED_ROWS: list[Any] = [
    pytest.param({"exp": int(NOW) - 4}, id="expired-within-leeway"),
    pytest.param({"exp": NOW + 0.5}, id="exp-float"),
    pytest.param({"exp": 2**53 - 1}, id="exp-largest-safe-integer"),
    pytest.param({"exp": float(2**53 - 1)}, id="exp-largest-safe-integer-as-float"),
    pytest.param({"nbf": int(NOW) + 5}, id="nbf-within-leeway"),
    pytest.param({"iat": int(NOW) + 5}, id="iat-within-leeway"),
    pytest.param({"iat": None}, id="iat-absent"),
    pytest.param({"aud": ["https://other.test", AUDIENCE]}, id="aud-list-containing"),
]


@pytest.mark.parametrize("overrides", ACCEPTED_ROWS)
async def test_claims_within_bounds_pass(verify: Verify, rsa_key: SigningPair, overrides: dict[str, Any]) -> None:
    claims = claims_at(**overrides)
    assert await verify(sign_compact(RS256_HEADER, claims, rsa_key)) == claims


async def test_any_configured_audience_is_accepted(verify: Verify, rsa_key: SigningPair) -> None:
    token = sign_compact(RS256_HEADER, claims_at(aud="https://second.test"), rsa_key)
    assert (await verify(token, audience=(AUDIENCE, "https://second.test")))["aud"] == "https://second.test"


PAYLOAD_ROWS: list[Any] = [
    pytest.param(b"[1]", id="array"),
    pytest.param(b"null", id="null"),
    pytest.param(b'{"exp": 1, "exp": 2}', id="duplicate-claim"),
    pytest.param(b'{"exp": NaN}', id="nan"),
    pytest.param(b'{"exp": Infinity}', id="infinity"),
    pytest.param(b'{"exp": -Infinity}', id="negative-infinity"),
    # Parses (to inf), so it needs a trusted iss to get as far as the exp check.
    pytest.param(b'{"iss": "' + ISSUER.encode() + b'", "exp": 1e999}', id="overflowing-float"),
    pytest.param(b'{"exp": ' + b"9" * 5000 + b"}", id="huge-integer-literal"),
    pytest.param(b'{"a":' * 3000 + b"1" + b"}" * 3000, id="deep-nesting"),
    pytest.param(b'{"exp": 1\xff}', id="invalid-utf8"),
]


@pytest.mark.parametrize("payload", PAYLOAD_ROWS)
async def test_payload_defects_behind_a_valid_signature_are_refused(
    verify: Verify, rsa_key: SigningPair, payload: bytes
) -> None:
    with pytest.raises(MalformedTokenError):
        await verify(sign_compact(RS256_HEADER, payload, rsa_key), max_token_bytes=100_000)


async def test_leeway_is_configurable(verify: Verify, rsa_key: SigningPair) -> None:
    token = sign_compact(RS256_HEADER, claims_at(exp=int(NOW) - 30), rsa_key)
    with pytest.raises(ExpiredTokenError):
        await verify(token)
    assert (await verify(token, leeway=60))["exp"] == int(NOW) - 30


async def test_real_time_is_the_default_clock(jwks_server: JWKSServer, make_token: TokenMaker) -> None:
    settings = make_settings(jwks_server)
    cache = JWKSCache.from_settings(settings)
    try:
        verifier = TokenVerifier(settings, keys=cache)
        assert (await verifier.verify(make_token()))["sub"] == "client-42@clients"
        with pytest.raises(ExpiredTokenError):
            await verifier.verify(make_token(exp=int(time.time()) - 60))
    finally:
        await cache.aclose()
