"""What a middleware builds from its settings before the first request: key caches and the replay store."""

from __future__ import annotations

import httpx

from .discovery import Discovery
from .errors import ConfigurationError
from .events import Auth0Observer
from .jwks import JWKSCache
from .replay import InMemoryReplayStore, ReplayStore
from .settings import Auth0Settings

__all__ = ["key_caches_for", "replay_store_for"]


def replay_store_for(settings: Auth0Settings) -> ReplayStore:
    """The replay store `settings` name: Redis at `dpop_replay_url`, else one in this process."""
    if settings.dpop_replay_url:
        try:
            from .redis import RedisReplayStore
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
