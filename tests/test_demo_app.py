"""The demo as a user runs it: `uvicorn demo_app:app` in its own process, configured by the environment."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from auth0_asgi.testing import DEFAULT_AUDIENCE, LocalIssuer

from ._docs import block
from .conftest import AUDIENCE, DOMAIN, JWKSServer, TokenMaker, loopback_socket

REPO = Path(__file__).resolve().parent.parent
BASH = shutil.which("bash") or "/bin/bash"


def demo_environment(cwd: Path, **variables: str) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("AUTH0_")}
    # The offline demo keeps its key under XDG_CACHE_HOME: this test's, not the user's.
    return {**inherited, "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(cwd / ".cache"), **variables}


def _import_demo(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import demo_app"],
        cwd=tmp_path,  # no .env here
        env=demo_environment(tmp_path, **variables),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_demo_without_a_domain_runs_offline_and_says_so(tmp_path: Path) -> None:
    result = _import_demo(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "OFFLINE MODE: AUTH0_DOMAIN is not set" in result.stderr
    assert "curl -s -X POST http://127.0.0.1:8000/oauth/token" in result.stderr
    assert result.stderr.count("OFFLINE MODE") == 1


def test_demo_without_an_audience_names_it(tmp_path: Path) -> None:
    result = _import_demo(tmp_path, AUTH0_DOMAIN="dev-x.us.auth0.com")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("demo_app: configuration error: AUTH0_API_AUDIENCE")
    assert "Traceback" not in result.stderr
    assert "OFFLINE MODE" not in result.stderr


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        pytest.param(
            {"AUTH0_DOMIAN": "dev-x.us.auth0.com", "AUTH0_API_AUDIENCE": "x"},
            "AUTH0_API_AUDIENCE, AUTH0_DOMIAN are",
            id="typo",
        ),
        pytest.param({"AUTH0_API_AUDIENCE": "https://api"}, "AUTH0_API_AUDIENCE is", id="audience-alone"),
        pytest.param({"AUTH0_PROTECTED_PREFIXES": "/api"}, "AUTH0_PROTECTED_PREFIXES is", id="prefixes-alone"),
        # docker compose passes AUTH0_API_AUDIENCE= when the host lacks it: present, so configured.
        pytest.param({"AUTH0_API_AUDIENCE": ""}, "AUTH0_API_AUDIENCE (empty) is", id="an-empty-audience"),
    ],
)
def test_a_partial_configuration_never_falls_back_to_offline_mode(
    tmp_path: Path, variables: dict[str, str], named: str
) -> None:
    result = _import_demo(tmp_path, **variables)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"demo_app: configuration error: AUTH0_DOMAIN is not set, but {named}: set AUTH0_DOMAIN and "
        "AUTH0_API_AUDIENCE for your tenant, or AUTH0_DEMO_OFFLINE=true for the offline issuer"
    )
    assert "OFFLINE MODE" not in result.stderr


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_domain_never_falls_back_to_offline_mode(tmp_path: Path, value: str) -> None:
    result = _import_demo(tmp_path, AUTH0_DOMAIN=value)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "demo_app: configuration error: AUTH0_DOMAIN is set but empty: set AUTH0_DOMAIN and "
        "AUTH0_API_AUDIENCE for your tenant, or AUTH0_DEMO_OFFLINE=true for the offline issuer"
    )
    assert "OFFLINE MODE" not in result.stderr


def test_a_typo_in_dot_env_never_falls_back_to_offline_mode(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("AUTH0_DOMIAN=dev-x.us.auth0.com\n")
    result = _import_demo(tmp_path)
    assert result.returncode == 1
    assert "AUTH0_DOMAIN is not set, but AUTH0_DOMIAN is" in result.stderr
    assert "OFFLINE MODE" not in result.stderr


def test_offline_mode_and_a_domain_together_are_refused(tmp_path: Path) -> None:
    result = _import_demo(tmp_path, AUTH0_DEMO_OFFLINE="true", AUTH0_DOMAIN="dev-x.us.auth0.com")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "demo_app: configuration error: AUTH0_DEMO_OFFLINE and AUTH0_DOMAIN: set one of them"
    )


def test_a_domain_in_dot_env_also_rules_out_offline_mode(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("AUTH0_DOMAIN=dev-x.us.auth0.com\n")
    result = _import_demo(tmp_path)
    assert result.returncode == 1
    assert "AUTH0_API_AUDIENCE is not set" in result.stderr
    assert "OFFLINE MODE" not in result.stderr


@contextlib.contextmanager
def serving_demo(
    cwd: Path, *options: str, target: str = "demo_app:app", ready: str = "/api/public", **variables: str
) -> Iterator[str]:
    """`uvicorn demo_app:app [options]` (or `target`) in its own process on a free loopback port,
    once `ready` answers; yields its base URL."""
    sock, port = loopback_socket()
    # Where the demo is reached, as a user running it elsewhere than 127.0.0.1:8000 says.
    variables.setdefault("AUTH0_DEMO_URL", f"http://127.0.0.1:{port}")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            target,
            "--fd",
            str(sock.fileno()),
            "--log-level",
            "warning",
            # What the README's install gives (the demo extra brings no httptools; the test extra does).
            "--http",
            "h11",
            *options,
        ],
        cwd=cwd,
        env=demo_environment(cwd, **variables),
        pass_fds=(sock.fileno(),),
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}{ready}", timeout=1)
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


@pytest.fixture
def demo_url(jwks_server: JWKSServer, tmp_path: Path) -> Iterator[str]:
    """The demo configured for a tenant whose keys the loopback JWKS server publishes."""
    variables = {"AUTH0_DOMAIN": DOMAIN, "AUTH0_API_AUDIENCE": AUDIENCE, "AUTH0_JWKS_URL": jwks_server.url}
    with serving_demo(tmp_path, **variables) as url:
        yield url


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
    assert anonymous.headers["www-authenticate"] == f'Bearer realm="{AUDIENCE}", DPoP realm="{AUDIENCE}", algs="ES256"'
    assert private.status_code == 200
    body = private.json()
    assert body["message"] == "Access granted"
    assert body["data"]["sub"] == "client-42@clients"
    assert body["data"]["aud"] == AUDIENCE


def test_with_a_tenant_the_demo_has_no_token_endpoint_and_refuses_local_tokens(
    demo_url: str, jwks_server: JWKSServer, auth0_issuer: LocalIssuer
) -> None:
    local_token = auth0_issuer.token(iss=f"https://{DOMAIN}/", aud=AUDIENCE)
    with httpx.Client(base_url=demo_url) as client:
        token_endpoint = client.post("/oauth/token", json={"grant_type": "client_credentials"})
        jwks = client.get("/.well-known/jwks.json")
        private = client.get("/api/private", headers={"Authorization": f"Bearer {local_token}"})
    assert token_endpoint.status_code == 404
    assert jwks.status_code == 404
    assert private.status_code == 401
    assert private.json() == {"detail": "The access token signing key is unknown", "error": "invalid_token"}
    assert jwks_server.count >= 1  # the tenant's key server was asked, not a local issuer


def test_the_offline_demo_serves_its_issuer_and_scoped_route(tmp_path: Path) -> None:
    with serving_demo(tmp_path) as url, httpx.Client(base_url=url) as client:
        request = {
            "grant_type": "client_credentials",
            "client_id": "c",
            "client_secret": "s",
            "audience": DEFAULT_AUDIENCE,
        }
        granted = client.post("/oauth/token", data=request).json()
        narrowed = client.post("/oauth/token", json={**request, "scope": "write:other"}).json()
        wrong_audience = client.post("/oauth/token", json={**request, "audience": AUDIENCE})
        scoped = client.get("/api/private-scoped", headers={"Authorization": f"Bearer {granted['access_token']}"})
        unscoped = client.get("/api/private-scoped", headers={"Authorization": f"Bearer {narrowed['access_token']}"})
        discovery = client.get("/.well-known/openid-configuration").json()
        keys = client.get("/.well-known/jwks.json").json()
    assert granted["scope"] == "read:messages"
    assert narrowed["scope"] == ""
    assert wrong_audience.status_code == 400
    assert wrong_audience.json()["error"] == "invalid_target"
    assert scoped.status_code == 200
    assert scoped.json()["caller"] == "c@clients"
    assert unscoped.status_code == 403
    assert unscoped.json()["error"] == "insufficient_scope"
    assert discovery["jwks_uri"] == f"{url}/.well-known/jwks.json"
    assert [key["kty"] for key in keys["keys"]] == ["RSA"]


def test_the_offline_demo_openapi_marks_only_the_private_routes(tmp_path: Path) -> None:
    with serving_demo(tmp_path) as url:
        schema = httpx.get(f"{url}/openapi.json").json()
    assert schema["components"]["securitySchemes"]["Auth0"]["scheme"] == "bearer"
    assert schema["components"]["securitySchemes"]["Auth0DPoP"]["scheme"] == "DPoP"  # the demo allows DPoP
    marked = {path: item["get"].get("security") for path, item in schema["paths"].items()}
    assert marked == {
        "/api/public": None,
        "/api/private": [{"Auth0": []}, {"Auth0DPoP": []}],
        "/api/private-scoped": [{"Auth0": ["read:messages"]}, {"Auth0DPoP": ["read:messages"]}],
    }
    assert "401" in schema["paths"]["/api/private"]["get"]["responses"]
    assert "403" in schema["paths"]["/api/private-scoped"]["get"]["responses"]


def _quickstart_block() -> str:
    return block("docs/quickstart.md", "/oauth/token", language="bash")


def test_the_quickstart_runs_verbatim_against_the_offline_demo(tmp_path: Path) -> None:
    script = _quickstart_block()
    expected = [line.removeprefix("# ") for line in script.splitlines() if line.startswith("# ")]
    with serving_demo(tmp_path, AUTH0_DEMO_URL="") as url:  # unset, as in the quickstart: iss http://127.0.0.1:8000/
        # The one change: the port this test's uvicorn got instead of uvicorn's default 8000.
        result = subprocess.run(
            [BASH, "-euo", "pipefail", "-c", script.replace("http://127.0.0.1:8000", url)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert len(expected) == 2
    # curl prints no newline of its own, so the answers arrive back to back. The page
    # abbreviates with "…"; everything it does show must match exactly.
    pattern = r"\s*".join(".*".join(re.escape(part) for part in shown.split("…")) for shown in expected)
    assert re.fullmatch(pattern + r"\s*", result.stdout), (expected, result.stdout)


OFFLINE_REQUEST = {
    "grant_type": "client_credentials",
    "client_id": "demo-client",
    "client_secret": "demo-secret",
    "audience": DEFAULT_AUDIENCE,
}


def test_the_workers_of_one_offline_demo_share_its_key_and_it_survives_a_restart(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "demo-key.pem"
    # One issuer across the restart (a new port each time): the URL clients use, as a proxy's.
    fixed = {"AUTH0_DEMO_KEY_FILE": str(key_file), "AUTH0_DEMO_URL": "http://demo.localhost:8000"}
    with serving_demo(tmp_path, "--workers", "2", **fixed) as url:
        time.sleep(1)  # let the second worker finish starting, so that both take connections
        # A new connection per request: either worker may mint, either may verify.
        tokens = [httpx.post(f"{url}/oauth/token", json=OFFLINE_REQUEST).json()["access_token"] for _ in range(40)]
        statuses = [
            httpx.get(f"{url}/api/private", headers={"Authorization": f"Bearer {token}"}).status_code
            for token in tokens
        ]
    assert statuses == [200] * len(tokens)
    assert len({jwt.get_unverified_header(token)["kid"] for token in tokens}) == 1
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600  # a private key: the owner's alone
    with serving_demo(tmp_path, **fixed) as url:
        again = httpx.get(f"{url}/api/private", headers={"Authorization": f"Bearer {tokens[0]}"})
    assert again.status_code == 200


def test_the_offline_banner_says_where_the_key_lives(tmp_path: Path) -> None:
    result = _import_demo(tmp_path)
    default = tmp_path / ".cache" / "auth0-asgi" / "demo-signing-key.pem"
    assert f"Signing key: {default} (shared by this demo's workers; delete it for a new key)." in result.stderr
    assert default.is_file()


def test_a_key_file_that_holds_no_key_stops_the_demo_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-key.pem"
    bad.write_text("hello\n")
    result = _import_demo(tmp_path, AUTH0_DEMO_KEY_FILE=str(bad))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"demo_app: the offline signing key: key file {str(bad)!r}: not an unencrypted PEM private key"
    )


def test_the_demo_reads_its_protected_prefixes_from_the_environment(tmp_path: Path) -> None:
    with serving_demo(tmp_path, AUTH0_DEMO_OFFLINE="true", AUTH0_PROTECTED_PREFIXES="/api/public, /api/private") as url:
        public = httpx.get(f"{url}/api/public")
        token = httpx.post(f"{url}/oauth/token", json=OFFLINE_REQUEST).json()["access_token"]
        with_token = httpx.get(f"{url}/api/public", headers={"Authorization": f"Bearer {token}"})
        docs = httpx.get(f"{url}/openapi.json")
    assert (public.status_code, public.headers["www-authenticate"]) == (
        401,
        f'Bearer realm="{DEFAULT_AUDIENCE}", DPoP realm="{DEFAULT_AUDIENCE}", algs="ES256"',
    )
    assert (with_token.status_code, with_token.json()) == (200, {"message": "Hello, World!"})
    assert docs.status_code == 200  # outside both prefixes


def test_a_bad_protected_prefix_stops_the_demo_with_one_line(tmp_path: Path) -> None:
    result = _import_demo(tmp_path, AUTH0_DEMO_OFFLINE="true", AUTH0_PROTECTED_PREFIXES="api/private")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "demo_app: configuration error: AUTH0_PROTECTED_PREFIXES: "
        "protected prefix 'api/private': must be a path starting with '/'"
    )


MOUNTED = block("docs/deployment.md", 'Mount("/svc"')  # the page's own example


def test_root_path_works_behind_a_proxy_that_strips_it_and_a_mount_works_without_one(tmp_path: Path) -> None:
    # docs/deployment.md, "Under a path prefix". uvicorn --root-path /svc says a proxy strips
    # /svc: the issuer advertises its endpoints under /svc, and uvicorn itself routes them only
    # without it.
    with serving_demo(tmp_path, "--root-path", "/svc") as url:
        token_endpoint = httpx.get(f"{url}/.well-known/openid-configuration").json()["token_endpoint"]
        assert token_endpoint == f"{url}/svc/oauth/token"
        assert httpx.post(token_endpoint, json=OFFLINE_REQUEST).status_code == 404  # no proxy: not found
        forwarded = httpx.post(f"{url}/oauth/token", json=OFFLINE_REQUEST)  # what the proxy forwards
        assert forwarded.status_code == 200
        token = forwarded.json()["access_token"]
        private = httpx.get(f"{url}/api/private", headers={"Authorization": f"Bearer {token}"})
        assert private.status_code == 200
    # No proxy: mount the app under the prefix in code instead, and every advertised URL works.
    (tmp_path / "mounted.py").write_text(MOUNTED)
    with serving_demo(tmp_path, target="mounted:app", ready="/svc/api/public") as url:
        discovery = httpx.get(f"{url}/svc/.well-known/openid-configuration").json()
        assert discovery["token_endpoint"] == f"{url}/svc/oauth/token"
        issued = httpx.post(discovery["token_endpoint"], json=OFFLINE_REQUEST)
        assert issued.status_code == 200
        token = issued.json()["access_token"]
        assert httpx.get(discovery["jwks_uri"]).status_code == 200
        private = httpx.get(f"{url}/svc/api/private", headers={"Authorization": f"Bearer {token}"})
        assert private.status_code == 200
        assert httpx.get(f"{url}/svc/api/private").status_code == 401


def test_the_offline_issuer_is_the_url_that_serves_it(tmp_path: Path) -> None:
    # As a tenant's: discovery's issuer is where it was fetched, and the tokens' iss is the same,
    # so a client that derives URLs from iss (or checks RFC 8414's issuer rule) works offline.
    with serving_demo(tmp_path) as url:
        discovery = httpx.get(f"{url}/.well-known/openid-configuration").json()
        assert discovery["issuer"] == f"{url}/"
        issued = httpx.post(discovery["token_endpoint"], json=OFFLINE_REQUEST).json()["access_token"]
        assert jwt.decode(issued, options={"verify_signature": False})["iss"] == f"{url}/"
        from_iss = httpx.get(f"{url}/.well-known/openid-configuration").json()["jwks_uri"]
        assert httpx.get(from_iss).status_code == 200
        assert httpx.get(f"{url}/api/private", headers={"Authorization": f"Bearer {issued}"}).status_code == 200


def test_the_quickstart_explains_an_accepted_and_a_refused_token(tmp_path: Path) -> None:
    script = block("docs/quickstart.md", "auth0-asgi explain", language="bash")
    commands = [line for line in script.splitlines() if line and not line.startswith("#")]
    shown = [line.removeprefix("# ") for line in script.splitlines() if line.startswith("# ")]
    binaries = str(Path(sys.executable).parent)
    with serving_demo(tmp_path, AUTH0_DEMO_URL="") as url:  # as the quickstart runs it
        token = httpx.post(f"{url}/oauth/token", json=OFFLINE_REQUEST).json()["access_token"]
        outputs = []
        for command in commands:  # each alone: a refused token's explain exits 1
            result = subprocess.run(
                [BASH, "-uo", "pipefail", "-c", command.replace(".venv/bin", binaries)],
                cwd=tmp_path,
                env={**demo_environment(tmp_path), "TOKEN": token},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert "Traceback" not in result.stderr
            outputs.append((result.returncode, result.stdout.splitlines()))
    assert [status for status, _ in outputs] == [0, 1]
    assert shown[0] in outputs[0][1]
    assert shown[1:] == [line for line in outputs[1][1] if "FAIL" in line or line.startswith("verdict:")]
