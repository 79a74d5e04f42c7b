"""The documentation site: it builds strictly, its reference tables match the code, and every
Python example on it (and in the README) runs, each through real uvicorn where it is an app."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import os
import re
import subprocess
import sys
import time
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from starlette.applications import Starlette

from auth0_asgi import Auth0Middleware, Auth0Settings, events

from ._docs import PAGES, REPO, block, blocks, page_name, table
from .conftest import AUDIENCE, DOMAIN, JWKSServer, TokenMaker, serve_with_uvicorn
from .test_errors import reason_codes

APP_PAGE: Final = "docs/paths-and-scopes.md"

#: Every Python block of the README and the docs, by page and a marker only it contains: each
#: runs in a test below (EXAMPLES), or is a fragment that only has to compile (FRAGMENTS).
EXAMPLES: Final = {
    (APP_PAGE, "FastAPI()"),
    (APP_PAGE, "Starlette("),
    ("docs/testing.md", "from myapp import app"),
    ("docs/deployment.md", "/healthz/ready"),
    ("docs/deployment.md", 'Mount("/svc"'),  # tests/test_demo_app.py serves it on uvicorn
    ("docs/dpop.md", "DPoPKey()"),
    ("docs/claim-rules.md", "from auth0_asgi.rules import"),
    ("docs/configuration.md", "from_the_environment"),
    ("docs/issuers.md", "trusted_issuers"),
    ("docs/observability.md", "class RefusalCounter"),
    ("docs/observability.md", "PrometheusMetricReader"),
    ("docs/observability.md", "class JSONLines"),
    ("docs/mcp.md", "MCPServer("),  # tests/test_mcp_client.py runs it on uvicorn
    ("docs/step-up.md", "step_up("),
    ("docs/delegation.md", "acting_for_user(), actor_in"),
    ("docs/quickstart.md", "# myapi.py"),
    # tests/test_frameworks.py serves each in its real server.
    ("docs/frameworks.md", "# litestar_app.py"),
    ("docs/frameworks.md", "# quart_app.py"),
    ("docs/frameworks.md", "# django_app.py"),
}
FRAGMENTS: Final = {
    ("README.md", 'app.add_middleware(Auth0Middleware, protected_prefixes=["/api/private"])'),
    ("docs/index.md", 'app.add_middleware(Auth0Middleware, protected_prefixes=["/api/private"])'),
}


def example(page: str, marker: str) -> str:
    assert (page, marker) in EXAMPLES
    return block(page, marker)


def test_every_python_block_runs_in_a_test_or_is_a_fragment() -> None:
    claimed = EXAMPLES | FRAGMENTS
    for page in PAGES:
        name = page_name(page)
        for text in blocks(page):
            owners = [marker for where, marker in claimed if where == name and marker in text]
            assert len(owners) == 1, (name, text[:80], owners)
            compile(text, name, "exec")
    for where, marker in claimed:
        assert block(where, marker)  # each claim names exactly one block


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    built = {path.relative_to(tmp_path / "site").as_posix() for path in (tmp_path / "site").rglob("index.html")}
    assert {f"{page.stem}/index.html" for page in (REPO / "docs").glob("*.md") if page.stem != "index"} <= built
    # The snippets are included, not left as markers.
    security = (tmp_path / "site" / "security" / "index.html").read_text()
    assert "--8&lt;--" not in security
    assert "What a request must satisfy on a protected path" in security
    fallen = {
        page.relative_to(tmp_path / "site").as_posix(): out_of_place
        for page in (tmp_path / "site").rglob("index.html")
        if (out_of_place := _fallen_out_of_lists(page.read_text()))
    }
    assert fallen == {}


def _fallen_out_of_lists(html: str) -> list[str]:
    """Paragraphs of a built page that hold a list item or a code fence Markdown did not see as
    one: what a fence indented too little inside a list item turns into."""
    found = []
    for paragraph in re.findall(r"<p>(.*?)</p>", html, re.DOTALL):
        text = re.sub(r"<[^>]+>", "", paragraph)
        if "```" in text or re.search(r"^\s*(?:\d+\.|[-*+])\s", text, re.MULTILINE):
            found.append(text[:120])
    return found


def test_the_fallen_list_finder_finds_a_fallen_item() -> None:
    assert _fallen_out_of_lists("<p><code>A=1</code>\n3. Get a token</p>") == ["A=1\n3. Get a token"]
    assert _fallen_out_of_lists("<p>```\nA=1\n```</p>") == ["```\nA=1\n```"]
    assert _fallen_out_of_lists("<ol><li><p>Get a token</p></li></ol><p>Then 3. of them.</p>") == []


def test_the_quickstart_starts_the_demo_with_the_readme_command() -> None:
    readme = [line for line in block("README.md", "demo_app:app", language="bash").splitlines() if line]
    assert readme == [
        line for line in block("docs/quickstart.md", "demo_app:app", language="bash").splitlines() if line
    ]


def test_ci_builds_the_site_strictly() -> None:
    assert "NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict" in (REPO / ".ci" / "run").read_text()


# --- reference tables, checked against the code ------------------------------------------------


def _documented_default(value: object) -> str | None:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return ",".join(value) or None
    if isinstance(value, dict):
        return json.dumps(value) if value else None
    return str(value) or None


def test_the_configuration_table_is_every_setting_with_its_variable_and_default() -> None:
    listed = table("docs/configuration.md", "field")
    rows = {row[0].strip("`"): row for row in listed}
    fields = {field.name: field for field in dataclasses.fields(Auth0Settings) if field.init}
    assert len(rows) == len(listed)  # each once
    assert set(rows) == set(fields)
    for name, (_, variable, _, default) in rows.items():
        assert variable == f"`AUTH0_{'API_AUDIENCE' if name == 'audience' else name.upper()}`"
        field = fields[name]
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            assert default == "required", name
            continue
        factory = field.default_factory
        given = field.default if factory is dataclasses.MISSING else factory()
        expected = _documented_default(given)
        if expected is None:  # derived from the domain, or simply unset
            assert default.startswith(("unset", "`https://{domain}/")), (name, default)
        else:
            assert default == f"`{expected}`", (name, default, expected)


def test_the_reason_code_table_is_every_refusal() -> None:
    documented = {(row[0].strip("`"), row[1].split()[0].strip("`")): row for row in table("docs/refusals.md", "reason")}
    expected = {(code, cls.__name__): cls for code, cls in reason_codes().items()}
    assert set(documented) == set(expected)
    for key, (_, _, status, error) in documented.items():
        cls = expected[key]
        assert status == str(cls.status_code)
        assert error == (f"`{cls.error}`" if cls.error else "(none)")


def test_the_event_table_is_every_event_with_every_field() -> None:
    rows = {row[0].strip("`"): row for row in table("docs/observability.md", "event")}
    kinds = {kind.__name__: kind for kind in typing.get_args(events.Event)}
    assert set(rows) == set(kinds)
    for name, kind in kinds.items():
        documented = set(re.findall(r"`(\w+)`", rows[name][2]))
        assert set(kind._fields) <= documented, (name, set(kind._fields) - documented)


def test_the_log_table_is_every_line_the_package_logs() -> None:
    source = "\n".join(path.read_text() for path in (REPO / "auth0_asgi").rglob("*.py"))
    logged = set(re.findall(r'fields\(\s*"(\w+)"', source))
    documented = {row[1].strip("`") for row in table("docs/observability.md", "level")}
    assert documented == logged
    assert source.count("extra=fields(") == len(re.findall(r"logger\.(?:debug|info|warning|error|log)\(", source))


@pytest.fixture
def tenant_env(monkeypatch: pytest.MonkeyPatch, jwks_server: JWKSServer, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("AUTH0_DOMAIN", DOMAIN)
    monkeypatch.setenv("AUTH0_API_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("AUTH0_JWKS_URL", jwks_server.url)


def _run(page: str, marker: str, namespace: dict[str, Any] | None = None) -> dict[str, Any]:
    """The block on `page` containing `marker`, executed; its namespace."""
    namespace = namespace if namespace is not None else {}
    exec(compile(example(page, marker), page, "exec"), namespace)  # noqa: S102 - our own docs
    return namespace


@contextlib.contextmanager
def _serving(page: str, marker: str) -> Iterator[httpx.Client]:
    """The block on `page` containing `marker`, executed, its `app` served by real uvicorn."""
    namespace = _run(page, marker)
    with serve_with_uvicorn(namespace["app"]) as base_url, httpx.Client(base_url=base_url) as client:
        yield client


@pytest.mark.usefixtures("tenant_env")
def test_the_quickstart_s_own_app_runs(make_token: TokenMaker) -> None:
    with _serving("docs/quickstart.md", "# myapi.py") as client:
        me = client.get("/api/me", headers={"Authorization": f"Bearer {make_token()}"})
        anonymous = client.get("/api/me")
    assert (me.status_code, me.json()) == (200, {"caller": "client-42@clients"})
    assert (anonymous.status_code, anonymous.json()) == (401, {"detail": "Not authenticated"})


@pytest.mark.usefixtures("tenant_env")
def test_the_fastapi_example_runs(make_token: TokenMaker) -> None:
    with _serving(APP_PAGE, "FastAPI()") as client:
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
    assert schema["paths"]["/api/me"]["get"]["security"] == [{"Auth0": []}, {"Auth0DPoP": []}]
    assert allowed.status_code == 200
    assert allowed.json()["caller"] == "client-42@clients"
    assert allowed.json()["claims"]["aud"] == AUDIENCE
    assert admin.status_code == 403
    assert anonymous.status_code == 401


@pytest.mark.usefixtures("tenant_env")
def test_the_starlette_example_runs(make_token: TokenMaker) -> None:
    with _serving(APP_PAGE, "Starlette(") as client:
        reader = client.get("/api/messages", headers={"Authorization": f"Bearer {make_token()}"})
        no_scope = client.get("/api/messages", headers={"Authorization": f"Bearer {make_token(scope='other')}"})
    assert reader.status_code == 200
    assert reader.json() == {"sub": "client-42@clients", "scopes": ["read:messages"]}
    assert no_scope.status_code == 403


def test_the_testing_example_runs_with_the_installed_plugin(tmp_path: Path) -> None:
    """The docs' test file, beside their FastAPI example as `myapp.py`, run by pytest."""
    app_block = example(APP_PAGE, "FastAPI()")
    test_block = example("docs/testing.md", "from myapp import app")
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
def test_the_readiness_example_pre_warms_and_reports_ready(jwks_server: JWKSServer) -> None:
    with _serving("docs/deployment.md", "/healthz/ready") as client:
        assert jwks_server.count == 1  # pre-warmed at startup, before any request
        ready = client.get("/healthz/ready")
    assert (ready.status_code, ready.json()) == (200, {"ready": True})


