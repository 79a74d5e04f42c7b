"""Auth0Settings from the environment: which variable holds which field, and how each is read.

`Auth0Settings` checks the values, however they came; this only turns AUTH0_* text into them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from starlette.config import Config

from auth0_asgi.errors import ConfigurationError

from .fields import Tunable, boolean, json_object, split_list
from .tool_scopes import parse_tool_scopes

__all__ = ["LISTS", "RESOURCE_TEXTS", "SWITCHES", "TUNABLES", "read_environment"]

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


def read_environment(config: Config, tunables: Mapping[str, Any]) -> dict[str, Any]:
    """The Auth0Settings keyword arguments `config` (the environment and .env) gives, `tunables`
    (keyword fields) winning. Raises ConfigurationError naming the variable that is missing or bad."""
    domain = config("AUTH0_DOMAIN", default="")
    if not domain.strip():
        raise ConfigurationError("AUTH0_DOMAIN is not set: give your tenant domain, such as 'dev-x.us.auth0.com'")
    audience = config("AUTH0_API_AUDIENCE", default="")
    if not audience.strip():
        raise ConfigurationError("AUTH0_API_AUDIENCE is not set: give your API identifier from the Auth0 dashboard")
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
