"""One key-set fetch: where the set lives, the HTTP client, the size and time caps, the TTL it earns.

`JWKSCache` decides when to fetch (TTL, cooldown, retries, serving stale keys); this says how.
"""

from __future__ import annotations

import httpx

from auth0_asgi._tokens.jwk import SigningKey, parse_jwks
from auth0_asgi.discovery import Discovery
from auth0_asgi.errors import JWKSFetchError

from .fetch import DEFAULT_MAX_BODY_BYTES, fetch_document

__all__ = ["KeySetFetcher"]


class KeySetFetcher:
    """Fetches and parses one key set; see `JWKSCache` for the arguments, which it passes on."""

    def __init__(
        self,
        url: str,
        *,
        algorithms: frozenset[str],
        http_client: httpx.AsyncClient | None,
        cache_ttl: float,
        cache_control_ttl: tuple[float, float] | None,
        discovery: Discovery | None,
        fetch_timeout: float,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.url = url
        self.fetch_count = 0
        self._algorithms = algorithms
        self._client = http_client
        self._owns_client = http_client is None
        self._default_ttl = cache_ttl
        self._cache_control_ttl = cache_control_ttl
        self._discovery = discovery
        self._fetch_timeout = fetch_timeout
        self._max_body_bytes = max_body_bytes

    @property
    def client(self) -> httpx.AsyncClient | None:
        """The HTTP client in use: the injected one, or the one made on the first fetch."""
        return self._client

    async def fetch(self) -> tuple[dict[str, SigningKey], float]:
        """The usable keys by kid and the TTL they earn; raises JWKSFetchError for any failure,
        a set without a single usable key included."""
        self.fetch_count += 1
        if self._discovery is not None:
            self.url = await self._discovery.jwks_uri(self._http_client())
        body, max_age = await fetch_document(
            self._http_client(), self.url, time_limit=self._fetch_timeout, max_body_bytes=self._max_body_bytes
        )
        keys = parse_jwks(body, self._algorithms)
        if not keys:
            # A set with nothing we can use (only enc keys, other key types, one kid twice) is
            # a broken answer, not a revocation of every key: keep what we hold.
            raise JWKSFetchError("the key set has no usable signing key", code="no_usable_keys")
        return keys, self._ttl_for(max_age)

    async def aclose(self) -> None:
        """Close the HTTP client if this fetcher made it."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    def _http_client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient()
        return self._client

    def _ttl_for(self, max_age: float | None) -> float:
        # Auth0 answers with a max-age of seconds: followed blindly, every worker would refetch
        # every few seconds. Honoured only when enabled, and clamped to the configured bounds.
        if self._cache_control_ttl is None or max_age is None:
            return self._default_ttl
        lowest, highest = self._cache_control_ttl
        return min(max(max_age, lowest), highest)
