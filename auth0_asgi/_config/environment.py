"""Auth0Settings from the environment: which variable holds which field, and how each is read.

`Auth0Settings` checks the values, however they came; this only turns AUTH0_* text into them.
The variables are the environment's over a ``.env`` file's, the file read by python-dotenv's
rules (comments, ``export``, quotes), as pydantic-settings and ``uvicorn --env-file`` read it.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any, Final

from dotenv import dotenv_values

from auth0_asgi._log import fields
from auth0_asgi.errors import ConfigurationError

from .fields import Tunable, boolean, json_object, split_list
from .tool_scopes import parse_tool_scopes

__all__ = [
    "KNOWN_VARIABLES",
    "LISTS",
    "RESOURCE_TEXTS",
    "SWITCHES",
    "TUNABLES",
    "read_environment",
    "read_variables",
    "warn_unknown",
]

logger = logging.getLogger("auth0_asgi")

#: The on/off fields, each also read from AUTH0_<FIELD> by `from_env`.
SWITCHES: Final = ("prefetch_keys", "jwks_cache_control", "discovery", "cors_preflight")

#: The numeric fields, each also read from AUTH0_<FIELD> by `from_env`.
TUNABLES: Final[Mapping[str, Tunable]] = {
    "leeway": Tunable(float, 0, True),
    "jwks_cache_ttl": Tunable(float, 0, False),
    "jwks_refresh_cooldown": Tunable(float, 0, False),
    "jwks_fetch_timeout": Tunable(float, 0, False),
    "jwks_retry_interval": Tunable(float, 0, False),
    "jwks_max_stale": Tunable(float, 0, True),
    "jwks_cache_ttl_min": Tunable(float, 0, False),
    "jwks_cache_ttl_max": Tunable(float, 0, False),
    "max_token_bytes": Tunable(int, 64, True),
    "max_target_bytes": Tunable(int, 256, True),
    "token_cache_size": Tunable(int, 0, True),
    "dpop_max_age": Tunable(float, 0, False),
    "dpop_leeway": Tunable(float, 0, True),
    "dpop_replay_capacity": Tunable(int, 1, True),
    "max_token_age": Tunable(float, 0, True),
}

#: The list fields, each also read from AUTH0_<FIELD> by `from_env` as comma-separated text.
LISTS: Final = (
    "dpop_algorithms",
    "dpop_origins",
    "trusted_proxies",
    "dpop_trusted_proxies",
    "allowed_clients",
    "required_claims",
    "anonymous_prefixes",
    "mtls_trusted_proxies",
)
#: The resource's text fields, each also read from AUTH0_<FIELD> by `from_env`.
RESOURCE_TEXTS: Final = (
    "resource_url",
    "resource_name",
    "resource_documentation",
    "acr_claim",
    "amr_claim",
    "auth_time_claim",
    "mtls",
    "mtls_header_format",
    "mtls_header",
)


#: Every variable `read_environment` reads, and the offline demo's (demo_app, the CLI).
KNOWN_VARIABLES: Final = frozenset(
    {
        "AUTH0_DOMAIN",
        "AUTH0_API_AUDIENCE",
        "AUTH0_AUDIENCE",
        "AUTH0_ISSUER",
        "AUTH0_ALGORITHMS",
        "AUTH0_JWKS_URL",
        "AUTH0_TOOL_SCOPES",
        "AUTH0_STEP_UP",
        "AUTH0_DPOP",
        "AUTH0_DPOP_REPLAY_URL",
        "AUTH0_TOKEN_PROFILE",
        *(f"AUTH0_{name.upper()}" for name in (*TUNABLES, *SWITCHES, *LISTS, *RESOURCE_TEXTS)),
        "AUTH0_DEMO_URL",
        "AUTH0_DEMO_OFFLINE",
        "AUTH0_DEMO_KEY_FILE",
        "AUTH0_DEMO_ALLOW_REMOTE",
        "AUTH0_PROTECTED_PREFIXES",
    }
)
#: Variables other Auth0 libraries read (a login app's, a machine client's): at home beside ours.
_OTHER_LIBRARIES: Final = frozenset(
    {
        "AUTH0_CLIENT_ID",
        "AUTH0_CLIENT_SECRET",
        "AUTH0_SECRET",
        "AUTH0_BASE_URL",
        "AUTH0_APP_BASE_URL",
        "AUTH0_ISSUER_BASE_URL",
        "AUTH0_CALLBACK_URL",
        "AUTH0_REDIRECT_URI",
        "AUTH0_SCOPE",
        "AUTH0_CONNECTION",
        "AUTH0_ORGANIZATION",
        "AUTH0_MANAGEMENT_API_TOKEN",
    }
)


def read_variables(
    environ: Mapping[str, str] | None = None, env_file: str | os.PathLike[str] | None = ".env"
) -> dict[str, str]:
    """The variables `environ` (default `os.environ`) and the `env_file` (if it exists) give,
    the environment winning. A line of the file without ``=`` sets nothing."""
    source = os.environ if environ is None else environ
    from_file = dotenv_values(env_file) if env_file is not None and os.path.isfile(env_file) else {}
    return {**{name: value for name, value in from_file.items() if value is not None}, **source}


#: The unknown variables already warned of (an environment's names: a handful).
_WARNED_OF: Final[set[str]] = set()


def warn_unknown(variables: Iterable[str]) -> None:
    """One WARNING naming each AUTH0_* variable in `variables` that nothing here reads, with the
    closest name that something does ("AUTH0_DPOP_REQUIRED: did you mean AUTH0_DPOP?")."""
    unknown = sorted(
        name
        for name in variables
        if name.startswith("AUTH0_")
        and name not in KNOWN_VARIABLES
        and name not in _OTHER_LIBRARIES
        and name not in _WARNED_OF
    )
    if not unknown:
        return
    # Once per process: the middleware, FastAPI's OpenAPI helper and transport_security() each
    # read the settings at start-up, and the same line three times says nothing more.
    _WARNED_OF.update(unknown)
    logger.warning(
        "%s",
        "; ".join(_unknown(name) for name in unknown),
        extra=fields("unknown_variable", "not_a_setting", variables=unknown),
    )


def _unknown(name: str) -> str:
    # A known name and a suffix is a setting spelt as its value (AUTH0_DPOP_REQUIRED): the known one.
    extended = [known for known in KNOWN_VARIABLES if name.startswith(known + "_")]
    closest = (
        max(extended, key=len)
        if extended
        else next(iter(difflib.get_close_matches(name, KNOWN_VARIABLES, 1, 0.75)), None)
    )
    if closest is None:
        return f"{name} is not a setting of auth0-asgi: it is ignored"
    return f"{name} is not a setting of auth0-asgi: did you mean {closest}?"


def _audience(variables: Mapping[str, str]) -> str:
    """AUTH0_API_AUDIENCE, or AUTH0_AUDIENCE (the name Auth0's FastAPI SDK documents)."""
    ours, theirs = variables.get("AUTH0_API_AUDIENCE", ""), variables.get("AUTH0_AUDIENCE", "")
    if ours.strip() and theirs.strip() and split_list(ours) != split_list(theirs):
        raise ConfigurationError(
            f"AUTH0_API_AUDIENCE={ours!r} and AUTH0_AUDIENCE={theirs!r}: two audiences; set one of them"
        )
    audience = ours if ours.strip() else theirs
    if not audience.strip():
        raise ConfigurationError("AUTH0_API_AUDIENCE is not set: give your API identifier from the Auth0 dashboard")
    return audience


def read_environment(variables: Mapping[str, str], tunables: Mapping[str, Any]) -> dict[str, Any]:
    """The Auth0Settings keyword arguments `variables` (`read_variables`) give, `tunables`
    (keyword fields) winning. Raises ConfigurationError naming the variable that is missing or bad."""

    def config(name: str, default: str = "") -> str:
        return variables.get(name, default)

    domain = config("AUTH0_DOMAIN", default="")
    if not domain.strip():
        raise ConfigurationError("AUTH0_DOMAIN is not set: give your tenant domain, such as 'dev-x.us.auth0.com'")
    audience = _audience(variables)
    from_environment: dict[str, Any] = {}
    for name, tunable in TUNABLES.items():
        variable = f"AUTH0_{name.upper()}"
        text = config(variable, default="")
        if name not in tunables and text.strip():
            from_environment[name] = tunable.parse(variable, text)
    for name in SWITCHES:
        variable = f"AUTH0_{name.upper()}"
        text = config(variable, default="").strip()
        if text and name not in tunables:
            from_environment[name] = boolean(variable, text)
    for name in LISTS:
        text = config(f"AUTH0_{name.upper()}", default="")
        if text.strip() and name not in tunables:
            from_environment[name] = split_list(text)
    tool_scopes = config("AUTH0_TOOL_SCOPES", default="").strip()
    if tool_scopes and "tool_scopes" not in tunables:
        from_environment["tool_scopes"] = parse_tool_scopes(tool_scopes)
    step_up = config("AUTH0_STEP_UP", default="").strip()
    if step_up and "step_up" not in tunables:
        from_environment["step_up"] = json_object("AUTH0_STEP_UP", step_up)
    for name in ("dpop", "dpop_replay_url", "token_profile", *RESOURCE_TEXTS):
        text = config(f"AUTH0_{name.upper()}", default="").strip()
        if text and name not in tunables:
            from_environment[name] = text
    return {
        "domain": domain,
        "audience": split_list(audience),
        "issuer": config("AUTH0_ISSUER", default="").strip(),
        "algorithms": split_list(config("AUTH0_ALGORITHMS", default="RS256")),
        "jwks_url": config("AUTH0_JWKS_URL", default="").strip(),
        **from_environment,
        **tunables,
    }
