"""The demo as a user runs it: `uvicorn demo_app:app` in its own process, configured by the environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import AUDIENCE, DOMAIN, JWKSServer, TokenMaker

REPO = Path(__file__).resolve().parent.parent


def _environment(**variables: str) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("AUTH0_")}
    return {**inherited, "PYTHONPATH": str(REPO), **variables}


def _import_demo(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import demo_app"],
        cwd=tmp_path,  # no .env here
        env=_environment(**variables),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_demo_without_a_domain_stops_with_a_clear_message(tmp_path: Path) -> None:
    result = _import_demo(tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("demo_app: configuration error: AUTH0_DOMAIN is not set")
    assert "Traceback" not in result.stderr


def test_demo_without_an_audience_names_it(tmp_path: Path) -> None:
    result = _import_demo(tmp_path, AUTH0_DOMAIN="dev-x.us.auth0.com")
    assert result.returncode == 1
    assert "AUTH0_API_AUDIENCE is not set" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def demo_url(jwks_server: JWKSServer, tmp_path: Path) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    variables = {"AUTH0_DOMAIN": DOMAIN, "AUTH0_API_AUDIENCE": AUDIENCE, "AUTH0_JWKS_URL": jwks_server.url}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "demo_app:app", "--fd", str(sock.fileno()), "--log-level", "warning"],
        cwd=tmp_path,
        env=_environment(**variables),
        pass_fds=(sock.fileno(),),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/api/public", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the demo did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        sock.close()


def test_the_tutorial_curl_flow_against_the_demo(demo_url: str, make_token: TokenMaker) -> None:
    with httpx.Client(base_url=demo_url) as client:
        public = client.get("/api/public")
        anonymous = client.get("/api/private")
        token = make_token()
        private = client.get("/api/private", headers={"Authorization": f"Bearer {token}"})
    assert public.status_code == 200
    assert public.json() == {"message": "Hello, World!"}
    assert anonymous.status_code == 401
    assert anonymous.json() == {"detail": "Not authenticated"}
    assert anonymous.headers["www-authenticate"] == f'Bearer realm="{AUDIENCE}"'
    assert private.status_code == 200
    body = private.json()
    assert body["message"] == "Access granted"
    assert body["data"]["sub"] == "client-42@clients"
    assert body["data"]["aud"] == AUDIENCE
