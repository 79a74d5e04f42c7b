"""OIDC discovery: a trusted issuer's key-set URL read from its openid-configuration document.

Only with `Auth0Settings.discovery`. The document is fetched from the configured issuer, never
from a URL a token names; its `issuer` must equal the configured issuer exactly (OpenID
Connect Discovery 1.0 §4.3) and its `jwks_uri` must obey the same rules as a configured
AUTH0_JWKS_URL (https, or http to a loopback host). A discovered URL is cached for the key
TTL and kept while rediscovery fails, as keys are.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import httpx

from ._config.domains import check_jwks_url
from ._keys.fetch import fetch_document
from ._log import fields
from ._tokens.jws import json_object
from .errors import ConfigurationError, JWKSFetchError

__all__ = ["Discovery"]

logger = logging.getLogger("auth0_asgi")

_DOCUMENT_PATH = ".well-known/openid-configuration"
_MAX_DOCUMENT_BYTES = 64 * 1024


def _discovery_failed(message: str) -> JWKSFetchError:
    return JWKSFetchError(message, code="discovery_failed")


class Discovery:
    """The `jwks_uri` of `issuer`, discovered and cached.

    - `issuer`: the configured issuer, exactly as tokens carry it.
    - `ttl`: seconds a discovered URL is used before it is discovered again.
    - `time_limit`: seconds one discovery fetch may take in all.
    - `clock`: monotonic seconds; default `time.monotonic`.
    """

    def __init__(
        self, issuer: str, *, ttl: float, time_limit: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.issuer = issuer
        self.url = issuer.rstrip("/") + "/" + _DOCUMENT_PATH
        self._ttl = ttl
        self._time_limit = time_limit
        self._clock = clock
        self._jwks_uri: str | None = None
        self._expires_at = -math.inf
        self.fetch_count = 0
        """How many discovery documents were fetched: for tests and metrics."""

    async def jwks_uri(self, client: httpx.AsyncClient) -> str:
        """The key-set URL; raises JWKSFetchError when none was ever discovered."""
        if self._jwks_uri is not None and self._clock() < self._expires_at:
            return self._jwks_uri
        try:
            discovered = await self._discover(client)
        except JWKSFetchError as exc:
            if self._jwks_uri is None:
                raise
            logger.warning(
                "discovery at %s failed (%s); keeping %s",
                self.url,
                exc,
                self._jwks_uri,
                extra=fields("discovery_failed", exc.code, url=self.url),
            )
            self._expires_at = self._clock() + self._ttl
            return self._jwks_uri
        self._jwks_uri, self._expires_at = discovered, self._clock() + self._ttl
        return discovered

    async def _discover(self, client: httpx.AsyncClient) -> str:
        self.fetch_count += 1
        document = await fetch_document(
            client, self.url, time_limit=self._time_limit, max_body_bytes=_MAX_DOCUMENT_BYTES
        )
        configuration = json_object(document.body, "discovery document", _discovery_failed)
        if configuration.get("issuer") != self.issuer:
            # §4.3: a document for another issuer (or a misconfigured proxy) is not ours.
            raise JWKSFetchError("the discovery document names another issuer", code="discovery_failed")
        jwks_uri = configuration.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise JWKSFetchError("the discovery document has no jwks_uri", code="discovery_failed")
        try:
            check_jwks_url(jwks_uri)
        except ConfigurationError as exc:
            raise JWKSFetchError(
                "the discovered jwks_uri is not https:// (or http:// to loopback)", code="discovery_failed"
            ) from exc
        return jwks_uri
