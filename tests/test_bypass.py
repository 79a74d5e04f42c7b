"""Path bypass through real uvicorn: raw request lines, generated spellings, every method.

What matters is what the *router* does with a path, not what our normal form makes of it:
Starlette routes ``/api/private/..`` literally, to ``/api/private/{item_id}``. So the app here
has every kind of route under the protected prefix (exact, ``{param}``, ``{param}/detail``,
``{rest:path}``, a mounted sub-app), each recording the Authorization header it was reached
with, and an unprotected catch-all beside them.

Invariant: no handler under the protected prefix is ever reached without a valid token. A
target that spells the prefix itself (any case, slashes, encodings, dot tails) gets the exact
401 challenge; any other target may reach only the unprotected catch-all.
"""

from __future__ import annotations

import itertools
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from .conftest import (
    AUDIENCE,
    JWKSServer,
    SigningPair,
    _rsa_private,
    make_settings,
    protect,
    running_jwks_server,
    serve_with_uvicorn,
    sign_compact,
    standard_claims,
)

METHODS: Final = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND", "FOO"]
NO_CREDENTIALS: Final = (
    401,
    f'Bearer realm="{AUDIENCE}", DPoP realm="{AUDIENCE}", algs="ES256"',
    {"detail": "Not authenticated"},
)

# Spellings of the protected prefix /api/private; `{m}` is where a mount prefix goes.
PREFIX_SPELLINGS: Final = [
    "{m}/api/private",
    "{m}/API/Private",
    "{m}/api//private",
    "{m}//api/private",
    "{m}/api%2Fprivate",
    "{m}/api/%70rivate",
    "{m}/api;v=1/private",
    "{m}/api\\private",
]
# Every spelling of a dot segment: RFC 3986 §2.3 makes %2E an encoding of ".".
DOTS: Final = ["..", ".", "%2e%2e", "%2E%2E", "%2e.", ".%2e", "%2E.", ".%2E", "%2e", "%2E", "..;x", ".;x", "%2e%2e;x"]
# Where a dot segment can go after the prefix.
TAILS: Final = ["/{d}", "/{d}/", "//{d}", "/x/{d}", "/x/{d}/{d}", "/{d}/x", "/{d}/{d}/{d}", "/{d}?q=1"]


def _generated_prefix_targets() -> list[str]:
    targets = [p + t.replace("{d}", d) for p, t, d in itertools.product(PREFIX_SPELLINGS, TAILS, DOTS)]
    targets += [p + "/{d}".replace("{d}", d) for p, d in itertools.product(["http://127.0.0.1{m}/api/private"], DOTS)]
    return targets


# Dot segments in front of the prefix: some readings lie within it, some do not.
AROUND: Final = [
    "{m}/api/x/{d}/private",
    "{m}/{d}/api/private",
    "{m}/api/{d}/api/private",
    "{m}/api/private/{d}/{d}/api/private",
    "{m}/x/{d}/api/private/y",
    "{m}/api/{d}/private",
    "{m}/api/public/{d}/{d}/api/private",
]
PREFIX_TARGETS: Final = _generated_prefix_targets()
AROUND_TARGETS: Final = [t.replace("{d}", d) for t, d in itertools.product(AROUND, DOTS)]


@dataclass
class Server:
    base_url: str
    mount: str
    reached: list[tuple[str, str]]
    token: str


def _app(server: JWKSServer, mount: str, reached: list[tuple[str, str]]) -> Any:
    def handler(name: str) -> Any:
        async def endpoint(request: Request) -> Response:
            reached.append((name, request.headers.get("authorization", "")))
            return JSONResponse({"handler": name, "identity": request.user.identity})

        return endpoint

    async def elsewhere(request: Request) -> Response:
        return JSONResponse({"handler": "unprotected"}, status_code=404)

    sub_app = Starlette(
        routes=[Route("/", handler("sub-root"), methods=METHODS), Route("/{x}", handler("sub-param"), methods=METHODS)]
    )
    inner: list[BaseRoute] = [
        Route("/api/private", handler("exact"), methods=METHODS),
        Mount("/api/private/sub", app=sub_app),
        Route("/api/private/files/{rest:path}", handler("rest-path"), methods=METHODS),
        Route("/api/private/{item_id}", handler("param"), methods=METHODS),
        Route("/api/private/{item_id}/detail", handler("param-detail"), methods=METHODS),
        Route("/api/private/{rest:path}", handler("catch-all-under-prefix"), methods=METHODS),
    ]
    routes: list[BaseRoute] = [*inner, Route("/{rest:path}", elsewhere, methods=METHODS)]
    if mount:
        routes = [Mount(mount, routes=routes), Route("/{rest:path}", elsewhere, methods=METHODS)]
    return protect(
        server, Starlette(routes=routes), settings=make_settings(server), protected_prefixes=[f"{mount}/api/private"]
    )


