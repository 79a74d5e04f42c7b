"""The one peer-trust rule (`auth0_asgi._binding.proxies`), against the servers that rewrite peers.

A peer is a trusted proxy only when it parses as an address inside a configured network and no
forwarding header could have given it to the server. Each spelling below once made a client the
trusted proxy, so that a forged certificate header bound a stolen token (the review of issue 29):
here every one goes through real uvicorn (h11 and httptools) and Hypercorn's ProxyFixMiddleware
in each of their modes, with a certificate-bound token and a forged certificate header.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterator
from typing import Any, Final, Literal

import httpx
import pytest
from hypercorn.middleware import ProxyFixMiddleware
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth0_asgi import Auth0Middleware
from auth0_asgi._binding.proxies import (
    MAX_FORWARDED_ITEMS,
    PROXY_HEADERS,
    TrustedProxies,
    is_direct_loopback,
    rewritten,
)
from auth0_asgi._headers import gather
from auth0_asgi.testing import LocalIssuer, client_certificate, proxy_header, serve_issuer

from .conftest import _rsa_private, serve_with_hypercorn, serve_with_uvicorn

CERT: Final = client_certificate("alice")
UNBOUND: Final = (
    'Bearer realm="https://api.auth0-asgi.test", error="invalid_token", '
    'error_description="The access token is not bound to the client certificate"'
)
UNBOUND_BODY: Final = {"detail": "The access token is not bound to the client certificate", "error": "invalid_token"}

# Each server mode, and which forwarding headers it takes the peer from (where none of them is
# used, the TCP peer 127.0.0.1 stays, and only our rule stands between a client and the proxy's trust).
MODES: Final = {
    "uvicorn-no-proxy-headers": (),
    "uvicorn-default": ("x-forwarded-for",),  # trusts 127.0.0.1, the test client
    "uvicorn-allow-all": ("x-forwarded-for",),  # --forwarded-allow-ips='*'
    "uvicorn-httptools-allow-all": ("x-forwarded-for",),
    "hypercorn-proxyfix-legacy": ("x-forwarded-for",),
    "hypercorn-proxyfix-modern": ("forwarded", "x-forwarded-for"),  # X-Forwarded-For when no Forwarded
}

# (header, value): hostile spellings, refused in every mode. Each names the proxy in a way a
# server parses, or cannot be parsed at all (fail closed), or is more than any real chain.
HOSTILE: Final = [
    pytest.param("X-Forwarded-For", "127.0.0.1", id="xff-the-peer"),
    pytest.param("X-Forwarded-For", "127.0.0.1:1", id="xff-with-port"),
    pytest.param("X-Forwarded-For", "127.0.0.1\xa0", id="xff-nbsp"),
    pytest.param("X-Forwarded-For", "\x85127.0.0.1", id="xff-next-line"),
    pytest.param("X-Forwarded-For", "[127.0.0.1]:80", id="xff-bracketed-with-port"),
    pytest.param("X-Forwarded-For", "[::ffff:127.0.0.1]:80", id="xff-ipv4-mapped"),
    pytest.param("X-Forwarded-For", "::ffff:7f00:1", id="xff-ipv4-mapped-hex"),
    pytest.param("X-Forwarded-For", "127.0.0.1%lo", id="xff-zone-id"),
    pytest.param("X-Forwarded-For", "203.0.113.9, 127.0.0.1:8080", id="xff-second-item"),
    pytest.param("X-Forwarded-For", "0x7f.1", id="xff-hex-address"),
    pytest.param("X-Forwarded-For", "127.1", id="xff-short-address"),
    pytest.param("X-Forwarded-For", "127.0.0.\xb9", id="xff-superscript-digit"),
    pytest.param("X-Forwarded-For", "1" * 300, id="xff-overlong"),
    pytest.param("X-Forwarded-For", "unknown", id="xff-not-an-address"),
    pytest.param("X-Forwarded-For", "", id="xff-empty"),
    pytest.param("X-Forwarded-For", ", ".join(["203.0.113.9"] * (MAX_FORWARDED_ITEMS + 1)), id="xff-many-items"),
    pytest.param("Forwarded", "for=127.0.0.1", id="forwarded-the-peer"),
    pytest.param("Forwarded", 'for="[127.0.0.1]:1";proto=https', id="forwarded-quoted-with-port"),
    pytest.param("Forwarded", "For=127.0.0.1:1", id="forwarded-name-case"),
    pytest.param("Forwarded", "for=unknown", id="forwarded-unknown"),
    pytest.param("Forwarded", "for=_hidden", id="forwarded-obfuscated"),
    pytest.param("X-Real-IP", "127.0.0.1", id="x-real-ip-the-peer"),
]
# (header, value): what a real proxy writes for its client: trusted, unless the server took the
# peer from that very header (then the peer is the client, no proxy).
WELL_FORMED: Final = [
    pytest.param("X-Forwarded-For", "203.0.113.9", id="xff-client"),
    pytest.param("X-Forwarded-For", "203.0.113.9:443", id="xff-client-with-port"),
    pytest.param("X-Forwarded-For", "[2001:db8::1]:443, 198.51.100.7", id="xff-two-clients"),
    pytest.param("Forwarded", 'for="[2001:db8::1]:443";proto=https', id="forwarded-client"),
]


def _hypercorn(mode: Literal["legacy", "modern"], app: Any) -> contextlib.AbstractContextManager[str]:
    fixed: Any = ProxyFixMiddleware(app, mode=mode, trusted_hops=1)
    return serve_with_hypercorn(fixed)


def _server(mode: str, app: Any) -> contextlib.AbstractContextManager[str]:
    servers: dict[str, Any] = {
        "uvicorn-no-proxy-headers": lambda: serve_with_uvicorn(app, proxy_headers=False, http="h11"),
        "uvicorn-default": lambda: serve_with_uvicorn(app, http="h11"),
        "uvicorn-allow-all": lambda: serve_with_uvicorn(app, forwarded_allow_ips="*", http="h11"),
        "uvicorn-httptools-allow-all": lambda: serve_with_uvicorn(app, forwarded_allow_ips="*", http="httptools"),
        "hypercorn-proxyfix-legacy": lambda: _hypercorn("legacy", app),
        "hypercorn-proxyfix-modern": lambda: _hypercorn("modern", app),
    }
    return servers[mode]()  # type: ignore[no-any-return]


async def _who(request: Request) -> JSONResponse:
    client = request.client
    return JSONResponse({"sub": request.user.identity, "peer": client.host if client else None})


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    issuer = LocalIssuer(private_key=_rsa_private(0))
    with serve_issuer(issuer):
        yield issuer


@pytest.fixture(scope="module", params=sorted(MODES))
def served(request: pytest.FixtureRequest, issuer: LocalIssuer) -> Iterator[tuple[str, str]]:
    """(mode, URL) of an app that reads Client-Cert from 127.0.0.1 only, under each server mode."""
    mode: str = request.param
    settings = issuer.settings(dpop="disabled", mtls_header_format="rfc9440", mtls_trusted_proxies=["127.0.0.1", "::1"])
    app = Auth0Middleware(Starlette(routes=[Route("/api/{rest:path}", _who)]), settings=settings)
    with _server(mode, app) as url:
        yield mode, url


def _forged(url: str, issuer: LocalIssuer, header: str, value: str) -> httpx.Response:
    """A client holding a stolen bound token and the (public) certificate, but not its key."""
    name, certificate = proxy_header(CERT, "rfc9440")
    token = issuer.mtls_token(CERT.thumbprint)
    headers = [("Authorization", f"Bearer {token}"), (name, certificate), (header, value)]
    return httpx.get(f"{url}/api/x", headers=[(n.encode(), v.encode("latin-1")) for n, v in headers])


@pytest.mark.parametrize(("header", "value"), HOSTILE)
def test_a_client_naming_the_proxy_is_never_the_proxy(
    served: tuple[str, str], issuer: LocalIssuer, header: str, value: str
) -> None:
    _, url = served
    response = _forged(url, issuer, header, value)
    assert response.status_code == 401, response.text
    assert response.json() == UNBOUND_BODY
    assert response.headers.get_list("www-authenticate") == [UNBOUND]


@pytest.mark.parametrize(("header", "value"), WELL_FORMED)
def test_a_real_proxys_forwarding_headers_keep_its_trust(
    served: tuple[str, str], issuer: LocalIssuer, header: str, value: str
) -> None:
    mode, url = served
    response = _forged(url, issuer, header, value)
    if header.lower() in MODES[mode]:
        # The server took the peer from this header: the peer is a client, and no proxy.
        assert response.status_code == 401, response.text
        assert response.headers.get_list("www-authenticate") == [UNBOUND]
    else:
        assert response.status_code == 200, response.text
        assert response.json() == {"sub": "local-client@clients", "peer": "127.0.0.1"}


# --- the rule itself, on scopes: every spelling a server may report -----------------------------


def _trusts(proxies: TrustedProxies, scope: dict[str, Any]) -> bool:
    return proxies.trusts_peer(scope, gather(scope, PROXY_HEADERS))


def _scope(peer: object, *headers: tuple[str, str]) -> dict[str, Any]:
    return {
        "client": (peer, 5000) if peer is not None else None,
        "headers": [(name.lower().encode(), value.encode("latin-1")) for name, value in headers],
    }


@pytest.mark.parametrize(
    ("peer", "trusted"),
    [
        pytest.param("10.0.0.1", True, id="an-address-inside"),
        pytest.param("10.255.0.1", False, id="an-address-outside"),
        pytest.param("::ffff:10.0.0.1", True, id="ipv4-mapped"),
        pytest.param("fd00::1", True, id="ipv6-inside"),
        pytest.param("fd00::1%eth0", True, id="ipv6-with-zone"),
        pytest.param("10.0.0.1:1", False, id="with-a-port"),
        pytest.param(" 10.0.0.1", False, id="with-whitespace"),
        pytest.param("0x0a.0.0.1", False, id="hex"),
        pytest.param("10.1", False, id="short-form"),
        pytest.param("localhost", False, id="a-name"),
        pytest.param("/run/app.sock", False, id="a-unix-socket"),
        pytest.param("1" * 10_000, False, id="overlong"),
        pytest.param(None, False, id="no-client"),
        pytest.param(167772161, False, id="not-a-string"),
    ],
)
def test_only_a_peer_that_is_an_address_inside_a_proxy_network_is_trusted(peer: object, trusted: bool) -> None:
    proxies = TrustedProxies(["10.0.0.0/16", "fd00::/64"])
    assert _trusts(proxies, _scope(peer)) is trusted
    assert _trusts(proxies, _scope(peer)) is trusted  # remembered or not, the same answer


def test_a_peer_that_is_no_address_is_never_remembered() -> None:
    proxies = TrustedProxies(["10.0.0.0/8"])
    tried = set()
    for n in range(2000):
        for peer in (f"client-{n}.example", f"10.0.{n // 256}.{n % 256}:1"):
            assert not _trusts(proxies, _scope(peer))
            tried.add(peer)
    remembered = proxies._proxies  # the one memo of peers: each rule's verdicts
    assert tried.isdisjoint(remembered)
    assert all(value is not None for value in remembered.values())
    assert len(remembered) <= remembered.max_entries


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param([("x-forwarded-for", "10.0.0.1")], True, id="the-peer"),
        pytest.param([("x-forwarded-for", "10.0.0.2")], False, id="another"),
        pytest.param([("x-forwarded-for", "10.0.0.2"), ("x-forwarded-for", "10.0.0.1:9")], True, id="second-line"),
        pytest.param([("x-forwarded-for", "[::ffff:10.0.0.1]")], True, id="mapped-in-brackets"),
        pytest.param([("x-forwarded-for", "[10.0.0.1")], True, id="unclosed-bracket"),
        pytest.param([("x-forwarded-for", "[10.0.0.2]x")], True, id="junk-after-bracket"),
        pytest.param([("x-forwarded-for", "10.0.0.2:http")], True, id="a-named-port"),
        pytest.param([("forwarded", 'for="10.0.0.1:80", for=10.0.0.2')], True, id="forwarded-first-element"),
        pytest.param([("forwarded", "proto=https;host=a.example")], False, id="forwarded-without-for"),
        pytest.param([("forwarded", "for=10.0.0.2;proto=https")], False, id="forwarded-another"),
        pytest.param([("x-real-ip", "10.0.0.1 ")], True, id="x-real-ip"),
        # The peer hidden past the item limit, in elements that carry no for=: still seen.
        pytest.param([("forwarded", "proto=https," * MAX_FORWARDED_ITEMS + "for=10.0.0.1")], True, id="past-the-limit"),
        pytest.param([("x-forwarded-for", "," * 1_000_000)], True, id="a-million-commas"),
    ],
)
def test_rewritten_compares_addresses(lines: list[tuple[str, str]], expected: bool) -> None:
    encoded = [(name.encode(), value.encode("latin-1")) for name, value in lines]
    assert rewritten(encoded, ipaddress.ip_address("10.0.0.1")) is expected


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        pytest.param("127.0.0.1", (), True, id="loopback"),
        pytest.param("::1", (), True, id="ipv6-loopback"),
        pytest.param("127.0.0.5", (), True, id="loopback-network"),
        pytest.param("10.0.0.1", (), False, id="remote"),
        pytest.param("127.0.0.1", (("X-Forwarded-For", "203.0.113.9"),), False, id="forwarded-for-someone"),
        pytest.param("127.0.0.1", (("Forwarded", "for=127.0.0.1"),), False, id="any-forwarded"),
        pytest.param("127.0.0.1", (("X-Real-IP", "127.0.0.1"),), False, id="any-x-real-ip"),
        pytest.param("127.0.0.1:1", (), False, id="not-an-address"),
    ],
)
def test_direct_loopback_means_a_loopback_peer_and_no_forwarding_header(
    peer: str, headers: tuple[tuple[str, str], ...], expected: bool
) -> None:
    assert is_direct_loopback(_scope(peer, *headers)) is expected
