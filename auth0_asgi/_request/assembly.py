"""What a middleware builds from its settings before the first request: key caches and the replay store."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import Any, NamedTuple

import httpx

from auth0_asgi._tokens.step_up import StepUp
from auth0_asgi.discovery import Discovery
from auth0_asgi.errors import ConfigurationError
from auth0_asgi.events import Auth0Observer
from auth0_asgi.jwks import JWKSCache
from auth0_asgi.replay import InMemoryReplayStore, ReplayStore
from auth0_asgi.resource import ProtectedResource
from auth0_asgi.rules import Rule, _step_up_rule
from auth0_asgi.settings import Auth0Settings
from auth0_asgi.user import Auth0User

__all__ = ["SDKBinding", "key_caches_for", "mcp_binding_for", "replay_store_for", "resource_for", "step_up_rules"]


class SDKBinding(NamedTuple):
    """How accepted requests are shown to the MCP SDK: the users to build, the variable to set."""

    user_factory: Callable[[Mapping[str, Any], str], Auth0User]
    user_context: ContextVar[Any]


def mcp_binding_for(settings: Auth0Settings, enabled: bool | None) -> SDKBinding | None:
    """The MCP SDK binding: with `enabled` None, when the SDK is installed and the settings name a
    resource URL (an MCP server is a protected resource); True requires the SDK; False never."""
    if enabled is False or (enabled is None and not settings.resource_url):
        return None
    if enabled is None and importlib.util.find_spec("mcp") is None:
        return None
    try:
        from auth0_asgi.mcp import sdk_user_context, user_factory
    except ImportError as exc:
        raise ConfigurationError('mcp_sdk=True needs the MCP SDK: pip install "auth0-asgi[mcp]"') from exc
    return SDKBinding(user_factory(settings.resource_url), sdk_user_context())


def step_up_rules(step_up: Mapping[str, StepUp]) -> dict[str, tuple[Rule, ...]]:
    """The settings' step-up requirements as rules, by prefix (checked after a prefix's own rules)."""
    return {prefix: (_step_up_rule(requirement),) for prefix, requirement in step_up.items()}


def resource_for(settings: Auth0Settings, scope_sets: Iterable[Iterable[str]]) -> ProtectedResource | None:
    """The protected resource `settings` describe, listing the scopes of `scope_sets`; None
    without a resource URL."""
    if not settings.resource_url:
        return None
    return ProtectedResource(
        settings.resource_url,
        authorization_servers=[t.issuer for t in settings.trusted_issuers],
        scopes={scope for scopes in scope_sets for scope in ([scopes] if isinstance(scopes, str) else scopes)},
        dpop=settings.dpop,
        dpop_algorithms=settings.dpop_algorithms,
        # Advertised only where a certificate can arrive: the common servers offer no tls extension.
        certificate_bound=settings.mtls != "disabled" and bool(settings.mtls_header_format),
        name=settings.resource_name,
        documentation=settings.resource_documentation,
    )


def replay_store_for(settings: Auth0Settings) -> ReplayStore:
    """The replay store `settings` name: Redis at `dpop_replay_url`, else one in this process."""
    if settings.dpop_replay_url:
        try:
            from auth0_asgi.redis import RedisReplayStore
        except ImportError as exc:
            raise ConfigurationError('AUTH0_DPOP_REPLAY_URL needs redis: pip install "auth0-asgi[redis]"') from exc
        return RedisReplayStore.from_url(settings.dpop_replay_url)
    return InMemoryReplayStore(settings.dpop_replay_capacity)


def key_caches_for(
    settings: Auth0Settings, http_client: httpx.AsyncClient | None, observer: Auth0Observer | None = None
) -> dict[str, JWKSCache]:
    """One JWKSCache per key set, by trusted issuer: per URL, or per issuer when discovery finds the URL."""
    if settings.discovery:  # the URL is the issuer's to say, so a cache per issuer
        return {
            t.issuer: JWKSCache.from_settings(
                settings,
                url=t.jwks_url,
                http_client=http_client,
                observer=observer,
                issuer=t.issuer,
                discovery=Discovery(t.issuer, ttl=settings.jwks_cache_ttl, time_limit=settings.jwks_fetch_timeout),
            )
            for t in settings.trusted_issuers
        }
    issuer_of: dict[str, str] = {}  # each domain has a key-set URL of its own: one issuer per URL
    for t in settings.trusted_issuers:
        issuer_of.setdefault(t.jwks_url, t.issuer)
    caches = {
        url: JWKSCache.from_settings(settings, url=url, http_client=http_client, observer=observer, issuer=issuer)
        for url, issuer in issuer_of.items()
    }
    return {t.issuer: caches[t.jwks_url] for t in settings.trusted_issuers}