@pytest.mark.usefixtures("tenant_env")
def test_the_readiness_example_is_not_ready_while_keys_are_missing(jwks_server: JWKSServer) -> None:
    jwks_server.status = 500
    with _serving("docs/deployment.md", "/healthz/ready") as client:
        not_ready = client.get("/healthz/ready")
    assert (not_ready.status_code, not_ready.json()) == (503, {"ready": False})


def test_the_dpop_client_runs_against_the_offline_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    namespace = _run("docs/dpop.md", "DPoPKey()", {"__name__": "dpop_client"})  # not "__main__": main() is ours
    from .test_demo_app import serving_demo

    with serving_demo(tmp_path) as url:
        namespace["main"](url)
    assert capsys.readouterr().out.splitlines() == ["DPoP 200", "401", "401"]


@pytest.mark.usefixtures("tenant_env")
def test_the_claim_rules_example_runs(make_token: TokenMaker) -> None:
    with _serving("docs/claim-rules.md", "from auth0_asgi.rules import") as client:
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


@pytest.mark.usefixtures("tenant_env")
def test_the_step_up_example_runs(make_token: TokenMaker) -> None:
    ns, mfa = "https://example.com/", "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
    now = int(time.time())
    with _serving("docs/step-up.md", "step_up(") as client:

        def get(**claims: Any) -> httpx.Response:
            token = make_token(sub="auth0|u", gty=None, **claims)
            return client.get("/api/payments/x", headers={"Authorization": f"Bearer {token}"})

        strong = get(**{ns + "acr": mfa, ns + "auth_time": now - 10})
        by_amr = get(**{ns + "amr": ["pwd", "mfa"], ns + "auth_time": now - 10})
        stale = get(**{ns + "acr": mfa, ns + "auth_time": now - 600})
        plain_names = get(acr=mfa, auth_time=now)  # Auth0's reserved names are not read
    assert (strong.status_code, by_amr.status_code) == (404, 404)  # past the middleware: no route
    for refused in (stale, plain_names):
        assert refused.status_code == 401
        assert f'acr_values="{mfa}", max_age="300"' in refused.headers["www-authenticate"]