@pytest.fixture(
    scope="module",
    params=[("", ""), ("/v1", ""), ("", "/base")],
    ids=["plain", "mounted-at-v1", "root-path-base"],
)
def served(request: pytest.FixtureRequest) -> Iterator[Server]:
    mount, root_path = request.param
    key = SigningPair("rsa-1", _rsa_private(0), "RS256")
    token = sign_compact({"alg": "RS256", "kid": "rsa-1"}, standard_claims(), key)
    reached: list[tuple[str, str]] = []
    with running_jwks_server() as server:
        server.publish(key)
        app = _app(server, mount, reached)
        with serve_with_uvicorn(app, root_path=root_path) as base_url:
            yield Server(base_url, mount, reached, token)


def _raw(base_url: str, method: str, target: str, *headers: str) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(base_url)
    head = "".join(f"{header}\r\n" for header in (*headers, f"Host: {parts.netloc}", "Connection: close"))
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(f"{method} {target} HTTP/1.1\r\n{head}\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head_bytes, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head_bytes.decode("latin-1").split("\r\n")
    joined: dict[str, str] = {}
    for name, value in (line.split(":", 1) for line in lines):  # repeated fields joined (RFC 9110 §5.3)
        joined[name.lower()] = ", ".join(filter(None, (joined.get(name.lower()), value.strip())))
    return int(status_line.split()[1]), joined, body


def _assert_no_credentials_refusal(status: int, headers: dict[str, str], body: bytes, method: str) -> None:
    assert (status, headers.get("www-authenticate")) == NO_CREDENTIALS[:2]
    if method != "HEAD":
        assert json.loads(body) == NO_CREDENTIALS[2]


@pytest.mark.parametrize("target", PREFIX_TARGETS)
def test_every_spelling_of_the_prefix_with_dot_segments_is_refused(served: Server, target: str) -> None:
    served.reached.clear()
    status, headers, body = _raw(served.base_url, "GET", target.format(m=served.mount))
    _assert_no_credentials_refusal(status, headers, body, "GET")
    assert served.reached == []


@pytest.mark.parametrize("target", AROUND_TARGETS)
def test_dot_segments_around_the_prefix_never_reach_a_protected_handler(served: Server, target: str) -> None:
    served.reached.clear()
    status, headers, body = _raw(served.base_url, "GET", target.format(m=served.mount))
    assert served.reached == []
    if status != 401:  # no reading lies within the prefix: only the unprotected route answers
        assert (status, json.loads(body)) == (404, {"handler": "unprotected"})
    else:
        _assert_no_credentials_refusal(status, headers, body, "GET")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "target",
    [
        "{m}/api/private",
        "{m}/api/private/..",
        "{m}/api/private/%2E%2E",
        "{m}/api/private/sub/..",
        "{m}/api/private/x/.",
    ],
)
def test_every_method_is_refused_without_a_token(served: Server, target: str, method: str) -> None:
    served.reached.clear()
    status, headers, body = _raw(served.base_url, method, target.format(m=served.mount))
    _assert_no_credentials_refusal(status, headers, body, method)
    assert served.reached == []


@pytest.mark.parametrize("target", PREFIX_TARGETS[:: len(DOTS) - 1] + AROUND_TARGETS[::5])
def test_with_a_token_the_handlers_see_only_authenticated_requests(served: Server, target: str) -> None:
    served.reached.clear()
    authorization = f"Authorization: Bearer {served.token}"
    status, _, body = _raw(served.base_url, "GET", target.format(m=served.mount), authorization)
    if served.reached:  # routed to a protected handler, which saw the token
        assert status == 200
        assert all(value == f"Bearer {served.token}" for _, value in served.reached)
    else:  # the unprotected route, or no route at all ("/api/private/."): not found, never refused
        assert status == 404
        assert body in (b'{"handler":"unprotected"}', b"Not Found")


@pytest.mark.parametrize(
    ("target", "handler"),
    [
        ("{m}/api/private", "exact"),
        ("{m}/api/private/..", "param"),
        ("{m}/api/private/%2e%2e", "param"),
        ("{m}/api/private/7/detail", "param-detail"),
        ("{m}/api/private/files/a/../b", "rest-path"),
        ("{m}/api/private/sub/", "sub-root"),
        ("{m}/api/private/sub/..", "sub-param"),
    ],
)
def test_a_valid_token_reaches_the_handler_the_router_picks(served: Server, target: str, handler: str) -> None:
    # The routes the original bypass reached (`..` as a path parameter) work with a token.
    served.reached.clear()
    authorization = f"Authorization: Bearer {served.token}"
    status, _, body = _raw(served.base_url, "GET", target.format(m=served.mount), authorization)
    assert (status, json.loads(body)) == (200, {"handler": handler, "identity": "client-42@clients"})
    assert served.reached == [(handler, f"Bearer {served.token}")]
