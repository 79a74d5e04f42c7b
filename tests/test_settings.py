"""Auth0Settings: environment, .env file, defaults, normalisation and one-line errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from auth0_asgi import Auth0Settings, ConfigurationError

TENANT = {"AUTH0_DOMAIN": "dev-x.us.auth0.com", "AUTH0_API_AUDIENCE": "https://api.example.com"}


def test_defaults_follow_the_domain() -> None:
    settings = Auth0Settings.from_env(TENANT, env_file=None)
    assert settings.domain == "dev-x.us.auth0.com"
    assert settings.audience == ("https://api.example.com",)
    assert settings.issuer == "https://dev-x.us.auth0.com/"
    assert settings.algorithms == ("RS256",)
    assert settings.jwks_url == "https://dev-x.us.auth0.com/.well-known/jwks.json"
    assert (settings.leeway, settings.jwks_cache_ttl, settings.jwks_refresh_cooldown) == (5.0, 600.0, 30.0)
    assert (settings.jwks_fetch_timeout, settings.jwks_retry_interval, settings.max_token_bytes) == (5.0, 5.0, 8192)
    assert settings.jwks_max_stale == 14400.0


@pytest.mark.parametrize(
    "domain",
    ["dev-x.us.auth0.com", "https://dev-x.us.auth0.com/", " HTTPS://dev-x.us.auth0.com ", "dev-x.us.auth0.com/"],
)
def test_domain_is_normalised(domain: str) -> None:
    settings = Auth0Settings.from_env({**TENANT, "AUTH0_DOMAIN": domain}, env_file=None)
    assert settings.domain == "dev-x.us.auth0.com"
    assert settings.issuer == "https://dev-x.us.auth0.com/"


def test_every_variable_is_read() -> None:
    environ = {
        **TENANT,
        "AUTH0_API_AUDIENCE": "https://a.example, https://b.example",
        "AUTH0_ISSUER": "https://login.example.com/",
        "AUTH0_ALGORITHMS": "RS256, ps256,ES256,RS256",
        "AUTH0_JWKS_URL": "http://127.0.0.1:8080/jwks.json",
    }
    settings = Auth0Settings.from_env(environ, env_file=None)
    assert settings.audience == ("https://a.example", "https://b.example")
    assert settings.issuer == "https://login.example.com/"
    assert settings.algorithms == ("RS256", "PS256", "ES256")
    assert settings.jwks_url == "http://127.0.0.1:8080/jwks.json"


def test_env_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# the tutorial's file\n"
        "AUTH0_DOMAIN=file-tenant.eu.auth0.com\n"
        "AUTH0_API_AUDIENCE='https://file-api.example'\n"
        'AUTH0_ALGORITHMS="RS256"\n'
    )
    from_file = Auth0Settings.from_env({}, env_file=env_file)
    assert from_file.domain == "file-tenant.eu.auth0.com"
    assert from_file.audience == ("https://file-api.example",)
    overridden = Auth0Settings.from_env({"AUTH0_DOMAIN": "env-tenant.us.auth0.com"}, env_file=env_file)
    assert overridden.domain == "env-tenant.us.auth0.com"
    assert overridden.audience == ("https://file-api.example",)


def test_a_missing_env_file_is_not_an_error(tmp_path: Path) -> None:
    assert Auth0Settings.from_env(TENANT, env_file=tmp_path / "absent.env").domain == "dev-x.us.auth0.com"


def test_os_environ_is_the_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AUTH0_DOMAIN", "os-tenant.us.auth0.com")
    monkeypatch.setenv("AUTH0_API_AUDIENCE", "https://os-api.example")
    monkeypatch.chdir(tmp_path)
    assert Auth0Settings.from_env().domain == "os-tenant.us.auth0.com"


def test_tunables_pass_through_from_env() -> None:
    settings = Auth0Settings.from_env(TENANT, env_file=None, leeway=0, jwks_cache_ttl=60.5)
    assert (settings.leeway, settings.jwks_cache_ttl) == (0, 60.5)


def test_settings_in_code_accept_a_lone_audience_string() -> None:
    settings = Auth0Settings(domain="dev-x.us.auth0.com", audience="https://api.example.com")  # type: ignore[arg-type]
    assert settings.audience == ("https://api.example.com",)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        pytest.param({}, "AUTH0_DOMAIN is not set", id="no-domain"),
        pytest.param({"AUTH0_DOMAIN": "dev-x.us.auth0.com"}, "AUTH0_API_AUDIENCE is not set", id="no-audience"),
        pytest.param({**TENANT, "AUTH0_API_AUDIENCE": " , "}, "AUTH0_API_AUDIENCE=", id="blank-audience"),
        pytest.param({**TENANT, "AUTH0_DOMAIN": "dev-x.us.auth0.com/path"}, "AUTH0_DOMAIN='dev-x", id="domain-path"),
        pytest.param({**TENANT, "AUTH0_DOMAIN": "two words"}, "AUTH0_DOMAIN='two words'", id="domain-space"),
        pytest.param({**TENANT, "AUTH0_DOMAIN": "host:notaport"}, "AUTH0_DOMAIN='host:notaport'", id="domain-port"),
        pytest.param({**TENANT, "AUTH0_ALGORITHMS": "none"}, "AUTH0_ALGORITHMS='none': symmetric", id="alg-none"),
        pytest.param({**TENANT, "AUTH0_ALGORITHMS": "RS256,HS256"}, "AUTH0_ALGORITHMS='HS256'", id="alg-hs256"),
        pytest.param({**TENANT, "AUTH0_ALGORITHMS": "XY999"}, "AUTH0_ALGORITHMS='XY999': unknown", id="alg-unknown"),
        pytest.param({**TENANT, "AUTH0_ALGORITHMS": " , "}, "AUTH0_ALGORITHMS=''", id="alg-empty"),
        pytest.param(
            {**TENANT, "AUTH0_JWKS_URL": "http://keys.example.com/jwks.json"},
            "AUTH0_JWKS_URL='http://keys.example.com/jwks.json': must be an https://",
            id="jwks-http-remote",
        ),
        pytest.param({**TENANT, "AUTH0_JWKS_URL": "ftp://x/jwks"}, "AUTH0_JWKS_URL='ftp://x/jwks'", id="jwks-ftp"),
        pytest.param({**TENANT, "AUTH0_JWKS_URL": "https://[::1"}, "AUTH0_JWKS_URL='https://[::1'", id="jwks-broken"),
    ],
)
def test_configuration_errors_name_the_variable_and_value(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)) as raised:
        Auth0Settings.from_env(environ, env_file=None)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("url", ["http://localhost:3000/jwks", "http://127.0.0.5/jwks", "http://[::1]:9/jwks"])
def test_plain_http_is_allowed_for_loopback_only(url: str) -> None:
    assert Auth0Settings.from_env({**TENANT, "AUTH0_JWKS_URL": url}, env_file=None).jwks_url == url


@pytest.mark.parametrize(
    ("tunable", "value"),
    [
        ("leeway", -1),
        ("leeway", float("nan")),
        ("jwks_cache_ttl", 0),
        ("jwks_refresh_cooldown", float("inf")),
        ("jwks_fetch_timeout", "5"),
        ("jwks_retry_interval", True),
        ("jwks_max_stale", -1),
        ("jwks_max_stale", float("inf")),
        ("max_token_bytes", 10),
        ("max_token_bytes", 8192.5),
        ("prefetch_keys", "yes"),
        ("jwks_cache_control", 1),
    ],
)
def test_bad_tunables_are_refused(tunable: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(f"{tunable}={value!r}")):
        Auth0Settings.from_env(TENANT, env_file=None, **{tunable: value})


def test_settings_are_frozen() -> None:
    settings = Auth0Settings.from_env(TENANT, env_file=None)
    with pytest.raises(AttributeError):
        settings.domain = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("variable", "text", "field", "value"),
    [
        ("AUTH0_LEEWAY", "10", "leeway", 10.0),
        ("AUTH0_LEEWAY", "0", "leeway", 0.0),
        ("AUTH0_JWKS_CACHE_TTL", "3600", "jwks_cache_ttl", 3600.0),
        ("AUTH0_JWKS_REFRESH_COOLDOWN", "12.5", "jwks_refresh_cooldown", 12.5),
        ("AUTH0_JWKS_FETCH_TIMEOUT", " 2 ", "jwks_fetch_timeout", 2.0),
        ("AUTH0_JWKS_RETRY_INTERVAL", "1", "jwks_retry_interval", 1.0),
        ("AUTH0_JWKS_MAX_STALE", "0", "jwks_max_stale", 0.0),
        ("AUTH0_MAX_TOKEN_BYTES", "16384", "max_token_bytes", 16384),
        ("AUTH0_TOKEN_CACHE_SIZE", "0", "token_cache_size", 0),
    ],
)
def test_every_tunable_is_read_from_the_environment(variable: str, text: str, field: str, value: Any) -> None:
    settings = Auth0Settings.from_env({**TENANT, variable: text}, env_file=None)
    assert getattr(settings, field) == value
    assert type(getattr(settings, field)) is type(value)


@pytest.mark.parametrize(
    ("variable", "text", "message"),
    [
        ("AUTH0_LEEWAY", "five", "AUTH0_LEEWAY='five': must be a number"),
        ("AUTH0_LEEWAY", "-1", "AUTH0_LEEWAY='-1': must be a finite number >= 0"),
        ("AUTH0_JWKS_CACHE_TTL", "0", "AUTH0_JWKS_CACHE_TTL='0': must be a finite number > 0"),
        ("AUTH0_JWKS_REFRESH_COOLDOWN", "inf", "AUTH0_JWKS_REFRESH_COOLDOWN='inf': must be a finite number > 0"),
        ("AUTH0_JWKS_FETCH_TIMEOUT", "nan", "AUTH0_JWKS_FETCH_TIMEOUT='nan': must be a finite number > 0"),
        ("AUTH0_JWKS_RETRY_INTERVAL", "5s", "AUTH0_JWKS_RETRY_INTERVAL='5s': must be a number"),
        ("AUTH0_JWKS_MAX_STALE", "-0.5", "AUTH0_JWKS_MAX_STALE='-0.5': must be a finite number >= 0"),
        ("AUTH0_MAX_TOKEN_BYTES", "8k", "AUTH0_MAX_TOKEN_BYTES='8k': must be an integer"),
        ("AUTH0_MAX_TOKEN_BYTES", "10", "AUTH0_MAX_TOKEN_BYTES='10': must be an integer >= 64"),
        ("AUTH0_TOKEN_CACHE_SIZE", "1.5", "AUTH0_TOKEN_CACHE_SIZE='1.5': must be an integer"),
        ("AUTH0_TOKEN_CACHE_SIZE", "-1", "AUTH0_TOKEN_CACHE_SIZE='-1': must be an integer >= 0"),
    ],
)
def test_a_bad_tunable_in_the_environment_is_named_with_its_value(variable: str, text: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Auth0Settings.from_env({**TENANT, variable: text}, env_file=None)
    assert str(raised.value) == message


def test_tunables_come_from_the_env_file_and_keywords_win(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("AUTH0_LEEWAY=30\nAUTH0_TOKEN_CACHE_SIZE=7\nAUTH0_JWKS_CACHE_TTL=60\n")
    settings = Auth0Settings.from_env({**TENANT, "AUTH0_JWKS_CACHE_TTL": "120"}, env_file=env_file, token_cache_size=3)
    assert (settings.leeway, settings.jwks_cache_ttl, settings.token_cache_size) == (30.0, 120.0, 3)


def test_an_empty_domain_in_code_is_named() -> None:
    with pytest.raises(ConfigurationError, match=re.escape("AUTH0_DOMAIN='': expected a tenant host")):
        Auth0Settings(domain=" , ", audience=("https://api.example.com",))


# --- DPoP -------------------------------------------------------------------------------------


def test_dpop_defaults() -> None:
    settings = Auth0Settings.from_env(TENANT, env_file=None)
    assert (settings.dpop, settings.dpop_algorithms, settings.dpop_max_age, settings.dpop_leeway) == (
        "allowed",
        ("ES256",),
        300.0,
        30.0,
    )
    assert (settings.dpop_origins, settings.dpop_trusted_proxies, settings.dpop_replay_url) == ((), (), "")
    assert settings.dpop_replay_capacity == 100_000


def test_every_dpop_variable_is_read() -> None:
    settings = Auth0Settings.from_env(
        {
            **TENANT,
            "AUTH0_DPOP": " Required ",
            "AUTH0_DPOP_ALGORITHMS": "es256, EdDSA,PS256,ES256",
            "AUTH0_DPOP_MAX_AGE": "60",
            "AUTH0_DPOP_LEEWAY": "0",
            "AUTH0_DPOP_ORIGINS": "https://API.example.com:443/, http://localhost:8000",
            "AUTH0_DPOP_TRUSTED_PROXIES": "10.0.0.0/8, ::1",
            "AUTH0_DPOP_REPLAY_URL": "rediss://:secret@cache.example.com:6380/2",
            "AUTH0_DPOP_REPLAY_CAPACITY": "50",
        },
        env_file=None,
    )
    assert settings.dpop == "required"
    assert settings.dpop_algorithms == ("ES256", "EdDSA", "PS256")
    assert (settings.dpop_max_age, settings.dpop_leeway, settings.dpop_replay_capacity) == (60.0, 0.0, 50)
    assert settings.dpop_origins == ("https://api.example.com", "http://localhost:8000")
    assert settings.dpop_trusted_proxies == ("10.0.0.0/8", "::1")
    assert settings.dpop_replay_url == "rediss://:secret@cache.example.com:6380/2"


@pytest.mark.parametrize(
    ("variable", "text", "message"),
    [
        ("AUTH0_DPOP", "maybe", "AUTH0_DPOP='maybe': must be one of allowed, required, disabled"),
        ("AUTH0_DPOP_ALGORITHMS", "none", "AUTH0_DPOP_ALGORITHMS='none': a proof must be signed with a private key"),
        ("AUTH0_DPOP_ALGORITHMS", "ES256,HS256", "AUTH0_DPOP_ALGORITHMS='HS256': a proof must be signed"),
        ("AUTH0_DPOP_ALGORITHMS", "XY1", "AUTH0_DPOP_ALGORITHMS='XY1': unknown algorithm"),
        ("AUTH0_DPOP_ALGORITHMS", " , ", "AUTH0_DPOP_ALGORITHMS='': name at least one algorithm"),
        ("AUTH0_DPOP_MAX_AGE", "0", "AUTH0_DPOP_MAX_AGE='0': must be a finite number > 0"),
        ("AUTH0_DPOP_LEEWAY", "-1", "AUTH0_DPOP_LEEWAY='-1': must be a finite number >= 0"),
        ("AUTH0_DPOP_REPLAY_CAPACITY", "0", "AUTH0_DPOP_REPLAY_CAPACITY='0': must be an integer >= 1"),
        ("AUTH0_DPOP_ORIGINS", "https://api.example.com/v1", "AUTH0_DPOP_ORIGINS='https://api.example.com/v1'"),
        ("AUTH0_DPOP_ORIGINS", "api.example.com", "AUTH0_DPOP_ORIGINS='api.example.com': give an origin"),
        ("AUTH0_DPOP_ORIGINS", "https://u@api.example.com", "AUTH0_DPOP_ORIGINS='https://u@api.example.com'"),
        ("AUTH0_DPOP_ORIGINS", "https://api.example.com?x", "AUTH0_DPOP_ORIGINS='https://api.example.com?x'"),
        ("AUTH0_DPOP_TRUSTED_PROXIES", "proxy.local", "AUTH0_DPOP_TRUSTED_PROXIES='proxy.local': give IP"),
        # The URL may hold a password: only its scheme is shown.
        ("AUTH0_DPOP_REPLAY_URL", "http://:pw@cache:6379", "AUTH0_DPOP_REPLAY_URL='http://...': must start with"),
    ],
)
def test_a_bad_dpop_setting_is_named_in_one_line(variable: str, text: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Auth0Settings.from_env({**TENANT, variable: text}, env_file=None)
    assert str(raised.value).startswith(message), str(raised.value)
    assert "\n" not in str(raised.value)
    assert "pw" not in str(raised.value)


def test_dpop_settings_in_code_accept_lone_strings_and_keywords_win() -> None:
    settings = Auth0Settings.from_env(
        {**TENANT, "AUTH0_DPOP": "disabled"}, env_file=None, dpop="required", dpop_algorithms="PS256"
    )
    assert (settings.dpop, settings.dpop_algorithms) == ("required", ("PS256",))


def test_the_replay_url_is_left_out_of_the_settings_repr() -> None:
    settings = Auth0Settings.from_env(
        {**TENANT, "AUTH0_DPOP_REPLAY_URL": "redis://:hunter2@cache:6379/0"}, env_file=None
    )
    assert "hunter2" not in repr(settings)
    assert settings.dpop_replay_url == "redis://:hunter2@cache:6379/0"


def test_validity_rule_settings_are_read_from_the_environment() -> None:
    settings = Auth0Settings.from_env(
        {
            **TENANT,
            "AUTH0_MAX_TOKEN_AGE": "3600",
            "AUTH0_TOKEN_PROFILE": "RFC9068",
            "AUTH0_ALLOWED_CLIENTS": "abc, def,abc",
            "AUTH0_REQUIRED_CLAIMS": "org_id",
        },
        env_file=None,
    )
    assert (settings.max_token_age, settings.token_profile) == (3600.0, "rfc9068")
    assert (settings.allowed_clients, settings.required_claims) == (("abc", "def"), ("org_id",))
    defaults = Auth0Settings.from_env(TENANT, env_file=None)
    assert (defaults.max_token_age, defaults.token_profile, defaults.allowed_clients, defaults.required_claims) == (
        0.0,
        "",
        (),
        (),
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"token_profile": "jwt"}, "AUTH0_TOKEN_PROFILE='jwt': must be empty or 'rfc9068'"),
        ({"allowed_clients": ("a", " ")}, "AUTH0_ALLOWED_CLIENTS=('a', ' '): give non-empty names"),
        ({"required_claims": (1,)}, "AUTH0_REQUIRED_CLAIMS=(1,): give non-empty names"),
        ({"max_token_age": -1}, "max_token_age=-1: must be a finite number >= 0"),
    ],
)
def test_bad_validity_rule_settings_are_named(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Auth0Settings.from_env(TENANT, env_file=None, **fields)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    "variables",
    [
        pytest.param({"AUTH0_TRUSTED_PROXIES": "10.0.0.0/8, ::1"}, id="the-one-name"),
        pytest.param({"AUTH0_DPOP_TRUSTED_PROXIES": "10.0.0.0/8, ::1"}, id="the-old-dpop-name"),
        pytest.param({"AUTH0_MTLS_TRUSTED_PROXIES": "10.0.0.0/8, ::1"}, id="the-old-mtls-name"),
        pytest.param(
            {"AUTH0_TRUSTED_PROXIES": "10.0.0.0/8, ::1", "AUTH0_MTLS_TRUSTED_PROXIES": "::1, 10.0.0.0/8"},
            id="names-that-agree",
        ),
    ],
)
def test_one_set_of_trusted_proxies_serves_dpop_and_mtls(variables: dict[str, str]) -> None:
    settings = Auth0Settings.from_env({**TENANT, **variables}, env_file=None)
    assert settings.trusted_proxies == ("10.0.0.0/8", "::1")  # the one name's order, where it is given
    assert settings.dpop_trusted_proxies == settings.mtls_trusted_proxies == settings.trusted_proxies


# --- issue 31: .env as users write it, names users reach for, values that can never match -----


def test_the_env_file_is_read_by_python_dotenv_s_rules(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "export AUTH0_DOMAIN=dev-x.us.auth0.com\n"  # a file also sourced by a shell
        "AUTH0_API_AUDIENCE=https://api.example.com # my api\n"  # a comment after the value
        "AUTH0_LEEWAY='10'\n"
        "AUTH0_REQUIRED_CLAIMS\n"  # no "=": sets nothing
    )
    settings = Auth0Settings.from_env({}, env_file=env_file)
    assert settings.domain == "dev-x.us.auth0.com"
    assert settings.audience == ("https://api.example.com",)
    assert (settings.leeway, settings.required_claims) == (10.0, ())


@pytest.mark.parametrize(
    ("environ", "audience"),
    [
        pytest.param({"AUTH0_AUDIENCE": "https://api.example.com"}, ("https://api.example.com",), id="alias-alone"),
        pytest.param(
            {"AUTH0_AUDIENCE": "https://a.example", "AUTH0_API_AUDIENCE": "https://a.example"},
            ("https://a.example",),
            id="both-the-same",
        ),
    ],
)
def test_auth0_audience_is_an_alias_of_the_api_audience(environ: dict[str, str], audience: tuple[str, ...]) -> None:
    # AUTH0_AUDIENCE is the name Auth0's own FastAPI SDK documents.
    settings = Auth0Settings.from_env({"AUTH0_DOMAIN": "dev-x.us.auth0.com", **environ}, env_file=None)
    assert settings.audience == audience


def test_two_different_audience_variables_are_refused_naming_both() -> None:
    environ = {"AUTH0_DOMAIN": "d.auth0.com", "AUTH0_AUDIENCE": "https://a.example", "AUTH0_API_AUDIENCE": "https://b"}
    with pytest.raises(ConfigurationError) as refused:
        Auth0Settings.from_env(environ, env_file=None)
    assert str(refused.value) == (
        "AUTH0_API_AUDIENCE='https://b' and AUTH0_AUDIENCE='https://a.example': two audiences; set one of them"
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        pytest.param(
            {"AUTH0_DOMAIN": '"dev-x.us.auth0.com"'},
            "AUTH0_DOMAIN='\"dev-x.us.auth0.com\"': holds quotes, which your shell or compose file kept: remove them",
            id="quoted-domain",
        ),
        pytest.param(
            {"AUTH0_ISSUER": "'https://dev-x.us.auth0.com/'"},
            "AUTH0_ISSUER=\"'https://dev-x.us.auth0.com/'\": holds quotes, which your shell or compose file kept: "
            "remove them",
            id="quoted-issuer",
        ),
        pytest.param(
            {"AUTH0_ISSUER": "https://dev-x.us.auth0.com"},
            "AUTH0_ISSUER='https://dev-x.us.auth0.com': Auth0's issuer for this domain is exactly "
            "'https://dev-x.us.auth0.com/' (lower case, with the trailing slash): unset AUTH0_ISSUER to use it",
            id="issuer-without-slash",
        ),
        pytest.param(
            {"AUTH0_ISSUER": "https://DEV-X.us.auth0.com/"},
            "AUTH0_ISSUER='https://DEV-X.us.auth0.com/': Auth0's issuer for this domain is exactly "
            "'https://dev-x.us.auth0.com/' (lower case, with the trailing slash): unset AUTH0_ISSUER to use it",
            id="issuer-upper-case",
        ),
    ],
)
def test_a_value_no_token_could_ever_match_is_refused_at_start_up(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        Auth0Settings.from_env({**TENANT, **environ}, env_file=None)
    assert str(refused.value) == message


def test_an_issuer_of_another_host_is_still_taken_as_given() -> None:
    # A custom issuer (a proxy's, a test tenant's) is compared byte for byte: not second-guessed.
    settings = Auth0Settings.from_env({**TENANT, "AUTH0_ISSUER": "https://login.example.com"}, env_file=None)
    assert settings.issuer == "https://login.example.com"


@pytest.mark.parametrize(
    ("variable", "line"),
    [
        pytest.param(
            "AUTH0_DPOP_REQUIRED", "AUTH0_DPOP_REQUIRED is not a setting of auth0-asgi: did you mean AUTH0_DPOP?",
            id="setting-spelt-as-its-value",
        ),
        pytest.param(
            "AUTH0_DOMIAN", "AUTH0_DOMIAN is not a setting of auth0-asgi: did you mean AUTH0_DOMAIN?", id="typo"
        ),
        pytest.param(
            "AUTH0_FAVOURITE_COLOUR", "AUTH0_FAVOURITE_COLOUR is not a setting of auth0-asgi: it is ignored",
            id="nothing-near",
        ),
    ],
)  # fmt: skip
def test_an_unknown_auth0_variable_is_warned_of_with_the_closest_name(
    variable: str, line: str, caplog: pytest.LogCaptureFixture
) -> None:
    Auth0Settings.from_env({**TENANT, variable: "x", "AUTH0_CLIENT_ID": "abc"}, env_file=None)
    warnings = [record for record in caplog.records if record.levelname == "WARNING"]
    assert [record.getMessage() for record in warnings] == [line]  # other Auth0 libraries' names are at home
    assert {name: value for name, value in vars(warnings[0]).items() if name.startswith("auth0_asgi_")} == {
        "auth0_asgi_event": "unknown_variable",
        "auth0_asgi_reason": "not_a_setting",
        "auth0_asgi_variables": [variable],
    }


def test_an_unknown_variable_is_warned_of_once_however_often_the_settings_are_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    for _ in range(3):  # the middleware, the OpenAPI helper, transport_security(): each reads them
        Auth0Settings.from_env({**TENANT, "AUTH0_LEWAY": "10"}, env_file=None)
    assert [record.getMessage() for record in caplog.records] == [
        "AUTH0_LEWAY is not a setting of auth0-asgi: did you mean AUTH0_LEEWAY?"
    ]


def test_known_variables_draw_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    Auth0Settings.from_env({**TENANT, "AUTH0_DPOP": "required", "AUTH0_DEMO_URL": "x"}, env_file=None)
    assert caplog.records == []