@pytest.mark.usefixtures("tenant_env")
def test_the_delegation_example_runs(make_token: TokenMaker) -> None:
    with _serving("docs/delegation.md", "acting_for_user(), actor_in") as client:

        def get(path: str, **claims: Any) -> int:
            return client.get(path, headers={"Authorization": f"Bearer {make_token(**claims)}"}).status_code

        agent = {"sub": "auth0|alice", "gty": None, "act": {"sub": "agent-client-id"}}
        assert get("/api/agents/x", **agent) == 404
        assert get("/api/agents/x", **{**agent, "act": {"sub": "stranger"}}) == 403
        assert get("/api/account/delete", **agent) == 403
        assert get("/api/account/delete", sub="auth0|alice", gty=None) == 404
        assert get("/api/internal/x") == 404  # the fixture's tokens are client credentials
        assert get("/api/internal/x", sub="auth0|alice", gty=None) == 403


# --- the new examples ---------------------------------------------------------------------------


def test_the_configuration_example_gives_the_same_settings_both_ways() -> None:
    namespace = _run("docs/configuration.md", "from_the_environment")
    assert namespace["in_code"].leeway == 10
    assert namespace["from_the_environment"] == namespace["in_code"]


def test_the_issuers_example_trusts_each_domain_with_its_own_key_set() -> None:
    namespace = _run("docs/issuers.md", "trusted_issuers")
    assert namespace["issuers"] == [
        ("https://dev-abc123.us.auth0.com/", "https://dev-abc123.us.auth0.com/.well-known/jwks.json"),
        ("https://login.example.com/", "https://login.example.com/.well-known/jwks.json"),
    ]


