"""The offline demo's OpenAPI schema, checked by schemathesis (its CLI, as users run it).

Every check runs, bounded in examples and time, once with a valid token and once without.
Two settings, each for a reason the schema cannot express:

- A schema-valid request may get 400: OpenAPI's HTTP bearer scheme cannot say that the token
  is an RFC 6750 b64token, so schemathesis sends ``Authorization: Bearer `` (empty token),
  which RFC 6750 §3.1 answers with 400 invalid_request. The schema documents that 400.
- Without a token, undeclared methods (TRACE) are not expected to get 405: the middleware
  refuses an unauthenticated request before any router sees it, so an anonymous client learns
  nothing about the routes. With a token the check runs, and 405 comes from the router.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx

from auth0_asgi.testing import DEFAULT_AUDIENCE

from .test_demo_app import serving_demo

CONFIG = """\
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
"""


def _schemathesis(tmp_path: Path, url: str, *options: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run", f"{url}/openapi.json"]
    bounds = ["--checks", "all", "--max-examples", "40", "--request-timeout", "5", "--seed", "1"]
    return subprocess.run(
        [*command, *bounds, *options],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NO_COLOR": "1"},
    )


def _summary(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout[-3000:] + result.stderr[-2000:]


def test_schemathesis_finds_nothing_with_a_valid_token(tmp_path: Path) -> None:
    with serving_demo(tmp_path) as url:
        token = httpx.post(
            f"{url}/oauth/token",
            json={
                "grant_type": "client_credentials",
                "client_id": "c",
                "client_secret": "s",
                "audience": DEFAULT_AUDIENCE,
            },
        ).json()["access_token"]
        result = _schemathesis(tmp_path, url, "--header", f"Authorization: Bearer {token}")
    assert result.returncode == 0, _summary(result)
    assert "No issues found" in result.stdout, _summary(result)
    assert re.search(r"\b[1-9]\d* generated, [1-9]\d* passed", result.stdout), _summary(result)


def test_schemathesis_finds_nothing_without_a_token(tmp_path: Path) -> None:
    with serving_demo(tmp_path) as url:
        result = _schemathesis(tmp_path, url, "--exclude-checks", "unsupported_method")
    assert result.returncode == 0, _summary(result)
    assert "failure" not in result.stdout.lower(), _summary(result)
    # It did reach the protected operations, and they refused it: the warning says so.
    assert "Authentication failed" in result.stdout, _summary(result)
