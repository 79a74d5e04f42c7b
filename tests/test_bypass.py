"""Path bypass through real uvicorn: raw request lines, every spelling, every method, mounted or not.

Invariant: a request reaches the protected handler only when it carries a valid token. Each
spelling below also gets the 401 without a token, whatever the router makes of it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from .conftest import (
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

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND", "FOO"]

# Spellings of /api/private; `{m}` is where a mount prefix goes.
SPELLINGS = [
    "{m}/api/private",
    "{m}/api/private/",
    "{m}/api/private/deeper",
    "{m}//api/private",
    "{m}/api//private",
    "{m}/api/./private",
    "{m}/./api/private",
    "{m}/api/x/../private",
    "{m}/api/private/.",
    "{m}/api/private;x=1",
    "{m}/api;v=1/private",
    "{m}/API/private",
    "{m}/api/PRIVATE",
    "{m}/Api/Private",
    "{m}/api%2Fprivate",
    "{m}/api%2fprivate",
    "{m}/api/%70rivate",
    "{m}/api/priv%61te",
    "{m}/%61pi/private",
    "{m}/api/private?x=1",
    "{m}/api/private?/api/public",
    "http://127.0.0.1{m}/api/private",
    "HTTP://127.0.0.1{m}/API/private",
    "http://127.0.0.1{m}//api/private?x",
]


@dataclass
class Server:
    base_url: str
    mount: str
    reached: list[str]
    token: str


def _app(server: JWKSServer, mount: str, reached: list[str]) -> Any:
    async def private(request: Request) -> Response:
        reached.append(request.headers.get("authorization", ""))
        return JSONResponse({"identity": request.user.identity})

    async def elsewhere(request: Request) -> Response:
        return JSONResponse({"path": request.url.path}, status_code=404)

    inner = [
        Route("/api/private", private, methods=METHODS),
        Route("/api/private/{rest:path}", private, methods=METHODS),
    ]
    routes: list[Route | Mount] = [*inner, Route("/{rest:path}", elsewhere, methods=METHODS)]
    if mount:
        routes = [Mount(mount, routes=routes), Route("/{rest:path}", elsewhere, methods=METHODS)]
    return protect(
        server, Starlette(routes=routes), settings=make_settings(server), protected_prefixes=[f"{mount}/api/private"]
    )


@pytest.fixture(scope="module", params=["", "/v1"], ids=["plain", "mounted-at-v1"])
def served(request: pytest.FixtureRequest) -> Iterator[Server]:
    key = SigningPair("rsa-1", _rsa_private(0), "RS256")
    token = sign_compact({"alg": "RS256", "kid": "rsa-1"}, standard_claims(), key)
    reached: list[str] = []
    with running_jwks_server() as server:
        server.publish(key)
        with serve_with_uvicorn(_app(server, request.param, reached)) as base_url:
            yield Server(base_url, request.param, reached, token)


def _raw_status(base_url: str, method: str, target: str, *headers: str) -> int:
    parts = urlsplit(base_url)
    head = "".join(f"{header}\r\n" for header in (*headers, f"Host: {parts.netloc}", "Connection: close"))
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(f"{method} {target} HTTP/1.1\r\n{head}\r\n".encode())
        status_line = sock.makefile("rb").readline().decode()
    return int(status_line.split()[1])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_and_method_is_refused_without_a_token(served: Server, spelling: str, method: str) -> None:
    served.reached.clear()
    status = _raw_status(served.base_url, method, spelling.format(m=served.mount))
    assert status == 401
    assert served.reached == []


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_with_a_token_the_handler_sees_only_authenticated_requests(served: Server, spelling: str) -> None:
    served.reached.clear()
    status = _raw_status(
        served.base_url, "GET", spelling.format(m=served.mount), f"Authorization: Bearer {served.token}"
    )
    assert status in (200, 404)  # routed to the handler, or to no route at all: never refused
    assert all(value == f"Bearer {served.token}" for value in served.reached)
    if spelling in ("{m}/api/private", "{m}/api/private/deeper", "{m}/api/private?x=1"):
        assert (status, len(served.reached)) == (200, 1)
