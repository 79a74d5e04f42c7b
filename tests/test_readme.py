"""The README's two commands are the ones the project really uses."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
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


def test_ci_lints_before_the_tests_and_then_runs_the_lowest_versions() -> None:
    lines = (REPO / ".ci" / "run").read_text().splitlines()
    order = [
        next(i for i, line in enumerate(lines) if line.startswith(command))
        for command in (
            ".venv/bin/ruff check",
            ".venv/bin/mypy --strict",
            _commands((REPO / "README.md").read_text())[1],
            ".venv/bin/uv pip install -q --python .venv-lowest/bin/python --resolution lowest-direct",
            ".venv-lowest/bin/python -m pytest",
        )
    ]
    assert order == sorted(order)


def test_ci_stops_when_the_readme_test_command_fails() -> None:
    """`set -e` ignores a failure inside an && list: .ci/run must check the status itself."""
    lines = (REPO / ".ci" / "run").read_text().splitlines()
    start = lines.index(_commands((REPO / "README.md").read_text())[1])
    end = next(i for i in range(start, len(lines)) if lines[i].strip() == "fi")
    script = "\n".join(["set -euo pipefail", "true && false && true", *lines[start + 1 : end + 1], "echo after"])
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)  # noqa: S607
    assert result.returncode != 0
    assert "after" not in result.stdout


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
        me = client.get("/api/me", headers={"Authorization": f"Bearer {make_token()}"})
        me_anonymous = client.get("/api/me")
        messages = client.get("/api/private/messages", headers={"Authorization": f"Bearer {make_token()}"})
        no_messages = client.get("/api/private/messages", headers={"Authorization": f"Bearer {make_token(scope='x')}"})
        schema = client.get("/openapi.json").json()
    assert me.json() == {"caller": "client-42@clients"}
    assert me_anonymous.status_code == 401
    assert messages.status_code == 200
    assert no_messages.status_code == 403
    assert schema["paths"]["/api/me"]["get"]["security"] == [{"Auth0": []}]
    assert allowed.status_code == 200
    assert allowed.json()["caller"] == "client-42@clients"
    assert allowed.json()["claims"]["aud"] == AUDIENCE
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


def test_readme_testing_example_runs_with_the_installed_plugin(tmp_path: Path) -> None:
    """The README's test file, beside the README's FastAPI example as `myapp.py`, run by pytest."""
    app_block = next(block for block in _python_blocks() if "FastAPI()" in block)
    test_block = next(block for block in _python_blocks() if "from myapp import app" in block)
    (tmp_path / "myapp.py").write_text(app_block)
    (tmp_path / "test_myapp.py").write_text(test_block)
    result = subprocess.run(
        # -p no:cacheprovider: nothing written beside the user's files; -W error: no warnings either.
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", "test_myapp.py"],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith(("AUTH0_", "PYTEST_"))},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b\d+ passed", result.stdout)  # on each anyio backend installed
    assert len([line for line in test_block.splitlines() if line.strip()]) <= 12


@pytest.mark.usefixtures("tenant_env")
def test_readme_readiness_example_pre_warms_and_reports_ready(jwks_server: JWKSServer) -> None:
    with _serving_readme_example("/healthz/ready") as client:
        assert jwks_server.count == 1  # pre-warmed at startup, before any request
        ready = client.get("/healthz/ready")
    assert (ready.status_code, ready.json()) == (200, {"ready": True})


@pytest.mark.usefixtures("tenant_env")
def test_readme_readiness_example_is_not_ready_while_keys_are_missing(jwks_server: JWKSServer) -> None:
    jwks_server.status = 500
    with _serving_readme_example("/healthz/ready") as client:
        not_ready = client.get("/healthz/ready")
    assert (not_ready.status_code, not_ready.json()) == (503, {"ready": False})


def test_readme_dpop_client_runs_against_the_offline_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    block = next(block for block in _python_blocks() if "DPoPKey()" in block)
    namespace: dict[str, Any] = {"__name__": "readme_dpop_client"}  # not "__main__": call main ourselves
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    from .test_demo_app import serving_demo

    with serving_demo(tmp_path) as url:
        namespace["main"](url)
    assert capsys.readouterr().out.splitlines() == ["DPoP 200", "401", "401"]


@pytest.mark.usefixtures("tenant_env")
def test_readme_claim_rules_example_runs(make_token: TokenMaker) -> None:
    with _serving_readme_example("from auth0_asgi.rules import") as client:
        staff = client.get(
            "/api/admin/reports", headers={"Authorization": f"Bearer {make_token(scope='admin', roles=['staff'])}"}
        )
        not_staff = client.get("/api/admin/reports", headers={"Authorization": f"Bearer {make_token(scope='admin')}"})
        no_scope = client.get("/api/admin/reports", headers={"Authorization": f"Bearer {make_token(roles=['staff'])}"})
        acme = client.get("/api/billing", headers={"Authorization": f"Bearer {make_token(org_id='acme')}"})
        other = client.get("/api/billing", headers={"Authorization": f"Bearer {make_token(org_id='other')}"})
        old = client.get(
            "/api/billing",
            headers={"Authorization": f"Bearer {make_token(org_id='acme', iat=int(time.time()) - 7200)}"},
        )
    assert (staff.status_code, not_staff.status_code, no_scope.status_code) == (200, 403, 403)
    assert 'scope="admin read:admin"' in no_scope.headers["www-authenticate"]
    assert "scope=" not in not_staff.headers["www-authenticate"]
    assert (acme.status_code, other.status_code) == (200, 403)
    assert (old.status_code, old.json()["detail"]) == (401, "The access token is too old")
