"""docs/frameworks.md: each framework's example, and the quickstart's own app on each server,
served by the real server in its own process against a served offline issuer."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import httpx
import pytest
from websockets.asyncio.client import connect

from auth0_asgi.testing import LocalIssuer, serve_issuer

from ._docs import block
from .conftest import _rsa_private, loopback_socket, serve_process

PAGE: Final = "docs/frameworks.md"
PYTHON: Final = sys.executable
#: Who the offline issuer's tokens are about.
CALLER: Final = "local-client@clients"


def _granian() -> str:
    found = shutil.which("granian", path=os.path.dirname(PYTHON))
    if found is None:
        pytest.skip("granian is not installed (the test extra installs it)")
    return found


#: How each server runs `app:app` on a port.
SERVERS: Final = {
    "uvicorn": lambda port: [PYTHON, "-m", "uvicorn", "app:app", "--port", str(port), "--log-level", "warning"],
    "hypercorn": lambda port: [PYTHON, "-m", "hypercorn", "app:app", "--bind", f"127.0.0.1:{port}"],
    "hypercorn-trio": lambda port: [
        PYTHON, "-m", "hypercorn", "--worker-class", "trio", "app:app", "--bind", f"127.0.0.1:{port}",
    ],
    "granian": lambda port: [_granian(), "--interface", "asgi", "--port", str(port), "app:app"],
    "daphne": lambda port: [PYTHON, "-m", "daphne", "-p", str(port), "app:app"],
}  # fmt: skip


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    issuer = LocalIssuer(private_key=_rsa_private(0))
    with serve_issuer(issuer):
        yield issuer


@contextlib.contextmanager
def _serving(source: str, server: str, issuer: LocalIssuer, folder: Path) -> Iterator[str]:
    """`source` as app.py in `folder`, run by `server` with the issuer's AUTH0_* variables."""
    (folder / "app.py").write_text(source)
    sock, port = loopback_socket()
    sock.close()
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("AUTH0_")}
    environment = {**inherited, **issuer.environ(), "PYTHONPATH": str(folder)}
    with serve_process(SERVERS[server](port), port, cwd=folder, env=environment):
        yield f"http://127.0.0.1:{port}"


def _assert_protected(base_url: str, issuer: LocalIssuer, client: httpx.Client | None = None) -> httpx.Response:
    """GET /api/me: 401 and the bare challenge without a token, 200 with one; the 200."""
    http = client or httpx.Client(timeout=10)
    with http:
        refused = http.get(f"{base_url}/api/me")
        accepted = http.get(f"{base_url}/api/me", headers={"Authorization": f"Bearer {issuer.token(scope='a b')}"})
    assert (refused.status_code, refused.json()) == (401, {"detail": "Not authenticated"})
    assert refused.headers.get_list("www-authenticate") == [
        f'Bearer realm="{issuer.audience}"',
        f'DPoP realm="{issuer.audience}", algs="ES256"',
    ]
    assert accepted.status_code == 200, accepted.text
    return accepted


@pytest.mark.parametrize(
    ("marker", "server", "expected"),
    [
        pytest.param("# litestar_app.py", "uvicorn", {"caller": CALLER, "scopes": "a b"}, id="litestar"),
        pytest.param("# quart_app.py", "hypercorn", {"caller": CALLER}, id="quart"),
        pytest.param("# django_app.py", "uvicorn", {"caller": CALLER}, id="django"),
    ],
)
def test_each_framework_s_example_finds_the_caller(
    marker: str, server: str, expected: dict[str, str], issuer: LocalIssuer, tmp_path: Path
) -> None:
    with _serving(block(PAGE, marker), server, issuer, tmp_path) as base_url:
        accepted = _assert_protected(base_url, issuer)
    assert accepted.json() == expected


@pytest.mark.parametrize("server", ["hypercorn", "hypercorn-trio", "granian", "daphne"])
def test_the_quickstart_s_own_app_runs_on_each_server(server: str, issuer: LocalIssuer, tmp_path: Path) -> None:
    with _serving(block("docs/quickstart.md", "# myapi.py"), server, issuer, tmp_path) as base_url:
        accepted = _assert_protected(base_url, issuer)
    assert accepted.json() == {"caller": CALLER}


@pytest.mark.parametrize("server", ["hypercorn", "hypercorn-trio"])
def test_hypercorn_protects_over_http_2(server: str, issuer: LocalIssuer, tmp_path: Path) -> None:
    # h2c with prior knowledge: the request reaches the app as HTTP/2, headers lower-cased by h2.
    with _serving(block("docs/quickstart.md", "# myapi.py"), server, issuer, tmp_path) as base_url:
        accepted = _assert_protected(base_url, issuer, httpx.Client(http1=False, http2=True, timeout=10))
    assert accepted.http_version == "HTTP/2"


WEBSOCKET_APP: Final = """
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from auth0_asgi import Auth0Middleware


async def echo(websocket):
    await websocket.accept()
    await websocket.send_text(websocket.user.identity)
    await websocket.close()


app = Auth0Middleware(Starlette(routes=[WebSocketRoute("/ws/me", echo)]), protected_prefixes=["/ws"])
"""


def _handshake_status(base_url: str, path: str) -> int:
    """The status daphne answers a websocket handshake for `path` with (101: accepted), read off
    the socket: what a browser sees, whatever a client library makes of a refusal."""
    host, port = base_url.removeprefix("http://").split(":")
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request.encode())
        status_line = connection.makefile("rb").readline().decode("latin-1")
    return int(status_line.split()[1])


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # the websockets client runs on asyncio
async def test_daphne_answers_a_refused_websocket_with_403(issuer: LocalIssuer, tmp_path: Path) -> None:
    with _serving(WEBSOCKET_APP, "daphne", issuer, tmp_path) as base_url:
        refused = _handshake_status(base_url, "/ws/me")
        url = base_url.replace("http://", "ws://") + "/ws/me"
        async with connect(url, additional_headers={"Authorization": f"Bearer {issuer.token()}"}) as websocket:
            caller = await websocket.recv()
    assert refused == 403
    assert caller == CALLER
