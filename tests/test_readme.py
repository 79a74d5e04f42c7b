"""The README's two commands are the ones the project really uses."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import AUDIENCE, DOMAIN, JWKSServer, TokenMaker, serve_with_uvicorn

REPO = Path(__file__).resolve().parent.parent


def _commands(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("python3 -m venv .venv")]


def test_readme_has_a_demo_and_a_test_command() -> None:
    commands = _commands((REPO / "README.md").read_text())
    assert len(commands) == 2
    demo, tests = commands
    assert demo.endswith("uvicorn demo_app:app")
    assert re.search(r"\bpytest\b", tests)


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    readme_test_command = _commands((REPO / "README.md").read_text())[1]
    assert readme_test_command in _commands((REPO / ".ci" / "run").read_text())


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)


@pytest.fixture
def tenant_env(monkeypatch: pytest.MonkeyPatch, jwks_server: JWKSServer, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("AUTH0_DOMAIN", DOMAIN)
    monkeypatch.setenv("AUTH0_API_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("AUTH0_JWKS_URL", jwks_server.url)


@contextlib.contextmanager
def _serving_readme_example(marker: str) -> Iterator[httpx.Client]:
    """The README's Python block containing `marker`, executed and served by real uvicorn."""
    block = next(block for block in _python_blocks() if marker in block)
    namespace: dict[str, Any] = {}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    with serve_with_uvicorn(namespace["app"]) as base_url, httpx.Client(base_url=base_url) as client:
        yield client


@pytest.mark.usefixtures("tenant_env")
def test_readme_fastapi_example_runs(make_token: TokenMaker) -> None:
    with _serving_readme_example("FastAPI()") as client:
        allowed = client.get("/api/private", headers={"Authorization": f"Bearer {make_token()}"})
        admin = client.get("/api/admin/x", headers={"Authorization": f"Bearer {make_token()}"})
        anonymous = client.get("/api/private")
    assert allowed.status_code == 200
    assert allowed.json()["caller"] == "client-42@clients"
    assert admin.status_code == 403
    assert anonymous.status_code == 401


@pytest.mark.usefixtures("tenant_env")
def test_readme_starlette_example_runs(make_token: TokenMaker) -> None:
    with _serving_readme_example("Starlette(") as client:
        reader = client.get("/api/messages", headers={"Authorization": f"Bearer {make_token()}"})
        no_scope = client.get("/api/messages", headers={"Authorization": f"Bearer {make_token(scope='other')}"})
    assert reader.status_code == 200
    assert reader.json() == {"sub": "client-42@clients", "scopes": ["read:messages"]}
    assert no_scope.status_code == 403
