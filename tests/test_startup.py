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

from .conftest import loopback_socket

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


@pytest.mark.parametrize("server", ["uvicorn", "hypercorn", "granian"])
def test_a_misconfigured_own_app_exits_at_start_up_naming_the_variable(server: str, tmp_path: Path) -> None:
    if server == "granian" and shutil.which("granian", path=os.path.dirname(sys.executable)) is None:
        pytest.skip("granian is not installed (the test extra installs it)")
    (tmp_path / "app.py").write_text(OWN_APP)
    sock, port = loopback_socket()
    sock.close()
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AUTH0_")}
    environment["PYTHONPATH"] = os.pathsep.join([str(tmp_path), environment.get("PYTHONPATH", "")])
    finished = subprocess.run(
        _servers(port)[server], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60, check=False
    )
    output = finished.stdout + finished.stderr
    assert LINE in output, output
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
