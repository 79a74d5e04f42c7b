"""RFC 8705 certificate-bound tokens: the certificate from the ASGI tls extension or a trusted proxy's header."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterator
from typing import Any, Final
from urllib.parse import quote

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth0_asgi import Auth0Middleware, ConfigurationError
from auth0_asgi._headers import gather
from auth0_asgi.mtls import HEADER_FORMATS, ClientCertificates
from auth0_asgi.testing import DPoPKey, LocalIssuer, client_certificate, proxy_header, serve_issuer

from .conftest import _rsa_private, asgi_client, serve_with_uvicorn

pytestmark = pytest.mark.anyio

REALM: Final = 'realm="https://api.auth0-asgi.test"'
UNBOUND: Final = (
    f'Bearer {REALM}, error="invalid_token", '
    'error_description="The access token is not bound to the client certificate"'
)
UNBOUND_DETAIL: Final = "The access token is not bound to the client certificate"
CERT: Final = client_certificate("alice")
OTHER: Final = client_certificate("mallory")
FORMATS: Final = sorted(HEADER_FORMATS)


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer(private_key=_rsa_private(0))


def _thumbprint(certificates: ClientCertificates, scope: dict[str, Any]) -> str | None:
    """What `certificates` reads from the request in `scope`, its fields gathered as the gate does."""
    return certificates.thumbprint(scope, gather(scope, certificates.header_names))


def _peer_scope(headers: list[tuple[str, str]], peer: str = "127.0.0.1") -> dict[str, Any]:
    return {"client": (peer, 5000), "headers": [(n.lower().encode(), v.encode("latin-1")) for n, v in headers]}


@pytest.mark.parametrize("header_format", FORMATS)
def test_each_proxy_header_format_gives_the_certificate_thumbprint(header_format: str) -> None:
    name, value = proxy_header(CERT, header_format)
    certificates = ClientCertificates(header_format, name, ["127.0.0.1"])
    assert _thumbprint(certificates, _peer_scope([(name, value)])) == CERT.thumbprint
    assert _thumbprint(certificates, _peer_scope([(name, value)], peer="10.1.2.3")) is None  # untrusted peer
    assert _thumbprint(certificates, _peer_scope([(name, value), (name, value)])) is None  # repeated
    assert _thumbprint(certificates, _peer_scope([])) is None


def test_a_peer_the_server_rewrote_from_x_forwarded_for_is_no_proxy() -> None:
    # uvicorn's --proxy-headers sets the peer from X-Forwarded-For: then 127.0.0.1 is what a
    # client wrote, and its certificate header is a client's claim too.
    name, value = proxy_header(CERT, "rfc9440")
    certificates = ClientCertificates("rfc9440", name, ["127.0.0.1"])
    assert _thumbprint(certificates, _peer_scope([(name, value)])) == CERT.thumbprint  # remembered now
    for forwarded_for in ("127.0.0.1", "10.0.0.9, 127.0.0.1", "127.0.0.1, 10.0.0.9"):
        scope = _peer_scope([("X-Forwarded-For", forwarded_for), (name, value)])
        assert _thumbprint(certificates, scope) is None, forwarded_for
    assert _thumbprint(certificates, _peer_scope([(name, value), ("X-Forwarded-For", "10.0.0.9")])) == CERT.thumbprint


BAD_PEM: Final = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
PEM_PAIR: Final = quote((CERT.pem + OTHER.pem).decode(), safe="")
MALFORMED: Final[list[Any]] = [
    pytest.param("rfc9440", "Client-Cert", base64.b64encode(CERT.der).decode(), id="rfc9440-no-colons"),
    pytest.param("rfc9440", "Client-Cert", ":bm90IGEgY2VydA==:", id="rfc9440-not-a-cert"),
    pytest.param("nginx", "X-SSL-Client-Cert", PEM_PAIR, id="nginx-two-certs"),
    pytest.param(
        "nginx",
        "X-SSL-Client-Cert",
        quote("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
        id="nginx-bad-pem",
    ),
    pytest.param("alb", "X-Amzn-Mtls-Clientcert", "garbage", id="alb-garbage"),
    pytest.param("traefik", "X-Forwarded-Tls-Client-Cert", "a,b", id="traefik-two"),
    pytest.param("envoy", "X-Forwarded-Client-Cert", "Hash=zz;By=x", id="envoy-bad-hash"),
    pytest.param("envoy", "X-Forwarded-Client-Cert", "By=spiffe://x", id="envoy-nothing"),
    pytest.param(
        "envoy",
        "X-Forwarded-Client-Cert",
        f'Hash={"0" * 64};Cert="{quote(CERT.pem.decode(), safe="")}"',
        id="envoy-hash-disagrees",
    ),
    pytest.param("envoy", "X-Forwarded-Client-Cert", "Hash=1;Hash=2", id="envoy-repeated-key"),
]


@pytest.mark.parametrize(("header_format", "name", "value"), MALFORMED)
def test_a_malformed_or_ambiguous_header_is_no_certificate(header_format: str, name: str, value: str) -> None:
    certificates = ClientCertificates(header_format, name, ["127.0.0.1"])
    assert _thumbprint(certificates, _peer_scope([(name, value)])) is None


def test_envoy_takes_the_nearest_proxys_element_and_a_hash_alone_will_do() -> None:
    _, near = proxy_header(CERT, "envoy")
    _, far = proxy_header(OTHER, "envoy")
    certificates = ClientCertificates("envoy", "", ["127.0.0.1"])
    assert _thumbprint(certificates, _peer_scope([("x-forwarded-client-cert", f"{far},{near}")])) == CERT.thumbprint
    digest = hashlib.sha256(CERT.der).hexdigest()
    assert _thumbprint(certificates, _peer_scope([("x-forwarded-client-cert", f"Hash={digest}")])) == CERT.thumbprint


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param(("kerberos", "", ["127.0.0.1"]), "AUTH0_MTLS_HEADER_FORMAT='kerberos'", id="unknown"),
        pytest.param(("envoy", "", []), "AUTH0_TRUSTED_PROXIES", id="no-proxies"),
        pytest.param(("nginx", "", ["127.0.0.1"]), "AUTH0_MTLS_HEADER", id="nginx-unnamed"),
    ],
)
def test_a_header_source_needs_a_known_format_a_name_and_proxies(arguments: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ClientCertificates(*arguments)


async def _who(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.identity})


def _app(issuer: LocalIssuer, **settings: Any) -> Auth0Middleware:
    chosen = {"dpop": "disabled", **settings}
    return Auth0Middleware(
        Starlette(routes=[Route("/api/{rest:path}", _who)]), settings=issuer.settings(**chosen), keys=issuer
    )


async def test_the_asgi_tls_extension_gives_the_certificate(issuer: LocalIssuer) -> None:
    token = issuer.mtls_token(CERT.thumbprint)

    async def call(chain: list[str]) -> int:
        messages: list[Any] = []
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/api/x",
            "raw_path": b"/api/x",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"api"), (b"authorization", f"Bearer {token}".encode())],
            "client": ("203.0.113.9", 5000),
            "extensions": {"tls": {"client_cert_chain": chain}},
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(message: Any) -> None:
            messages.append(message)

        await _app(issuer)(scope, receive, send)
        return int(messages[0]["status"])

    assert await call([CERT.pem.decode()]) == 200
    assert await call([OTHER.pem.decode()]) == 401
    assert await call([]) == 401


@pytest.fixture(scope="module")
def served_issuer() -> Iterator[LocalIssuer]:
    issuer = LocalIssuer(private_key=_rsa_private(0))
    with serve_issuer(issuer):
        yield issuer


def _serve(issuer: LocalIssuer, **settings: Any) -> Any:
    app = Auth0Middleware(
        Starlette(routes=[Route("/api/{rest:path}", _who)]), settings=issuer.settings(dpop="disabled", **settings)
    )
    # The header is read only from the peer itself: uvicorn must not rewrite it from X-Forwarded-For.
    return serve_with_uvicorn(app, proxy_headers=False)


@pytest.mark.parametrize("header_format", FORMATS)
def test_through_real_uvicorn_from_a_trusted_proxy(served_issuer: LocalIssuer, header_format: str) -> None:
    name, value = proxy_header(CERT, header_format)
    _, other_value = proxy_header(OTHER, header_format)
    token = served_issuer.mtls_token(CERT.thumbprint)
    bearer = {"Authorization": f"Bearer {token}"}
    with _serve(
        served_issuer, mtls_header_format=header_format, mtls_header=name, mtls_trusted_proxies=["127.0.0.1"]
    ) as url:
        matching = httpx.get(f"{url}/api/x", headers={**bearer, name: value})
        mismatched = httpx.get(f"{url}/api/x", headers={**bearer, name: other_value})
        missing = httpx.get(f"{url}/api/x", headers=bearer)
        # The token cache must not skip the binding: the same token again, with another certificate.
        again = httpx.get(f"{url}/api/x", headers={**bearer, name: other_value})
        unbound = httpx.get(f"{url}/api/x", headers={"Authorization": f"Bearer {served_issuer.token()}"})
    assert matching.status_code == 200
    assert unbound.status_code == 200  # allowed: an unbound token needs no certificate
    for refused in (mismatched, missing, again):
        assert refused.status_code == 401
        assert refused.json() == {
            "detail": "The access token is not bound to the client certificate",
            "error": "invalid_token",
        }
        assert refused.headers.get_list("www-authenticate") == [UNBOUND]


def test_a_header_from_an_untrusted_peer_gains_nothing(served_issuer: LocalIssuer) -> None:
    name, value = proxy_header(CERT, "rfc9440")
    token = served_issuer.mtls_token(CERT.thumbprint)
    with _serve(served_issuer, mtls_header_format="rfc9440", mtls_trusted_proxies=["10.0.0.0/8"]) as url:
        forged = httpx.get(f"{url}/api/x", headers={"Authorization": f"Bearer {token}", name: value})
    assert forged.status_code == 401
    assert forged.headers.get_list("www-authenticate") == [UNBOUND]


def test_required_refuses_unbound_tokens_and_disabled_refuses_bound_ones(served_issuer: LocalIssuer) -> None:
    name, value = proxy_header(CERT, "rfc9440")
    bound = served_issuer.mtls_token(CERT.thumbprint)
    source = {"mtls_header_format": "rfc9440", "mtls_trusted_proxies": ["127.0.0.1"]}
    with _serve(served_issuer, mtls="required", **source) as url:
        unbound = httpx.get(f"{url}/api/x", headers={"Authorization": f"Bearer {served_issuer.token()}", name: value})
        ok = httpx.get(f"{url}/api/x", headers={"Authorization": f"Bearer {bound}", name: value})
    with _serve(served_issuer, mtls="disabled") as url:
        disabled = httpx.get(f"{url}/api/x", headers={"Authorization": f"Bearer {bound}", name: value})
    assert ok.status_code == 200
    assert unbound.status_code == 401
    assert unbound.headers.get_list("www-authenticate") == [UNBOUND]
    assert disabled.status_code == 401
    assert disabled.json()["detail"] == "The access token is bound to a key and cannot be used as a bearer token"


async def test_a_certificate_bound_token_with_the_dpop_scheme_needs_both_bindings(issuer: LocalIssuer) -> None:
    key = DPoPKey()
    name, value = proxy_header(CERT, "rfc9440")
    only_cert = issuer.mtls_token(CERT.thumbprint)
    both = issuer.token(cnf={"jkt": key.thumbprint, "x5t#S256": CERT.thumbprint})
    app = _app(issuer, dpop="allowed", mtls_header_format="rfc9440", mtls_trusted_proxies=["127.0.0.1"])

    def dpop(token: str, **extra: str) -> dict[str, str]:
        return {
            "Authorization": f"DPoP {token}",
            "DPoP": key.proof("GET", "http://testserver/api/x", access_token=token),
            **extra,
        }

    async with asgi_client(app) as client:
        cert_only_as_dpop = await client.get("/api/x", headers=dpop(only_cert, **{name: value}))
        both_with_cert = await client.get("/api/x", headers=dpop(both, **{name: value}))
        both_without_cert = await client.get("/api/x", headers=dpop(both))
        both_as_bearer = await client.get("/api/x", headers={"Authorization": f"Bearer {both}", name: value})
    assert cert_only_as_dpop.status_code == 401
    assert cert_only_as_dpop.json()["detail"] == "The access token is not bound to the DPoP proof key"
    assert both_with_cert.status_code == 200
    assert both_without_cert.status_code == 401
    assert both_without_cert.json()["detail"] == "The access token is not bound to the client certificate"
    assert both_as_bearer.status_code == 401  # the DPoP half cannot be proved as a bearer token


def test_the_metadata_says_certificate_bound_tokens_are_supported() -> None:
    issuer = LocalIssuer(private_key=_rsa_private(0), audience="https://api.example.com/")
    settings = {
        "resource_url": "https://api.example.com/",
        "mtls_header_format": "envoy",
        "mtls_trusted_proxies": ["10.0.0.1"],
    }
    app = _app(issuer, **settings)
    plain = _app(issuer, resource_url="https://api.example.com/")
    assert app.resource is not None
    assert plain.resource is not None
    assert b'"tls_client_certificate_bound_access_tokens":true' in app.resource.document
    assert b"tls_client_certificate" not in plain.resource.document


def test_required_without_a_certificate_source_warns_at_start_up_and_advertises_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    issuer = LocalIssuer(private_key=_rsa_private(0), audience="https://api.example.com/")
    with caplog.at_level(logging.WARNING, logger="auth0_asgi"):
        app = _app(issuer, resource_url="https://api.example.com/", mtls="required")
        _app(issuer, resource_url="https://api.example.com/", mtls="required", mtls_header_format="rfc9440",
             mtls_trusted_proxies=["10.0.0.1"])  # fmt: skip
    assert [record.getMessage() for record in caplog.records] == [NO_SOURCE]
    assert app.resource is not None
    # Nothing could accept a bound token here: the metadata must not say that something will.
    assert b"tls_client_certificate" not in app.resource.document


NO_SOURCE: Final = (
    "AUTH0_MTLS=required but AUTH0_MTLS_HEADER_FORMAT is not set: a client certificate can then only "
    "come from the server's ASGI tls extension, which uvicorn and Hypercorn do not offer, so every token "
    "would be refused: set the header your TLS-terminating proxy writes (docs/mtls.md)"
)
NO_SOURCE_SEEN: Final = (
    "a certificate-bound token arrived, but no client certificate can reach the app: the server offers no ASGI "
    "tls extension and AUTH0_MTLS_HEADER_FORMAT is not set: set the header your TLS-terminating proxy writes "
    "(docs/mtls.md)"
)


async def test_a_bound_token_with_no_certificate_source_is_refused_and_warned_about_once(
    issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    token = issuer.mtls_token(CERT.thumbprint)
    with caplog.at_level(logging.WARNING, logger="auth0_asgi"):
        async with asgi_client(_app(issuer)) as client:
            answers = [await client.get("/api/x", headers={"Authorization": f"Bearer {token}"}) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [401, 401, 401]
    assert answers[0].headers.get_list("www-authenticate") == [UNBOUND]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [NO_SOURCE_SEEN]