@pytest.mark.usefixtures("tenant_env")
def test_the_observer_example_counts_refusals_by_reason(make_token: TokenMaker) -> None:
    page = "docs/observability.md"
    namespace = _run(page, "class RefusalCounter")
    with serve_with_uvicorn(namespace["app"]) as base_url, httpx.Client(base_url=base_url) as client:
        statuses = [
            client.get("/api/private").status_code,
            client.get("/api/private", headers={"Authorization": f"Bearer {make_token(exp=1_000_000)}"}).status_code,
            client.get("/api/private", headers={"Authorization": f"Bearer {make_token(exp=1_000_000)}"}).status_code,
            client.get("/api/private", headers={"Authorization": f"Bearer {make_token()}"}).status_code,
        ]
    assert statuses == [401, 401, 401, 200]
    assert dict(namespace["refusals"].refusals) == {"missing_token": 1, "token_expired": 2}


@pytest.mark.usefixtures("tenant_env")
def test_the_prometheus_example_serves_the_lines_the_page_shows(make_token: TokenMaker) -> None:
    # Run once per session: the exporter registers with prometheus_client's global registry.
    page = "docs/observability.md"
    namespace = _run(page, "PrometheusMetricReader")
    with serve_with_uvicorn(namespace["app"]) as base_url, httpx.Client(base_url=base_url) as client:
        assert client.get("/api/private", headers={"Authorization": f"Bearer {make_token()}"}).status_code == 200
        assert client.get("/api/private").status_code == 401
        scraped = client.get("/metrics/")
    namespace["meter_provider"].shutdown()
    assert scraped.status_code == 200
    lines = scraped.text.splitlines()
    shown = block(page, "auth0_asgi_requests_total", language="").splitlines()
    assert len(shown) == 3
    for line in shown:
        # "..." on the page stands for the labels the exporter adds (the meter's scope, and
        # empty ones for attributes other series have).
        pattern = re.escape(line).replace(re.escape(",...}"), r"(,[^}]*)?}")
        assert [found for found in lines if re.fullmatch(pattern, found)], (line, scraped.text)


