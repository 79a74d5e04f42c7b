"""The DPoP corpus (RFC 9449 §4.3, §7.1), through real uvicorn: each row asserts the exact status,
JSON body and every WWW-Authenticate field, and whether the protected handler was reached.

Each §4.3 check fails alone in its own rows; the rows that pass show what is deliberately
equivalent (normalised `htu`, extra `cnf` members, ignored `jku`/`x5u`/`x5c`/`kid`).
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth0_asgi import Auth0Middleware, Auth0Settings
from auth0_asgi.dpop import access_token_hash
from auth0_asgi.testing import DPoPKey, LocalIssuer
from auth0_asgi.testing._dpop import sign_compact

from .conftest import JWKSServer, _rsa_private, running_jwks_server, serve_with_uvicorn

REALM: Final = "https://api.auth0-asgi.test"
ALGS: Final = "ES256 RS256 EdDSA"
BEARER: Final = f'Bearer realm="{REALM}"'
DPOP: Final = f'DPoP realm="{REALM}", algs="{ALGS}"'


def _on_bearer(error: str, description: str) -> list[str]:
    return [f'{BEARER}, error="{error}", error_description="{description}"', DPOP]


def _on_dpop(error: str, description: str) -> list[str]:
    return [BEARER, f'DPoP realm="{REALM}", error="{error}", error_description="{description}", algs="{ALGS}"']


@dataclass(frozen=True)
class Refusal:
    status: int
    body: dict[str, str]
    challenges: list[str]


def _refusal(status: int, error: str, description: str, on: Callable[[str, str], list[str]]) -> Refusal:
    return Refusal(status, {"detail": description, "error": error}, on(error, description))


PROOF: Final = _refusal(401, "invalid_dpop_proof", "The DPoP proof is invalid", _on_dpop)
REPLAYED: Final = _refusal(401, "invalid_dpop_proof", "The DPoP proof was already used", _on_dpop)
UNBOUND: Final = _refusal(401, "invalid_token", "The access token is not bound to the DPoP proof key", _on_dpop)
EXPIRED: Final = _refusal(401, "invalid_token", "The access token has expired", _on_dpop)
BOUND_AS_BEARER: Final = _refusal(
    401, "invalid_token", "The access token is bound to a key and cannot be used as a bearer token", _on_bearer
)
REQUEST_ON_DPOP: Final = _refusal(400, "invalid_request", "The Authorization header is malformed", _on_dpop)
REQUEST_ON_BEARER: Final = _refusal(400, "invalid_request", "The Authorization header is malformed", _on_bearer)


@dataclass
class Kit:
    """What a row builds its request from."""

    issuer: LocalIssuer
    key: DPoPKey
    other_key: DPoPKey
    rsa_key: DPoPKey
    ed_key: DPoPKey
    base_url: str
    attacker: JWKSServer
    jwks: JWKSServer
    reached: list[str | None] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.base_url + "/api/private"

    def token(self, key: DPoPKey | None = None, **claims: Any) -> str:
        return self.issuer.dpop_token(key or self.key, **claims)

    def proof(self, token: str, key: DPoPKey | None = None, url: str | None = None, **overrides: Any) -> str:
        return (key or self.key).proof("GET", url or self.url, access_token=token, **overrides)


# A row's request: method, path below the server and header list (names may repeat).
Sent = tuple[str, str, list[tuple[str, str]]]


def dpop(
    kit: Kit, *, key: DPoPKey | None = None, path: str = "/api/private", token: str | None = None, **proof: Any
) -> Sent:
    """A DPoP request whose proof is made by `key` with `proof` overrides (headers=..., claims)."""
    token = token if token is not None else kit.token(key)
    url = proof.pop("url", kit.base_url + path)
    return "GET", path, [("Authorization", f"DPoP {token}"), ("DPoP", kit.proof(token, key, url=url, **proof))]


def with_proof(kit: Kit, proof: str, token: str | None = None) -> Sent:
    return "GET", "/api/private", [("Authorization", f"DPoP {token or kit.token()}"), ("DPoP", proof)]


def b64(data: bytes | dict[str, Any]) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(kit: Kit, token: str, **overrides: Any) -> dict[str, Any]:
    claims = {"jti": "j-1", "htm": "GET", "htu": kit.url, "iat": int(time.time()), "ath": access_token_hash(token)}
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def _header(kit: Kit, key: DPoPKey | None = None, **overrides: Any) -> dict[str, Any]:
    header = {"typ": "dpop+jwt", "alg": (key or kit.key).algorithm, "jwk": dict((key or kit.key).public_jwk)}
    header.update(overrides)
    return {name: value for name, value in header.items() if value is not None}


def unsigned(kit: Kit) -> Sent:
    token = kit.token()
    return with_proof(kit, f"{b64(_header(kit, alg='none'))}.{b64(_claims(kit, token))}.", token)


def signed_by_other_key(kit: Kit) -> Sent:
    token = kit.token()
    # The header names key's jwk; other_key signs.
    proof = sign_compact(_header(kit), _claims(kit, token), kit.other_key.private_key, "ES256")
    return with_proof(kit, proof, token)


def tampered(kit: Kit) -> Sent:
    token = kit.token()
    head, _, signature = kit.proof(token).rpartition(".")
    flipped = "A" if signature[5] != "A" else "B"
    return with_proof(kit, f"{head}.{signature[:5]}{flipped}{signature[6:]}", token)


def private_jwk(kit: Kit) -> Sent:
    token = kit.token()
    private_number = kit.key.private_key.private_numbers().private_value  # type: ignore[union-attr]
    d = b64(private_number.to_bytes(32, "big"))
    return with_proof(kit, kit.proof(token, headers={"jwk": {**kit.key.public_jwk, "d": d}}), token)


def off_curve(kit: Kit) -> Sent:
    token = kit.token()
    bad_x = b64(bytes(32))
    return with_proof(kit, kit.proof(token, headers={"jwk": {**kit.key.public_jwk, "x": bad_x}}), token)


def small_rsa(kit: Kit) -> Sent:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the point of the row
    key = DPoPKey("RS256", private_key=weak)
    return dpop(kit, key=key)


def two_lines(kit: Kit) -> Sent:
    token = kit.token()
    return (
        "GET",
        "/api/private",
        [
            ("Authorization", f"DPoP {token}"),
            ("DPoP", kit.proof(token)),
            ("DPoP", kit.proof(token)),
        ],
    )


def two_in_one_line(kit: Kit) -> Sent:
    token = kit.token()
    return with_proof(kit, f"{kit.proof(token)}, {kit.proof(token)}", token)


def bearer_with_proof(kit: Kit) -> Sent:
    token = kit.issuer.token()
    return "GET", "/api/private", [("Authorization", f"Bearer {token}"), ("DPoP", kit.proof(token))]


def bound_as_bearer(kit: Kit) -> Sent:
    return "GET", "/api/private", [("Authorization", f"Bearer {kit.token()}")]


def unbound_token(kit: Kit) -> Sent:
    return dpop(kit, token=kit.issuer.token())


def ath_over(prefix: str) -> Callable[[Kit], Sent]:
    def build(kit: Kit) -> Sent:
        token = kit.token()
        return with_proof(kit, kit.proof(token, ath=access_token_hash(prefix + token)), token)

    return build


def ath_of_other_token(kit: Kit) -> Sent:
    token = kit.token()
    return with_proof(kit, kit.proof(token, ath=access_token_hash(kit.token(scope="other"))), token)


def cnf(value: Any) -> Callable[[Kit], Sent]:
    def build(kit: Kit) -> Sent:
        claimed = value(kit) if callable(value) else value
        return dpop(kit, token=kit.issuer.token(cnf=claimed))

    return build


def htu(url: Callable[[Kit], str], path: str = "/api/private") -> Callable[[Kit], Sent]:
    return lambda kit: dpop(kit, path=path, url=url(kit))


def host_of(kit: Kit) -> str:
    return kit.base_url.removeprefix("http://")


# Rows that must be refused: id -> (builder, the exact refusal).
REFUSED: Final[list[Any]] = [
    # Credentials (§4.3 check 1 and §7.1).
    pytest.param(two_lines, PROOF, id="two-dpop-header-lines"),
    pytest.param(two_in_one_line, PROOF, id="two-proofs-in-one-line"),
    pytest.param(lambda kit: with_proof(kit, ""), PROOF, id="empty-dpop-header"),
    pytest.param(
        lambda kit: ("GET", "/api/private", [("Authorization", f"DPoP {kit.token()}")]),
        REQUEST_ON_DPOP,
        id="dpop-scheme-without-proof",
    ),
    pytest.param(bearer_with_proof, REQUEST_ON_BEARER, id="bearer-token-with-a-proof"),
    pytest.param(bound_as_bearer, BOUND_AS_BEARER, id="bound-token-as-bearer"),
    # Structure (check 2).
    pytest.param(lambda kit: with_proof(kit, "not-a-jws"), PROOF, id="not-a-jws"),
    pytest.param(lambda kit: with_proof(kit, "a.b.c.d.e"), PROOF, id="five-segments"),
    pytest.param(lambda kit: dpop(kit, pad="x" * 9000), PROOF, id="oversized-proof"),
    pytest.param(lambda kit: with_proof(kit, kit.proof(kit.token()) + "=="), PROOF, id="padded-segment"),
    # typ (check 4).
    pytest.param(lambda kit: dpop(kit, headers={"typ": None}), PROOF, id="typ-missing"),
    pytest.param(lambda kit: dpop(kit, headers={"typ": "JWT"}), PROOF, id="typ-jwt"),
    pytest.param(lambda kit: dpop(kit, headers={"typ": "application/dpop+jwt"}), PROOF, id="typ-media-type"),
    pytest.param(lambda kit: dpop(kit, headers={"typ": "DPOP+JWT"}), PROOF, id="typ-uppercase"),
    # alg (check 5).
    pytest.param(unsigned, PROOF, id="alg-none-unsigned"),
    pytest.param(lambda kit: dpop(kit, headers={"alg": "HS256"}), PROOF, id="alg-hs256"),
    pytest.param(lambda kit: dpop(kit, key=DPoPKey("ES384")), PROOF, id="alg-not-allowed-es384"),
    pytest.param(lambda kit: dpop(kit, headers={"alg": "RS256"}), PROOF, id="alg-rs256-with-an-ec-key"),
    pytest.param(
        lambda kit: dpop(kit, key=DPoPKey("ES384"), headers={"alg": "ES256"}), PROOF, id="es256-with-a-p384-key"
    ),
    pytest.param(lambda kit: dpop(kit, headers={"alg": None}), PROOF, id="alg-missing"),
    pytest.param(lambda kit: dpop(kit, headers={"crit": ["exp"]}), PROOF, id="crit-header"),
    pytest.param(lambda kit: dpop(kit, headers={"b64": False}), PROOF, id="b64-false"),
    # jwk (check 7).
    pytest.param(lambda kit: dpop(kit, headers={"jwk": None}), PROOF, id="jwk-missing"),
    pytest.param(lambda kit: dpop(kit, headers={"jwk": "key"}), PROOF, id="jwk-not-an-object"),
    pytest.param(private_jwk, PROOF, id="jwk-with-private-d"),
    pytest.param(
        lambda kit: dpop(kit, headers={"jwk": {**kit.key.public_jwk, "alg": "ES384"}}),
        PROOF,
        id="jwk-alg-member-differs",
    ),
    pytest.param(off_curve, PROOF, id="jwk-point-off-the-curve"),
    pytest.param(small_rsa, PROOF, id="jwk-rsa-1024-bits"),
    # Signature (check 6).
    pytest.param(signed_by_other_key, PROOF, id="signed-by-another-key"),
    pytest.param(tampered, PROOF, id="signature-tampered"),
    # jti (check 8 and §11.1).
    pytest.param(lambda kit: dpop(kit, jti=None), PROOF, id="jti-missing"),
    pytest.param(lambda kit: dpop(kit, jti=""), PROOF, id="jti-empty"),
    pytest.param(lambda kit: dpop(kit, jti=42), PROOF, id="jti-number"),
    pytest.param(lambda kit: dpop(kit, jti="j" * 257), PROOF, id="jti-too-long"),
    # htm (check 8).
    pytest.param(lambda kit: dpop(kit, htm=None), PROOF, id="htm-missing"),
    pytest.param(lambda kit: dpop(kit, htm="get"), PROOF, id="htm-lowercase"),
    pytest.param(lambda kit: dpop(kit, htm="POST"), PROOF, id="htm-other-method"),
    # htu (check 9).
    pytest.param(lambda kit: dpop(kit, htu=None), PROOF, id="htu-missing"),
    pytest.param(lambda kit: dpop(kit, htu=7), PROOF, id="htu-number"),
    pytest.param(htu(lambda kit: kit.base_url + "/api/other"), PROOF, id="htu-other-path"),
    pytest.param(htu(lambda kit: kit.url.replace("127.0.0.1", "localhost")), PROOF, id="htu-other-host"),
    pytest.param(htu(lambda kit: kit.url.replace("http://", "https://")), PROOF, id="htu-other-scheme"),
    pytest.param(
        htu(lambda kit: f"http://127.0.0.1:1{kit.base_url.rsplit(':', 1)[1]}/api/private"), PROOF, id="htu-other-port"
    ),
    pytest.param(htu(lambda kit: kit.url + "/"), PROOF, id="htu-trailing-slash-added"),
    pytest.param(htu(lambda kit: kit.url, path="/api/private/"), PROOF, id="htu-trailing-slash-missing"),
    pytest.param(htu(lambda kit: kit.base_url + "/API/private"), PROOF, id="htu-path-case"),
    pytest.param(htu(lambda kit: kit.url + "/a%2Fb", path="/api/private/a/b"), PROOF, id="htu-encoded-slash"),
    pytest.param(htu(lambda kit: f"http://user@{host_of(kit)}/api/private"), PROOF, id="htu-userinfo"),
    pytest.param(htu(lambda kit: "/api/private"), PROOF, id="htu-relative"),
    pytest.param(htu(lambda kit: f"//{host_of(kit)}/api/private"), PROOF, id="htu-scheme-relative"),
    pytest.param(htu(lambda kit: kit.url.replace("http://", "ftp://")), PROOF, id="htu-ftp"),
    pytest.param(htu(lambda kit: kit.url + "/%zz", path="/api/private/%25zz"), PROOF, id="htu-broken-percent"),
    # iat (check 10).
    pytest.param(lambda kit: dpop(kit, iat=None), PROOF, id="iat-missing"),
    pytest.param(lambda kit: dpop(kit, iat=str(int(time.time()))), PROOF, id="iat-string"),
    pytest.param(lambda kit: dpop(kit, iat=True), PROOF, id="iat-bool"),
    pytest.param(lambda kit: dpop(kit, iat=1e300), PROOF, id="iat-huge"),
    pytest.param(lambda kit: dpop(kit, iat=int(time.time()) - 320), PROOF, id="iat-older-than-max-age"),
    pytest.param(lambda kit: dpop(kit, iat=int(time.time()) + 60), PROOF, id="iat-beyond-leeway"),
    # ath (check 11).
    pytest.param(lambda kit: dpop(kit, ath=None), PROOF, id="ath-missing"),
    pytest.param(lambda kit: dpop(kit, ath=7), PROOF, id="ath-number"),
    pytest.param(ath_of_other_token, PROOF, id="ath-of-another-token"),
    pytest.param(ath_over("Bearer "), PROOF, id="ath-over-bearer-header"),
    pytest.param(ath_over("DPoP "), PROOF, id="ath-over-dpop-header"),
    # cnf (check 12, RFC 9449 §6.1).
    pytest.param(unbound_token, UNBOUND, id="token-not-bound"),
    pytest.param(cnf(lambda kit: {"jkt": kit.other_key.thumbprint}), UNBOUND, id="jkt-of-another-key"),
    pytest.param(cnf(lambda kit: {"jkt": kit.key.thumbprint.upper()}), UNBOUND, id="jkt-other-case"),
    pytest.param(cnf(lambda kit: {"jkt": kit.key.thumbprint + "A"}), UNBOUND, id="jkt-longer"),
    pytest.param(cnf({"jkt": 7}), UNBOUND, id="jkt-number"),
    pytest.param(cnf(lambda kit: kit.key.thumbprint), UNBOUND, id="cnf-a-string"),
    pytest.param(cnf({"x5t#S256": "abc"}), UNBOUND, id="cnf-mtls-only"),
    pytest.param(
        lambda kit: dpop(kit, token=kit.issuer.expired_token(cnf={"jkt": kit.key.thumbprint})),
        EXPIRED,
        id="bound-token-expired",
    ),
]


# Rows that must pass: equivalent spellings and ignored members. id -> (builder, the key that signed).
ACCEPTED: Final[list[Any]] = [
    pytest.param(lambda kit: dpop(kit), "key", id="valid"),
    pytest.param(lambda kit: dpop(kit, key=kit.rsa_key), "rsa_key", id="rs256-proof"),
    pytest.param(lambda kit: dpop(kit, key=kit.ed_key), "ed_key", id="eddsa-proof"),
    pytest.param(lambda kit: dpop(kit, jti="j" * 256), "key", id="jti-at-the-cap"),
    pytest.param(lambda kit: dpop(kit, iat=time.time() - 250.5), "key", id="iat-float-within-max-age"),
    pytest.param(lambda kit: dpop(kit, iat=int(time.time()) + 20), "key", id="iat-within-leeway"),
    pytest.param(htu(lambda kit: kit.url + "?q=1#frag"), "key", id="htu-query-and-fragment-ignored"),
    pytest.param(htu(lambda kit: kit.url, path="/api/private?q=1"), "key", id="request-query-ignored"),
    pytest.param(
        htu(lambda kit: kit.url.upper().replace("/API/PRIVATE", "/api/private")), "key", id="htu-scheme-host-case"
    ),
    pytest.param(htu(lambda kit: kit.url + "/%7Ex", path="/api/private/~x"), "key", id="htu-encoded-tilde"),
    pytest.param(htu(lambda kit: kit.url + "/~x", path="/api/private/%7Ex"), "key", id="request-encoded-tilde"),
    pytest.param(htu(lambda kit: kit.url + "/%c3%a9", path="/api/private/%C3%A9"), "key", id="htu-lowercase-hex"),
    pytest.param(htu(lambda kit: kit.base_url + "/api/x/../private"), "key", id="htu-dot-segments"),
    pytest.param(htu(lambda kit: kit.base_url + "/api/./private"), "key", id="htu-single-dot"),
    pytest.param(
        lambda kit: dpop(
            kit, headers={"kid": "attacker", "jku": kit.attacker.url, "x5u": kit.attacker.url, "x5c": ["MIIB"]}
        ),
        "key",
        id="jku-x5u-x5c-kid-ignored",
    ),
    # Members we do not know are ignored with the DPoP scheme (x5t#S256 is known: test_mtls.py).
    pytest.param(cnf(lambda kit: {"jkt": kit.key.thumbprint, "x-other": "abc"}), "key", id="cnf-extra-members"),
    pytest.param(lambda kit: dpop(kit, nonce="anything"), "key", id="unrequested-nonce-ignored"),
]


@pytest.fixture(scope="module")
def kit() -> Iterator[Kit]:
    issuer = LocalIssuer(private_key=_rsa_private(0))
    with contextlib.ExitStack() as stack:
        jwks = stack.enter_context(running_jwks_server())
        jwks.keys = issuer.jwks()["keys"]
        attacker = stack.enter_context(running_jwks_server())
        attacker.keys = issuer.jwks()["keys"]
        reached: list[str | None] = []

        async def handler(request: Request) -> JSONResponse:
            reached.append(request.user.proof_key_thumbprint)
            return JSONResponse({"sub": request.user.identity, "jkt": request.user.proof_key_thumbprint})

        app = Starlette(routes=[Route("/api/private", handler), Route("/api/private/{rest:path}", handler)])
        settings = Auth0Settings(
            domain="local-issuer.auth0-asgi.test",
            audience=(issuer.audience,),
            jwks_url=jwks.url,
            dpop_algorithms=("ES256", "RS256", "EdDSA"),
        )
        base_url = stack.enter_context(
            serve_with_uvicorn(Auth0Middleware(app, settings=settings, protected_prefixes=["/api/private"]))
        )
        yield Kit(
            issuer,
            DPoPKey(),
            DPoPKey(),
            DPoPKey("RS256", private_key=_rsa_private(2)),
            DPoPKey("EdDSA"),
            base_url,
            attacker,
            jwks,
            reached,
        )


def _send(kit: Kit, sent: Sent) -> httpx.Response:
    method, path, headers = sent
    with httpx.Client(base_url=kit.base_url) as client:
        return client.request(method, path, headers=headers)


@pytest.mark.parametrize(("build", "refusal"), REFUSED)
def test_a_defective_request_gets_the_exact_refusal(kit: Kit, build: Callable[[Kit], Sent], refusal: Refusal) -> None:
    kit.reached.clear()
    response = _send(kit, build(kit))
    assert response.status_code == refusal.status
    assert response.json() == refusal.body
    assert response.headers.get_list("www-authenticate") == refusal.challenges
    assert kit.reached == []


@pytest.mark.parametrize(("build", "signer"), ACCEPTED)
def test_an_equivalent_or_ignored_variant_passes(kit: Kit, build: Callable[[Kit], Sent], signer: str) -> None:
    kit.reached.clear()
    response = _send(kit, build(kit))
    thumbprint = getattr(kit, signer).thumbprint
    assert (response.status_code, response.json()) == (200, {"sub": "local-client@clients", "jkt": thumbprint})
    assert kit.reached == [thumbprint]
    assert kit.attacker.count == 0  # jku/x5u are never fetched


def test_the_corpus_fails_every_check_of_rfc_9449_section_4_3() -> None:
    ids = {param.id for param in REFUSED}
    least = {"two-": 2, "typ-": 4, "alg-": 5, "jwk-": 6, "sign": 2, "jti-": 4, "htm-": 3, "htu-": 14, "iat-": 6}
    least |= {"ath-": 5, "jkt-": 4, "cnf-": 2}
    for family, count in least.items():
        assert sum(1 for case in ids if case.startswith(family)) >= count, family
