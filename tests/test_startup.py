"""A user's own app, misconfigured: it stops at start-up with one line naming the variable.

Starlette builds `app.add_middleware(Auth0Middleware, ...)` lazily, inside its first call, where
a server's default ``--lifespan auto`` takes an exception for "lifespan unsupported" and starts
anyway, then answers every request 500. So the middleware fails the lifespan's start-up with the
error's line instead; each real server, with its default flags, exits on that. Without a
lifespan (a test client), every request gets a 500 that says nothing, and the line is logged once.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Final

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from auth0_asgi import Auth0Middleware, ConfigurationError
from auth0_asgi.middleware import MISCONFIGURED_BODY
from auth0_asgi.testing import LocalIssuer, serve_issuer

from .conftest import _rsa_private, loopback_socket, wait_for_port

OWN_APP: Final = """
from fastapi import FastAPI

from auth0_asgi import Auth0Middleware

app = FastAPI()


@app.get("/api/public")
async def public() -> dict[str, str]:
    return {"message": "public"}


app.add_middleware(Auth0Middleware, protected_prefixes=["/api/private"])
"""
LINE: Final = "Auth0Middleware: AUTH0_DOMAIN is not set: give your tenant domain, such as 'dev-x.us.auth0.com'"


def _servers(port: int) -> dict[str, list[str]]:
    python = sys.executable
    granian = shutil.which("granian", path=os.path.dirname(python)) or "granian"
    return {
        "uvicorn": [python, "-m", "uvicorn", "app:app", "--port", str(port)],
        "hypercorn": [python, "-m", "hypercorn", "app:app", "--bind", f"127.0.0.1:{port}"],
        "granian": [granian, "--interface", "asgi", "--port", str(port), "app:app"],
    }


#: The AUTH0_* variables of a misconfigured app, and the one line it stops with.
MISCONFIGURED: Final = [
    pytest.param({}, LINE, id="no-domain"),
    pytest.param(
        # What a compose file or a Dockerfile's ENV keeps: the quotes, which no issuer ever matches.
        {"AUTH0_DOMAIN": '"dev-x.us.auth0.com"', "AUTH0_API_AUDIENCE": "https://api.example.com"},
        "Auth0Middleware: AUTH0_DOMAIN='\"dev-x.us.auth0.com\"': holds quotes, which your shell or compose file "
        "kept: remove them",
        id="quoted-domain",
    ),
]


@pytest.mark.parametrize(("variables", "line"), MISCONFIGURED)
@pytest.mark.parametrize("server", ["uvicorn", "hypercorn", "granian"])
def test_a_misconfigured_own_app_exits_at_start_up_naming_the_variable(
    server: str, variables: dict[str, str], line: str, tmp_path: Path
) -> None:
    if server == "granian" and shutil.which("granian", path=os.path.dirname(sys.executable)) is None:
        pytest.skip("granian is not installed (the test extra installs it)")
    (tmp_path / "app.py").write_text(OWN_APP)
    sock, port = loopback_socket()
    sock.close()
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AUTH0_")}
    environment["PYTHONPATH"] = os.pathsep.join([str(tmp_path), environment.get("PYTHONPATH", "")])
    environment.update(variables)
    finished = subprocess.run(
        _servers(port)[server], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60, check=False
    )
    output = finished.stdout + finished.stderr
    assert line in output, output
    # It stopped by itself (the timeout above would have raised): the server never served.
    if server != "hypercorn":  # Hypercorn exits 0 after a failed start-up: its own choice
        assert finished.returncode != 0, output


async def _public(request: object) -> PlainTextResponse:
    return PlainTextResponse("public")


class _OwnBuild(Starlette):
    """An app that overrides how its middleware stack is built, calling Starlette's own."""

    def build_middleware_stack(self) -> ASGIApp:
        return super().build_middleware_stack()


@pytest.mark.anyio
@pytest.mark.parametrize(
    "make",
    [FastAPI, lambda: Starlette(routes=[Route("/api/public", _public)]), lambda: _OwnBuild()],
    ids=["fastapi", "starlette", "an-overridden-build"],
)
async def test_without_a_lifespan_every_request_is_a_silent_500_and_the_line_is_logged_once(
    make: object, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name in [name for name in os.environ if name.startswith("AUTH0_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(Path(__file__).parent)  # no .env here
    app = make()  # type: ignore[operator]
    app.add_middleware(Auth0Middleware, protected_prefixes=["/api/private"])
    transport = httpx.ASGITransport(app=app)  # runs no lifespan
    with caplog.at_level(logging.ERROR, logger="auth0_asgi"):
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            answers = [await client.get(path) for path in ("/api/public", "/api/private", "/api/public")]
    assert [(answer.status_code, answer.json()) for answer in answers] == [(500, MISCONFIGURED_BODY)] * 3
    assert [record.getMessage() for record in caplog.records] == [
        f"{LINE} (every request is answered 500 until this is fixed)"
    ]


def test_built_directly_the_middleware_still_raises_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("AUTH0_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(Path(__file__).parent)
    with pytest.raises(ConfigurationError, match=r"^AUTH0_DOMAIN is not set"):
        Auth0Middleware(FastAPI(), protected_prefixes=["/api/private"])


def test_a_server_misconfiguration_is_visible_under_the_server_s_default_logging(tmp_path: Path) -> None:
    # Issue 31: an own app printed only '"GET /api/private HTTP/1.1" 401' while every token was
    # refused for an issuer that differs by its trailing slash: the likely cause was INFO, which
    # no default logging shows. A cause that means the server is misconfigured is a WARNING, and
    # Python prints a WARNING of a logger nobody configured (uvicorn configures only its own).
    issuer = LocalIssuer(private_key=_rsa_private(0))
    (tmp_path / "app.py").write_text(OWN_APP)
    sock, port = loopback_socket()
    sock.close()
    with serve_issuer(issuer):
        inherited = {name: value for name, value in os.environ.items() if not name.startswith("AUTH0_")}
        environment = {**inherited, **issuer.environ(), "PYTHONPATH": str(tmp_path)}
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app:app", "--port", str(port)],
            cwd=tmp_path,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for_port(port, lambda: server.poll() is None, "uvicorn")
            token = issuer.token(iss=issuer.issuer.rstrip("/"))  # what a tenant would never sign: no slash
            refused = httpx.get(f"http://127.0.0.1:{port}/api/private", headers={"Authorization": f"Bearer {token}"})
        finally:
            server.terminate()
            _, errors = server.communicate(timeout=20)
    assert refused.status_code == 401
    causes = [line for line in errors.splitlines() if line.startswith("likely cause (issuer_spelling)")]
    assert causes == [
        f"likely cause (issuer_spelling): AUTH0_DOMAIN/AUTH0_ISSUER is {issuer.issuer!r} but the token says "
        f"{issuer.issuer.rstrip('/')!r}: Auth0's issuer is exactly https://{{domain}}/ (with the slash)"
    ]
