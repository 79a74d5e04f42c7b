"""The adversarial token corpus, sent through real uvicorn: each case gets the exact 401 (or 400).

Families follow RFC 8725 and the attacks PyJWT's and jose's suites record: algorithm confusion,
key selection by the token, structure, claims, and ECDSA edge cases. Every case asserts the
status, the JSON body and the WWW-Authenticate header; none may reach the handler.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from .conftest import (
    AUDIENCE,
    ISSUER,
    JWKSServer,
    SigningPair,
    _rsa_private,
    b64url,
    forge,
    make_settings,
    protect,
    running_jwks_server,
    serve_with_uvicorn,
    sign_compact,
    standard_claims,
)

ALLOWED = ("RS256", "RS384", "ES256", "ES384")

MALFORMED = "The access token is malformed"
TOO_LARGE = "The access token is too large"
ALGORITHM = "The access token algorithm is not allowed"
UNKNOWN_KEY = "The access token signing key is unknown"
SIGNATURE = "The access token signature is invalid"
EXPIRED = "The access token has expired"
IMMATURE = "The access token is not yet valid"
ISSUER_WRONG = "The access token issuer is not trusted"
AUDIENCE_WRONG = "The access token was not issued for this API"
BOUND = "The access token is bound to a key and cannot be used as a bearer token"
CERT_BOUND = "The access token is not bound to the client certificate"
BAD_HEADER = "The Authorization header is malformed"


@dataclass(frozen=True)
class Kit:
    rsa: SigningPair
    ec256: SigningPair
    ec384: SigningPair
    attacker: SigningPair
    attacker_url: str

    def rs256(self, header: dict[str, Any] | None = None, **claims: Any) -> str:
        """A token validly signed by the published RSA key, with header members and claims changed."""
        return sign_compact(
            {"alg": "RS256", "typ": "JWT", "kid": "rsa-1", **(header or {})}, claims_of(**claims), self.rsa
        )

    def rs256_raw(self, header: bytes | dict[str, Any], payload: bytes) -> str:
        return sign_compact(header, payload, self.rsa)


def signed_as(alg: str, kid: str, private: Any) -> str:
    """Standard claims under header {alg, kid}, really signed with `private` using `alg`."""
    return sign_compact({"alg": alg, "kid": kid}, claims_of(), SigningPair(kid, private, alg))


def claims_of(**overrides: Any) -> dict[str, Any]:
    return standard_claims(**overrides)


def _hmac(kit: Kit, alg: str, secret: bytes) -> str:
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    signing_input = (
        f"{b64url(json.dumps({'alg': alg, 'kid': 'rsa-1'}).encode())}.{b64url(json.dumps(claims_of()).encode())}"
    )
    return f"{signing_input}.{b64url(hmac.new(secret, signing_input.encode(), digest).digest())}"


def _public_bytes(kit: Kit, encoding: serialization.Encoding) -> bytes:
    public: rsa.RSAPublicKey = kit.rsa.private.public_key()
    return public.public_bytes(encoding, serialization.PublicFormat.SubjectPublicKeyInfo)


def _public_pem(kit: Kit) -> bytes:
    return _public_bytes(kit, serialization.Encoding.PEM)


def _public_der(kit: Kit) -> bytes:
    return _public_bytes(kit, serialization.Encoding.DER)


def _public_jwk(kit: Kit) -> bytes:
    return RSAAlgorithm.to_jwk(kit.rsa.private.public_key()).encode()


def _none(kit: Kit, alg: str, signature: bytes = b"") -> str:
    return forge({"alg": alg, "kid": "rsa-1"}, claims_of(), signature)


def _segments(token: str) -> list[str]:
    return token.split(".")


Builder = Callable[[Kit], str]
Case = tuple[str, Builder, str]

ALGORITHM_ATTACKS: list[Case] = [
    *[(f"alg-{alg}", lambda k, a=alg: _none(k, a), ALGORITHM) for alg in ("none", "None", "NONE", "nOnE")],
    ("alg-none-with-signature", lambda k: _none(k, "none", b"sig"), ALGORITHM),
    *[
        (f"{alg}-with-public-key-as-{form}", lambda k, a=alg, f=secret: _hmac(k, a, f(k)), ALGORITHM)
        for alg in ("HS256", "HS384", "HS512")
        for form, secret in (("pem", _public_pem), ("der", _public_der), ("jwk", _public_jwk))
    ],
    (
        "rs512-outside-allow-list",
        lambda k: signed_as("RS512", "rsa-1", k.rsa.private),
        ALGORITHM,
    ),
    (
        "ps256-outside-allow-list",
        lambda k: signed_as("PS256", "rsa-1", k.rsa.private),
        ALGORITHM,
    ),
    (
        "rs384-against-jwk-alg-rs256",
        lambda k: signed_as("RS384", "rsa-1", k.rsa.private),
        ALGORITHM,
    ),
    (
        "es256-against-rsa-key",
        lambda k: signed_as("ES256", "rsa-1", k.ec256.private),
        ALGORITHM,
    ),
    ("rs256-against-ec-key", lambda k: sign_compact({"alg": "RS256", "kid": "ec-1"}, claims_of(), k.rsa), ALGORITHM),
    ("alg-missing", lambda k: k.rs256_raw(b'{"kid":"rsa-1"}', json.dumps(claims_of()).encode()), ALGORITHM),
    ("alg-number", lambda k: k.rs256({"alg": 256}), ALGORITHM),
    ("alg-null", lambda k: k.rs256({"alg": None}), ALGORITHM),
    ("alg-list", lambda k: k.rs256({"alg": ["RS256"]}), ALGORITHM),
    ("alg-lower-case", lambda k: k.rs256({"alg": "rs256"}), ALGORITHM),
]

KEY_SELECTION_ATTACKS: list[Case] = [
    (
        "embedded-jwk-attacker-kid",
        lambda k: sign_compact({"alg": "RS256", "kid": "attacker", "jwk": k.attacker.jwk}, claims_of(), k.attacker),
        UNKNOWN_KEY,
    ),
    (
        "embedded-jwk-our-kid",
        lambda k: sign_compact(
            {"alg": "RS256", "kid": "rsa-1", "jwk": k.attacker.jwk},
            claims_of(),
            SigningPair("rsa-1", k.attacker.private, "RS256"),
        ),
        SIGNATURE,
    ),
    (
        "embedded-jwk-no-kid",
        lambda k: sign_compact({"alg": "RS256", "jwk": k.attacker.jwk}, claims_of(), k.attacker),
        MALFORMED,
    ),
    (
        "jku-attacker-kid",
        lambda k: sign_compact({"alg": "RS256", "kid": "attacker", "jku": k.attacker_url}, claims_of(), k.attacker),
        UNKNOWN_KEY,
    ),
    (
        "jku-our-kid",
        lambda k: sign_compact(
            {"alg": "RS256", "kid": "rsa-1", "jku": k.attacker_url},
            claims_of(),
            SigningPair("rsa-1", k.attacker.private, "RS256"),
        ),
        SIGNATURE,
    ),
    (
        "x5u-attacker",
        lambda k: sign_compact({"alg": "RS256", "kid": "attacker", "x5u": k.attacker_url}, claims_of(), k.attacker),
        UNKNOWN_KEY,
    ),
    (
        "x5c-attacker-chain",
        lambda k: sign_compact(
            {"alg": "RS256", "kid": "rsa-1", "x5c": [base64.b64encode(b"attacker-cert").decode()]},
            claims_of(),
            SigningPair("rsa-1", k.attacker.private, "RS256"),
        ),
        SIGNATURE,
    ),
    ("kid-huge", lambda k: k.rs256({"kid": "k" * 4000}), MALFORMED),
    ("kid-just-over-the-cap", lambda k: k.rs256({"kid": "k" * 257}), MALFORMED),
    ("kid-empty", lambda k: k.rs256({"kid": ""}), MALFORMED),
    ("kid-number", lambda k: k.rs256({"kid": 1}), MALFORMED),
    ("kid-null", lambda k: k.rs256({"kid": None}), MALFORMED),
    ("kid-list", lambda k: k.rs256({"kid": ["rsa-1"]}), MALFORMED),
    ("kid-object", lambda k: k.rs256({"kid": {"kid": "rsa-1"}}), MALFORMED),
    ("kid-missing", lambda k: k.rs256_raw(b'{"alg":"RS256"}', json.dumps(claims_of()).encode()), MALFORMED),
    ("kid-path-traversal", lambda k: k.rs256({"kid": "../../../../etc/passwd"}), UNKNOWN_KEY),
    ("kid-file-url", lambda k: k.rs256({"kid": "file:///etc/passwd"}), UNKNOWN_KEY),
    ("kid-jwks-path", lambda k: k.rs256({"kid": "/.well-known/jwks.json"}), UNKNOWN_KEY),
    ("kid-sql", lambda k: k.rs256({"kid": "rsa-1' OR '1'='1"}), UNKNOWN_KEY),
    ("kid-nul-suffix", lambda k: k.rs256({"kid": "rsa-1\u0000"}), UNKNOWN_KEY),
    ("kid-case-variant", lambda k: k.rs256({"kid": "RSA-1"}), UNKNOWN_KEY),
    (
        "kid-of-a-wrong-curve-key",
        lambda k: sign_compact(
            {"alg": "ES256", "kid": "ec-p384-as-es256"}, claims_of(), SigningPair("x", k.ec384.private, "ES384")
        ),
        UNKNOWN_KEY,
    ),
]


def _with_segment(token: str, index: int, value: str) -> str:
    parts = _segments(token)
    parts[index] = value
    return ".".join(parts)


STRUCTURE_ATTACKS: list[Case] = [
    ("one-segment", lambda k: _segments(k.rs256())[0], MALFORMED),
    ("two-segments", lambda k: ".".join(_segments(k.rs256())[:2]), MALFORMED),
    ("four-segments", lambda k: k.rs256() + ".e30", MALFORMED),
    ("five-segments-jwe", lambda k: k.rs256() + ".e30.e30", MALFORMED),
    ("empty-header", lambda k: "." + ".".join(_segments(k.rs256())[1:]), MALFORMED),
    ("empty-payload", lambda k: _with_segment(k.rs256(), 1, ""), MALFORMED),
    ("only-dots", lambda k: "..", MALFORMED),
    ("padding-in-payload", lambda k: _with_segment(k.rs256(), 1, _segments(k.rs256())[1] + "=="), MALFORMED),
    ("standard-base64-plus", lambda k: _with_segment(k.rs256(), 2, "+" + _segments(k.rs256())[2][1:]), MALFORMED),
    ("standard-base64-slash", lambda k: _with_segment(k.rs256(), 0, "/" + _segments(k.rs256())[0][1:]), MALFORMED),
    ("non-ascii", lambda k: "é" + k.rs256()[1:], MALFORMED),
    ("tilde", lambda k: k.rs256()[:-1] + "~", MALFORMED),
    ("length-mod-4-is-1", lambda k: _with_segment(k.rs256(), 0, _segments(k.rs256())[0] + "A"), MALFORMED),
    ("non-canonical-last-char", lambda k: _with_segment(k.rs256(), 2, _segments(k.rs256())[2][:-1] + "B"), MALFORMED),
    ("header-array", lambda k: k.rs256_raw(b'["RS256"]', json.dumps(claims_of()).encode()), MALFORMED),
    ("header-string", lambda k: k.rs256_raw(b'"RS256"', json.dumps(claims_of()).encode()), MALFORMED),
    ("header-number", lambda k: k.rs256_raw(b"256", json.dumps(claims_of()).encode()), MALFORMED),
    ("header-not-json", lambda k: k.rs256_raw(b"{alg:RS256}", json.dumps(claims_of()).encode()), MALFORMED),
    (
        "header-not-utf8",
        lambda k: k.rs256_raw(b'{"alg":"RS256","kid":"\xff"}', json.dumps(claims_of()).encode()),
        MALFORMED,
    ),
    (
        "header-duplicate-alg",
        lambda k: k.rs256_raw(b'{"alg":"RS256","kid":"rsa-1","alg":"none"}', json.dumps(claims_of()).encode()),
        MALFORMED,
    ),
    ("payload-array", lambda k: k.rs256_raw({"alg": "RS256", "kid": "rsa-1"}, b"[1]"), MALFORMED),
    ("payload-null", lambda k: k.rs256_raw({"alg": "RS256", "kid": "rsa-1"}, b"null"), MALFORMED),
    (
        "payload-duplicate-exp",
        lambda k: k.rs256_raw({"alg": "RS256", "kid": "rsa-1"}, json.dumps(claims_of()).encode()[:-1] + b',"exp":1}'),
        MALFORMED,
    ),
    (
        "payload-duplicate-nested",
        lambda k: k.rs256_raw(
            {"alg": "RS256", "kid": "rsa-1"}, json.dumps(claims_of()).encode()[:-1] + b',"ext":{"a":1,"a":2}}'
        ),
        MALFORMED,
    ),
    (
        "payload-nested-2000-deep",
        lambda k: k.rs256_raw({"alg": "RS256", "kid": "rsa-1"}, b"[" * 2000 + b"]" * 2000),
        MALFORMED,
    ),
    (
        "payload-nan",
        lambda k: k.rs256_raw({"alg": "RS256", "kid": "rsa-1"}, json.dumps(claims_of()).encode()[:-1] + b',"x":NaN}'),
        MALFORMED,
    ),
    ("space-inside", lambda k: k.rs256().replace(".", ". ", 1), BAD_HEADER),
    ("tab-inside", lambda k: k.rs256().replace(".", "\t.", 1), BAD_HEADER),
    ("over-the-size-cap", lambda k: "a" * 8193, TOO_LARGE),
    ("over-the-size-cap-valid-shape", lambda k: k.rs256(padding="x" * 8000), TOO_LARGE),
]

CLAIM_ATTACKS: list[Case] = [
    ("exp-missing", lambda k: k.rs256(exp=None), MALFORMED),
    ("exp-string", lambda k: k.rs256(exp=str(int(time.time()) + 600)), MALFORMED),
    ("exp-true", lambda k: k.rs256(exp=True), MALFORMED),
    ("exp-false", lambda k: k.rs256(exp=False), MALFORMED),
    (
        "exp-null",
        lambda k: k.rs256_raw({"alg": "RS256", "kid": "rsa-1"}, json.dumps({**claims_of(), "exp": None}).encode()),
        MALFORMED,
    ),
    ("exp-list", lambda k: k.rs256(exp=[int(time.time()) + 600]), MALFORMED),
    ("exp-float-past", lambda k: k.rs256(exp=time.time() - 60.5), EXPIRED),
    ("exp-past", lambda k: k.rs256(exp=int(time.time()) - 3600), EXPIRED),
    ("exp-zero", lambda k: k.rs256(exp=0), EXPIRED),
    ("exp-negative", lambda k: k.rs256(exp=-(2**53 - 1)), EXPIRED),
    ("exp-huge-integer", lambda k: k.rs256(exp=10**400), MALFORMED),
    ("exp-just-over-safe-integer", lambda k: k.rs256(exp=2**53), MALFORMED),
    (
        "exp-overflowing-float",
        lambda k: k.rs256_raw(
            {"alg": "RS256", "kid": "rsa-1"}, json.dumps(claims_of(exp=None)).encode()[:-1] + b',"exp":1e400}'
        ),
        MALFORMED,
    ),
    ("exp-float-1e300", lambda k: k.rs256(exp=1e300), MALFORMED),
    ("exp-float-just-over-safe-integer", lambda k: k.rs256(exp=9007199254740992.0), MALFORMED),
    ("exp-float-huge-negative", lambda k: k.rs256(exp=-1e300), MALFORMED),
    ("nbf-float-huge", lambda k: k.rs256(nbf=1e300), MALFORMED),
    ("iat-float-huge", lambda k: k.rs256(iat=1e17), MALFORMED),
    ("sub-missing", lambda k: k.rs256(sub=None), MALFORMED),
    ("sub-empty", lambda k: k.rs256(sub=""), MALFORMED),
    ("sub-number", lambda k: k.rs256(sub=42), MALFORMED),
    ("sub-list", lambda k: k.rs256(sub=["client-42@clients"]), MALFORMED),
    (
        "sub-null",
        lambda k: k.rs256_raw({"alg": "RS256", "kid": "rsa-1"}, json.dumps({**claims_of(), "sub": None}).encode()),
        MALFORMED,
    ),
    ("cnf-dpop-jkt", lambda k: k.rs256(cnf={"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}), BOUND),
    # RFC 8705: a certificate-bound token is sent as Bearer, and refused without its certificate.
    ("cnf-mtls-x5t", lambda k: k.rs256(cnf={"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}), CERT_BOUND),
    ("cnf-empty-object", lambda k: k.rs256(cnf={}), BOUND),
    ("cnf-string", lambda k: k.rs256(cnf="jkt"), BOUND),
    (
        "cnf-null",
        lambda k: k.rs256_raw({"alg": "RS256", "kid": "rsa-1"}, json.dumps({**claims_of(), "cnf": None}).encode()),
        BOUND,
    ),
    ("nbf-string", lambda k: k.rs256(nbf="0"), MALFORMED),
    ("nbf-bool", lambda k: k.rs256(nbf=False), MALFORMED),
    ("nbf-future", lambda k: k.rs256(nbf=int(time.time()) + 600), IMMATURE),
    ("nbf-huge", lambda k: k.rs256(nbf=2**52), IMMATURE),
    ("nbf-float-future", lambda k: k.rs256(nbf=time.time() + 60.5), IMMATURE),
    ("iat-future", lambda k: k.rs256(iat=int(time.time()) + 600), IMMATURE),
    ("iat-string", lambda k: k.rs256(iat="now"), MALFORMED),
    ("iat-huge-integer", lambda k: k.rs256(iat=10**30), MALFORMED),
    ("aud-other", lambda k: k.rs256(aud="https://other.example"), AUDIENCE_WRONG),
    ("aud-other-list", lambda k: k.rs256(aud=["https://other.example"]), AUDIENCE_WRONG),
    ("aud-empty-list", lambda k: k.rs256(aud=[]), AUDIENCE_WRONG),
    ("aud-list-of-numbers", lambda k: k.rs256(aud=[1, 2]), AUDIENCE_WRONG),
    ("aud-ours-beside-a-number", lambda k: k.rs256(aud=[AUDIENCE, 7]), AUDIENCE_WRONG),
    ("aud-missing", lambda k: k.rs256(aud=None), AUDIENCE_WRONG),
    ("aud-object", lambda k: k.rs256(aud={"aud": AUDIENCE}), AUDIENCE_WRONG),
    ("aud-with-trailing-slash", lambda k: k.rs256(aud=AUDIENCE + "/"), AUDIENCE_WRONG),
    ("iss-without-trailing-slash", lambda k: k.rs256(iss=ISSUER.rstrip("/")), ISSUER_WRONG),
    ("iss-with-suffix", lambda k: k.rs256(iss=ISSUER + "evil"), ISSUER_WRONG),
    ("iss-other-case", lambda k: k.rs256(iss=ISSUER.upper()), ISSUER_WRONG),
    ("iss-http", lambda k: k.rs256(iss=ISSUER.replace("https", "http")), ISSUER_WRONG),
    ("iss-missing", lambda k: k.rs256(iss=None), ISSUER_WRONG),
    ("iss-list", lambda k: k.rs256(iss=[ISSUER]), ISSUER_WRONG),
    ("crit-unknown-extension", lambda k: k.rs256({"crit": ["x-unknown"], "x-unknown": 1}), MALFORMED),
    ("crit-empty", lambda k: k.rs256({"crit": []}), MALFORMED),
    ("b64-false", lambda k: k.rs256({"b64": False, "crit": ["b64"]}), MALFORMED),
    ("b64-false-without-crit", lambda k: k.rs256({"b64": False}), MALFORMED),
]


def _ecdsa(kit: Kit, alg: str, kid: str, signature: bytes) -> str:
    return forge({"alg": alg, "kid": kid}, claims_of(), signature)


def _der_signature(kit: Kit) -> str:
    signing_input = (
        f"{b64url(json.dumps({'alg': 'ES256', 'kid': 'ec-1'}).encode())}.{b64url(json.dumps(claims_of()).encode())}"
    )
    from cryptography.hazmat.primitives import hashes

    der = kit.ec256.private.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    return f"{signing_input}.{b64url(der)}"


ECDSA_ATTACKS: list[Case] = [
    ("es256-r-and-s-zero", lambda k: _ecdsa(k, "ES256", "ec-1", b"\x00" * 64), SIGNATURE),
    ("es256-r-zero", lambda k: _ecdsa(k, "ES256", "ec-1", b"\x00" * 32 + b"\x01" * 32), SIGNATURE),
    ("es256-all-ones", lambda k: _ecdsa(k, "ES256", "ec-1", b"\xff" * 64), SIGNATURE),
    ("es256-short-signature", lambda k: _ecdsa(k, "ES256", "ec-1", b"\x00" * 7), SIGNATURE),
    ("es256-empty-signature", lambda k: _ecdsa(k, "ES256", "ec-1", b""), SIGNATURE),
    ("es256-der-encoded-signature", _der_signature, SIGNATURE),
    (
        "es256-signed-by-p384-key",
        lambda k: sign_compact(
            {"alg": "ES256", "kid": "ec-1"}, claims_of(), SigningPair("ec-1", k.ec384.private, "ES384")
        ),
        SIGNATURE,
    ),
    (
        "es384-against-p256-key",
        lambda k: signed_as("ES384", "ec-1", k.ec384.private),
        ALGORITHM,
    ),
    (
        "es256-signed-by-another-p256-key",
        lambda k: sign_compact(
            {"alg": "ES256", "kid": "ec-1"},
            claims_of(),
            SigningPair("ec-1", ec.generate_private_key(ec.SECP256R1()), "ES256"),
        ),
        SIGNATURE,
    ),
]

FAMILIES: dict[str, list[Case]] = {
    "algorithm": ALGORITHM_ATTACKS,
    "key-selection": KEY_SELECTION_ATTACKS,
    "structure": STRUCTURE_ATTACKS,
    "claims": CLAIM_ATTACKS,
    "ecdsa": ECDSA_ATTACKS,
}
CORPUS = [
    pytest.param(builder, description, id=f"{family}:{name}")
    for family, cases in FAMILIES.items()
    for name, builder, description in cases
]


@dataclass
class Target:
    client: httpx.Client
    kit: Kit
    server: JWKSServer
    attacker_server: JWKSServer
    reached: list[str]


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    rsa = SigningPair("rsa-1", _rsa_private(0), "RS256")
    ec256 = SigningPair("ec-1", ec.generate_private_key(ec.SECP256R1()), "ES256")
    ec384 = SigningPair("ec-p384-as-es256", ec.generate_private_key(ec.SECP384R1()), "ES384")
    attacker = SigningPair("attacker", _rsa_private(2), "RS256")
    reached: list[str] = []

    async def handler(request: Request) -> PlainTextResponse:
        reached.append(request.url.path)
        return PlainTextResponse("reached")

    app = Starlette(routes=[Route("/{path:path}", handler)])
    with running_jwks_server() as server, running_jwks_server() as attacker_server:
        server.keys = [rsa.jwk, ec256.jwk, {**ec384.jwk, "alg": "ES256"}]
        attacker_server.publish(attacker)
        kit = Kit(rsa, ec256, ec384, attacker, attacker_server.url)
        protected = protect(server, app, settings=make_settings(server, algorithms=ALLOWED), protected_prefixes=["/"])
        with serve_with_uvicorn(protected) as base_url, httpx.Client(base_url=base_url) as client:
            yield Target(client, kit, server, attacker_server, reached)


def test_a_valid_token_of_each_key_type_passes(target: Target) -> None:
    es256 = sign_compact({"alg": "ES256", "kid": "ec-1"}, claims_of(), target.kit.ec256)
    for token in (target.kit.rs256(), es256, target.kit.rs256(exp=time.time() + 600.5)):
        assert target.client.get("/x", headers={"Authorization": f"Bearer {token}"}).status_code == 200


@pytest.mark.parametrize(("build", "description"), CORPUS)
def test_adversarial_token_gets_the_exact_refusal(target: Target, build: Builder, description: str) -> None:
    target.reached.clear()
    token = build(target.kit)
    # Bytes: some cases are not ASCII, and httpx would refuse to encode them as text.
    response = target.client.get("/anything", headers={b"Authorization": f"Bearer {token}".encode("latin-1")})
    status, error = (400, "invalid_request") if description == BAD_HEADER else (401, "invalid_token")
    assert response.status_code == status
    assert response.json() == {"detail": description, "error": error}
    assert response.headers["www-authenticate"] == (
        f'Bearer realm="{AUDIENCE}", error="{error}", error_description="{description}", '
        f'DPoP realm="{AUDIENCE}", algs="ES256"'
    )
    assert target.reached == []
    assert target.attacker_server.count == 0


def test_the_corpus_covers_every_family_with_several_cases() -> None:
    assert {family: len(cases) >= 5 for family, cases in FAMILIES.items()} == dict.fromkeys(FAMILIES, True)
    ids = [param.id for param in CORPUS]
    assert len(ids) == len(set(ids))