@pytest.mark.usefixtures("tenant_env")
def test_the_json_log_example_writes_the_line_the_page_shows() -> None:
    page = "docs/observability.md"
    logger = logging.getLogger("auth0_asgi")
    level = logger.level
    namespace = _run(page, "class JSONLines")
    handler = namespace["handler"]
    stream = io.StringIO()
    handler.setStream(stream)
    try:
        with serve_with_uvicorn(_refusing_app()) as base_url:
            assert httpx.get(f"{base_url}/api/private").status_code == 401
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    [shown] = block(page, '"auth0_asgi_event": "request_outcome"', language="").splitlines()
    written = [line for line in stream.getvalue().splitlines() if '"request_outcome"' in line]
    assert [json.loads(line) for line in written] == [json.loads(shown)]


def _refusing_app() -> Auth0Middleware:
    return Auth0Middleware(Starlette(), protected_prefixes=["/api/private"])


def test_the_metric_table_is_every_instrument_with_its_kind_and_unit() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import Gauge, Histogram, InMemoryMetricReader, Sum

    from auth0_asgi.otel import OpenTelemetryObserver

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    observer = OpenTelemetryObserver(meter_provider=provider)
    url = "https://tenant.example.test/.well-known/jwks.json"
    for event in (  # one of each kind, so that every instrument reports
        events.RequestOutcome("accepted", "accepted", None, None, "bearer", 0.001, 1.0),
        events.TOKEN_CACHE_HIT,
        events.TokenVerified(0.001, 1.0),
        events.KeySetFetched(url, "success", "ok", 0.01, 1, 200),
        events.StaleKeysServed(url, 1.0),
        events.StaleKeysDropped(url, 60.0),
        events.RefreshSuppressed(url),
        events.LikelyCause("id_token"),
    ):
        observer.on_event(event)
    data = reader.get_metrics_data()
    provider.shutdown()
    assert data is not None
    kinds = {Sum: "counter", Gauge: "gauge", Histogram: "histogram"}
    reported = {
        metric.name: (kinds[type(metric.data)], metric.unit)
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    documented = {row[0].strip("`"): (row[1], row[2].strip("`")) for row in table("docs/observability.md", "metric")}
    assert documented == reported


def test_the_token_command_line_gets_the_demo_to_answer(tmp_path: Path) -> None:
    from .test_demo_app import BASH, demo_environment, serving_demo

    [line] = {
        block(page, "auth0-asgi token)", language="bash").strip() for page in ("README.md", "docs/cli.md")
    }  # the same line on both pages
    command = line.replace(".venv/bin/auth0-asgi", str(Path(sys.executable).parent / "auth0-asgi"))
    with serving_demo(tmp_path, AUTH0_DEMO_URL="") as url:  # both at their default issuer, as a user has them
        result = subprocess.run(
            [BASH, "-euo", "pipefail", "-c", command.replace("http://127.0.0.1:8000", url)],
            env=demo_environment(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["message"] == "Access granted"
