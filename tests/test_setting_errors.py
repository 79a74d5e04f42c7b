"""Every start-up error from the environment names the variable(s) the user set, and the fix, in one line.

Each AUTH0_* setting is tried with a row of bad values, alone and in the pairs that conflict,
through `Auth0Settings.from_env` and the middleware built from it (some checks need both), and
through the demo, whose last line of output is what a newcomer reads.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest
from starlette.applications import Starlette

from auth0_asgi import Auth0Middleware, Auth0Settings, ConfigurationError

from .test_demo_app import demo_environment

TENANT: Final = {"AUTH0_DOMAIN": "dev-x.us.auth0.com", "AUTH0_API_AUDIENCE": "https://api.example.test"}
#: Values that are wrong for most settings: negative, not a number, not JSON, not a URL, ...
BAD_VALUES: Final = (
    "-1",
    "0",
    "nope",
    "1e999",
    "{",
    "[]",
    '{"x": 1}',
    "a b",
    "/x;y",
    "http://evil.example/x",
    "none,HS256",
)
#: Settings that take any non-empty text (names, identifiers): no value is wrong on its own.
FREE_TEXT: Final = {
    "AUTH0_API_AUDIENCE",  # an API identifier is whatever the dashboard says
    "AUTH0_ALLOWED_CLIENTS",
    "AUTH0_REQUIRED_CLAIMS",
    "AUTH0_RESOURCE_NAME",
    "AUTH0_ACR_CLAIM",
    "AUTH0_AMR_CLAIM",
    "AUTH0_AUTH_TIME_CLAIM",
}


def _variable(field: str) -> str:
    return "AUTH0_API_AUDIENCE" if field == "audience" else f"AUTH0_{field.upper()}"


VARIABLES: Final = [
    _variable(field.name) for field in dataclasses.fields(Auth0Settings) if field.init and field.name != "audience"
] + ["AUTH0_API_AUDIENCE"]


def _refusal(environment: dict[str, str]) -> str | None:
    """The ConfigurationError a worker would stop with, or None when these settings start."""
    try:
        settings = Auth0Settings.from_env(environment, env_file=None)
        Auth0Middleware(Starlette(), settings=settings, protected_prefixes=["/api"])
    except ConfigurationError as exc:
        return str(exc)
    return None


def _assert_names(message: str, *variables: str) -> None:
    assert "\n" not in message, message
    for variable in variables:
        # The variable itself, not a longer one that starts with its name.
        assert re.search(rf"\b{variable}\b(?!_)", message), (variable, message)
    assert re.search(r": \S", message), message  # what is wrong, or how to fix it, follows


def test_the_walk_covers_every_setting() -> None:
    assert len(VARIABLES) == len(set(VARIABLES)) == 46
    assert set(VARIABLES) >= FREE_TEXT


@pytest.mark.parametrize("variable", VARIABLES)
def test_each_bad_value_of_a_setting_names_that_setting(variable: str) -> None:
    refused = {}
    for value in BAD_VALUES:
        message = _refusal({**TENANT, variable: value})
        if message is not None:
            _assert_names(message, variable)
            refused[value] = message
    if variable in FREE_TEXT:
        assert refused == {}
    else:
        assert refused, f"no bad value of {variable} was refused"


CONFLICTS: Final = [
    pytest.param(
        {"AUTH0_JWKS_CACHE_TTL_MAX": "50"},
        ("AUTH0_JWKS_CACHE_TTL_MAX", "AUTH0_JWKS_CACHE_TTL_MIN"),
        id="max-below-default-min",
    ),
    pytest.param(
        {"AUTH0_JWKS_CACHE_TTL_MIN": "100000"},
        ("AUTH0_JWKS_CACHE_TTL_MIN", "AUTH0_JWKS_CACHE_TTL_MAX"),
        id="min-above-default-max",
    ),
    pytest.param(
        {"AUTH0_JWKS_URL": "https://dev-x.us.auth0.com/keys", "AUTH0_DISCOVERY": "true"},
        ("AUTH0_JWKS_URL", "AUTH0_DISCOVERY"),
        id="jwks-url-and-discovery",
    ),
    pytest.param(
        {"AUTH0_RESOURCE_URL": "https://mcp.example.test/mcp"},
        ("AUTH0_RESOURCE_URL", "AUTH0_API_AUDIENCE"),
        id="resource-not-an-audience",
    ),
    pytest.param(
        {"AUTH0_DOMAIN": "a.auth0.com,b.auth0.com", "AUTH0_ISSUER": "https://a.auth0.com/"},
        ("AUTH0_ISSUER", "AUTH0_DOMAIN"),
        id="issuer-with-two-domains",
    ),
    pytest.param(
        {"AUTH0_DOMAIN": "a.auth0.com,b.auth0.com", "AUTH0_JWKS_URL": "https://a.auth0.com/keys"},
        ("AUTH0_JWKS_URL", "AUTH0_DOMAIN"),
        id="jwks-url-with-two-domains",
    ),
    pytest.param(
        {"AUTH0_MTLS_HEADER_FORMAT": "rfc9440"},
        ("AUTH0_MTLS_HEADER_FORMAT", "AUTH0_TRUSTED_PROXIES"),
        id="header-format-without-proxies",
    ),
    # One set of proxies for DPoP and mTLS: the old names are aliases, and must agree.
    pytest.param(
        {"AUTH0_TRUSTED_PROXIES": "10.0.0.1", "AUTH0_DPOP_TRUSTED_PROXIES": "10.0.0.2"},
        ("AUTH0_TRUSTED_PROXIES", "AUTH0_DPOP_TRUSTED_PROXIES"),
        id="trusted-proxies-and-the-dpop-alias-differ",
    ),
    pytest.param(
        {"AUTH0_DPOP_TRUSTED_PROXIES": "10.0.0.1", "AUTH0_MTLS_TRUSTED_PROXIES": "10.0.0.0/8"},
        ("AUTH0_DPOP_TRUSTED_PROXIES", "AUTH0_MTLS_TRUSTED_PROXIES"),
        id="the-two-old-names-differ",
    ),
    pytest.param(
        {"AUTH0_MTLS_HEADER_FORMAT": "nginx", "AUTH0_MTLS_TRUSTED_PROXIES": "10.0.0.1"},
        ("AUTH0_MTLS_HEADER_FORMAT", "AUTH0_MTLS_HEADER"),
        id="nginx-without-a-header-name",
    ),
    pytest.param(
        {"AUTH0_MTLS_HEADER": "X-SSL-Client-Cert"},
        ("AUTH0_MTLS_HEADER", "AUTH0_MTLS_HEADER_FORMAT"),
        id="header-name-without-a-format",
    ),
    pytest.param(
        {"AUTH0_STEP_UP": '{"/other": {"max_age": 300}}'}, ("AUTH0_STEP_UP",), id="step-up-outside-the-prefixes"
    ),
    pytest.param({"AUTH0_ANONYMOUS_PREFIXES": "/other"}, ("AUTH0_ANONYMOUS_PREFIXES",), id="anonymous-outside"),
    pytest.param({"AUTH0_ANONYMOUS_PREFIXES": "other"}, ("AUTH0_ANONYMOUS_PREFIXES",), id="anonymous-not-a-path"),
]


@pytest.mark.parametrize(("environment", "variables"), CONFLICTS)
def test_settings_that_conflict_are_named_together(environment: dict[str, str], variables: tuple[str, ...]) -> None:
    message = _refusal({**TENANT, **environment})
    assert message is not None
    _assert_names(message, *variables)


def test_the_issue_s_two_reports_read_as_they_should() -> None:
    assert _refusal({**TENANT, "AUTH0_JWKS_CACHE_TTL_MAX": "50"}) == (
        "AUTH0_JWKS_CACHE_TTL_MIN=60 must not exceed AUTH0_JWKS_CACHE_TTL_MAX=50 (jwks_cache_ttl_min and _max; "
        "defaults 60 and 86400): lower the first or raise the second"
    )


def _demo_last_line(tmp_path: Path, *, prelude: str = "", **variables: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", f"{prelude}import demo_app"],
        cwd=tmp_path,
        env=demo_environment(tmp_path, **variables),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"AUTH0_LEEWAY": "-5"}, "AUTH0_LEEWAY"),
        ({"AUTH0_JWKS_CACHE_TTL_MAX": "50"}, "AUTH0_JWKS_CACHE_TTL_MAX"),
        ({"AUTH0_STEP_UP": '{"/nowhere": {"max_age": 1}}'}, "AUTH0_STEP_UP"),
        ({"AUTH0_MTLS_HEADER_FORMAT": "rfc9440"}, "AUTH0_TRUSTED_PROXIES"),
        ({"AUTH0_PROTECTED_PREFIXES": "api"}, "AUTH0_PROTECTED_PREFIXES"),
        ({"AUTH0_DEMO_URL": "ftp://127.0.0.1:8000"}, "AUTH0_DEMO_URL"),
    ],
)
def test_the_offline_demo_names_the_variable_too(tmp_path: Path, variables: dict[str, str], named: str) -> None:
    line = _demo_last_line(tmp_path, AUTH0_DEMO_OFFLINE="true", **variables)
    assert line.startswith("demo_app: configuration error: ")
    _assert_names(line.removeprefix("demo_app: configuration error: "), named)
    assert "AUTH0_PROTECTED_PREFIXES" not in line or named == "AUTH0_PROTECTED_PREFIXES"


def test_a_redis_replay_url_without_the_redis_extra_names_the_url_and_the_extra(tmp_path: Path) -> None:
    # As if the redis package were not installed: its import fails, as it would.
    line = _demo_last_line(
        tmp_path,
        prelude="import sys; sys.modules['redis'] = None; ",
        AUTH0_DEMO_OFFLINE="true",
        AUTH0_DPOP_REPLAY_URL="redis://127.0.0.1:6379/0",
    )
    assert line == 'demo_app: configuration error: AUTH0_DPOP_REPLAY_URL needs redis: pip install "auth0-asgi[redis]"'
