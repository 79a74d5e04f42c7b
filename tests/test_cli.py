"""``auth0-asgi`` / ``python -m auth0_asgi``, run as a subprocess against a loopback key server."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from auth0_asgi._cli import main
from auth0_asgi.testing import DEFAULT_AUDIENCE, DEFAULT_ISSUER, LocalIssuer, load_or_create_private_key

from .conftest import AUDIENCE, DOMAIN, ISSUER, JWKSServer, TokenMaker


class Runner:
    """Runs the command as a subprocess (what users do), or in process through `main` (so that
    coverage sees it); every test below runs both ways."""

    def __init__(self, mode: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        self.mode, self._monkeypatch, self._capsys = mode, monkeypatch, capsys

    def __call__(
        self, tmp_path: Path, *arguments: str, stdin: str = "", **variables: str
    ) -> subprocess.CompletedProcess[str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("AUTH0_")}
        if self.mode == "subprocess":
            return subprocess.run(
                [sys.executable, "-m", "auth0_asgi", *arguments],
                cwd=tmp_path,  # no stray .env
                env={**environment, **variables},
                input=stdin,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        with self._monkeypatch.context() as patch:
            patch.chdir(tmp_path)
            for name in os.environ:
                if name.startswith("AUTH0_"):
                    patch.delenv(name)
            for name, value in variables.items():
                patch.setenv(name, value)
            patch.setattr(sys, "stdin", io.StringIO(stdin))
            out = io.StringIO()
            status = main(list(arguments), out=out)
        return subprocess.CompletedProcess(arguments, status, out.getvalue(), self._capsys.readouterr().err)


@pytest.fixture(params=["subprocess", "in-process"])
def run(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Runner:
    return Runner(request.param, monkeypatch, capsys)


@pytest.fixture
def tenant(jwks_server: JWKSServer) -> dict[str, str]:
    return {"AUTH0_DOMAIN": DOMAIN, "AUTH0_API_AUDIENCE": AUDIENCE, "AUTH0_JWKS_URL": jwks_server.url}


def _lines(result: subprocess.CompletedProcess[str], marker: str) -> list[str]:
    return [line.strip() for line in result.stdout.splitlines() if line.strip().startswith(marker)]


def test_explain_accepts_a_valid_token_and_passes_every_check(
    run: Runner, tmp_path: Path, tenant: dict[str, str], make_token: TokenMaker, jwks_server: JWKSServer
) -> None:
    token = make_token()
    result = run(tmp_path, "explain", token, **tenant)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _lines(result, "FAIL") == []
    checks = [line.split()[1].rstrip(":") for line in _lines(result, "PASS")]
    assert checks == ["structure", "algorithm", "issuer", "times", "audience", "subject", "bearer", "key", "signature"]
    assert result.stdout.strip().endswith("verdict: accepted")
    assert json.loads(result.stdout.split("claims: ", 1)[1].splitlines()[0])["sub"] == "client-42@clients"
    # Only the configured key set was fetched, and the token went nowhere.
    assert [request["path"] for request in jwks_server.requests] == ["/.well-known/jwks.json"]
    assert all(token not in json.dumps(request) for request in jwks_server.requests)


@pytest.mark.parametrize(
    ("claims", "failing", "verdict"),
    [
        pytest.param(
            {"exp": int(time.time()) - 60}, "times", "401 invalid_token: The access token has expired", id="expired"
        ),
        pytest.param(
            {"aud": "https://other.example"},
            "audience",
            "401 invalid_token: The access token was not issued for this API",
            id="audience",
        ),
        pytest.param(
            {"iss": ISSUER.rstrip("/")}, "issuer", "401 invalid_token: The access token issuer is not trusted", id="iss"
        ),
        pytest.param(
            {"cnf": {"jkt": "x"}}, "bearer", "401 invalid_token: The access token is bound to a key", id="bound"
        ),
    ],
)
def test_explain_names_the_failing_check_and_the_answer_a_worker_gives(
    run: Runner,
    tmp_path: Path,
    tenant: dict[str, str],
    make_token: TokenMaker,
    claims: dict[str, Any],
    failing: str,
    verdict: str,
) -> None:
    result = run(tmp_path, "explain", **tenant, stdin=make_token(**claims) + "\n")  # from stdin
    assert result.returncode == 1, result.stdout + result.stderr
    assert [line.split()[1].rstrip(":") for line in _lines(result, "FAIL")] == [failing]
    assert verdict in _lines(result, "verdict:")[0]


def test_explain_says_the_likely_cause(
    run: Runner, tmp_path: Path, tenant: dict[str, str], make_token: TokenMaker
) -> None:
    result = run(tmp_path, "explain", make_token(iss=ISSUER.rstrip("/")), **tenant)
    assert _lines(result, "likely cause (issuer_spelling):")[0].endswith("(with the slash)")
    placeholder = run(tmp_path, "explain", "undefined", **tenant)
    assert placeholder.returncode == 1
    assert _lines(placeholder, "FAIL")[0].startswith("FAIL  structure: not three base64url segments")
    assert _lines(placeholder, "likely cause (placeholder_token)")


def test_explain_reports_a_signature_that_does_not_verify(
    run: Runner, tmp_path: Path, tenant: dict[str, str], make_token: TokenMaker
) -> None:
    head, _, signature = make_token().rpartition(".")
    tampered = f"{head}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    result = run(tmp_path, "explain", tampered, **tenant)
    assert result.returncode == 1
    assert _lines(result, "FAIL") == ["FAIL  signature"]
    assert "The access token signature is invalid" in _lines(result, "verdict:")[0]


def test_check_reports_each_issuer_and_its_keys(run: Runner, tmp_path: Path, tenant: dict[str, str]) -> None:
    result = run(tmp_path, "check", **tenant)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"issuer {ISSUER}" in result.stdout
    assert "1 usable key(s)" in result.stdout
    assert "kid 'rsa-1': RS256" in result.stdout
    assert "DPoP: allowed; replay store: per process" in result.stdout


def test_check_fails_when_a_key_set_yields_no_key(
    run: Runner, tmp_path: Path, tenant: dict[str, str], jwks_server: JWKSServer
) -> None:
    jwks_server.status = 500
    result = run(tmp_path, "check", **tenant)
    assert result.returncode == 1
    assert "FAIL  no usable key" in result.stdout


def test_token_mints_with_the_demo_key(run: Runner, tmp_path: Path) -> None:
    key_file = tmp_path / "demo-key.pem"
    result = run(
        tmp_path,
        "token",
        "--scope",
        "read:messages write:x",
        "--claims",
        '{"org_id": "acme"}',
        AUTH0_DEMO_KEY_FILE=str(key_file),
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    public = load_or_create_private_key(key_file).public_key()
    claims = jwt.decode(token, public, algorithms=["RS256"], audience=DEFAULT_AUDIENCE, issuer=DEFAULT_ISSUER)
    assert (claims["scope"], claims["org_id"]) == ("read:messages write:x", "acme")
    # The demo's own issuer, reading the same file, signs with the same key.
    assert LocalIssuer(private_key=load_or_create_private_key(key_file)).kid == jwt.get_unverified_header(token)["kid"]


@pytest.mark.parametrize(
    ("arguments", "variables", "message"),
    [
        pytest.param(("explain", "x"), {}, "auth0-asgi: configuration error: AUTH0_DOMAIN is not set", id="no-tenant"),
        pytest.param(("token", "--claims", "[1]"), {}, "--claims: give a JSON object", id="claims-not-an-object"),
        pytest.param(("token", "--claims", "{"), {}, "auth0-asgi: configuration error:", id="claims-not-json"),
    ],
)
def test_configuration_problems_are_one_line_and_status_2(
    run: Runner, tmp_path: Path, arguments: tuple[str, ...], variables: dict[str, str], message: str
) -> None:
    result = run(tmp_path, *arguments, AUTH0_DEMO_KEY_FILE=str(tmp_path / "k.pem"), **variables)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("auth0-asgi")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0
    for command in ("explain", "check", "token"):
        assert command in result.stdout
