"""JWKSCache: the tenant's signing keys, fetched asynchronously and cached.

Rules, in the order a lookup meets them:

1. No keys yet, or the TTL has passed: refresh. Concurrent callers share one fetch; while a
   refresh is under way, callers that already hold keys keep using them instead of waiting.
   While a task refreshes the cache in the background (`refreshing_ahead`, which the
   middleware's lifespan runs), a caller holding keys never fetches for the TTL at all: only
   a caller whose key is not held waits, and only for the one fetch in flight.
2. The kid is known: return its key.
3. The kid is unknown: refresh once, unless an unknown-kid refresh already ran within the
   cooldown. A rotated-in key is picked up at once; a flood of made-up kids costs at most
   one fetch per cooldown.
4. A failed fetch keeps the keys already held (serve stale) and is not retried before the
   retry interval; with no keys at all the caller gets SigningKeysUnavailableError (503).
   A key set without a single usable signing key counts as a failed fetch.
5. Stale keys are served for at most `max_stale` seconds past their TTL: after that the
   cache counts as empty (503), so a key the tenant removed stops verifying even while the
   key server cannot be reached.

A fetch belongs to the cache, not to the request that started it: it runs shielded from
that request's cancellation (a client timeout, a cancelled task) and always ends within
`fetch_timeout`, so its outcome serves every later lookup.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping

import anyio
import httpx

from ._keys.fetch import DEFAULT_MAX_BODY_BYTES
from ._keys.key_set import KeySetFetcher
from ._log import fields
from ._tokens.jwk import SigningKey
from .discovery import Discovery
from .errors import JWKSFetchError, SigningKeysUnavailableError, UnknownSigningKeyError
from .events import Auth0Observer, KeySetFetched, RefreshSuppressed, StaleKeysDropped, StaleKeysServed, guarded
from .settings import Auth0Settings

__all__ = ["JWKSCache", "SigningKey"]

logger = logging.getLogger("auth0_asgi")


class JWKSCache:
    """An async, single-flight, rate-limited cache of one JWKS URL.

    - `url`: the key set URL. Warning: it comes from configuration only; never pass a URL
      taken from a token header (`jku`, `x5u`): that would let the token choose its own key.
    - `algorithms`: the allow-list; keys that fit none of it are skipped.
    - `http_client`: an `httpx.AsyncClient` to use; default: one created on the first fetch
      and closed by `aclose()`. An injected client is never closed here.
    - `cache_ttl`, `refresh_cooldown`, `fetch_timeout`, `retry_interval`, `max_stale`: seconds,
      see `Auth0Settings`.
    - `discovery`: read the key-set URL from the issuer's openid-configuration on each fetch
      (cached); `url` is then only a placeholder until the first discovery.
    - `cache_control_ttl`: (lowest, highest) seconds: honour the key set's Cache-Control
      max-age, clamped to these bounds, instead of `cache_ttl`; default None: ignore it.
    - `max_body_bytes`: a larger key set document is refused; default 256 KiB.
    - `clock`: monotonic seconds; default `time.monotonic`.
    - `observer`: told of each fetch, stale keys served or dropped, and each unknown-kid
      refresh the cooldown held back (`auth0_asgi.events`); default None.
    - `issuer`: the trusted issuer whose keys these are, named in those events; default None.
    """

    def __init__(
        self,
        url: str,
        *,
        algorithms: Iterable[str],
        http_client: httpx.AsyncClient | None = None,
        cache_ttl: float = 600.0,
        cache_control_ttl: tuple[float, float] | None = None,
        discovery: Discovery | None = None,
        refresh_cooldown: float = 30.0,
        fetch_timeout: float = 5.0,
        retry_interval: float = 5.0,
        max_stale: float = 14400.0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        clock: Callable[[], float] = time.monotonic,
        observer: Auth0Observer | None = None,
        issuer: str | None = None,
    ) -> None:
        self._fetcher = KeySetFetcher(
            url,
            algorithms=frozenset(algorithms),
            http_client=http_client,
            cache_ttl=cache_ttl,
            cache_control_ttl=cache_control_ttl,
            discovery=discovery,
            fetch_timeout=fetch_timeout,
            max_body_bytes=max_body_bytes,
        )
        self._observer = guarded(observer)
        self._issuer = issuer
        self._held_ttl = cache_ttl  # the TTL the keys held were given (Cache-Control may vary it)
        self._refresh_cooldown = refresh_cooldown
        self._retry_interval = retry_interval
        self._max_stale = max_stale
        self._clock = clock
        self._keys: dict[str, SigningKey] | None = None
        self._expires_at = -math.inf
        self._retry_not_before = -math.inf
        self._last_unknown_kid_refresh = -math.inf
        self._finished_fetches = 0
        self._lock: anyio.Lock | None = None
        # Callers inside _refresh (holding or awaiting the lock): counted before the first await,
        # so that a caller holding keys sees a refresh begun a moment ago and does not queue.
        self._refreshing = 0
        self._refreshed_ahead = 0  # background tasks keeping this cache fresh (refreshing_ahead)
        self.last_failure: JWKSFetchError | None = None
        """Why the last fetch failed, or None once one succeeded: for people (``auth0-asgi check``)."""

    @property
    def url(self) -> str:
        """The key set's URL (with discovery: the one last discovered)."""
        return self._fetcher.url

    @property
    def fetch_count(self) -> int:
        """How many fetches went to the network: for tests, benchmarks and metrics."""
        return self._fetcher.fetch_count

    @classmethod
    def from_settings(
        cls,
        settings: Auth0Settings,
        *,
        url: str | None = None,
        discovery: Discovery | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        observer: Auth0Observer | None = None,
        issuer: str | None = None,
    ) -> JWKSCache:
        """A cache configured from `settings` (allow-list and every jwks_* tunable) for `url`,
        one of `settings.trusted_issuers`' key-set URLs; default `settings.jwks_url`."""
        return cls(
            url if url is not None else settings.jwks_url,
            algorithms=settings.algorithms,
            http_client=http_client,
            cache_ttl=settings.jwks_cache_ttl,
            cache_control_ttl=(
                (settings.jwks_cache_ttl_min, settings.jwks_cache_ttl_max) if settings.jwks_cache_control else None
            ),
            discovery=discovery,
            refresh_cooldown=settings.jwks_refresh_cooldown,
            fetch_timeout=settings.jwks_fetch_timeout,
            retry_interval=settings.jwks_retry_interval,
            max_stale=settings.jwks_max_stale,
            clock=clock,
            observer=observer,
            issuer=issuer,
        )

    async def get_signing_key(self, kid: str) -> SigningKey:
        """The key published under `kid`.

        Raises UnknownSigningKeyError when the set has no such key (after the one refresh the
        cooldown allows), SigningKeysUnavailableError when no key set could be fetched at all.
        """
        fetched_before = self._finished_fetches
        # Over-stale keys are dropped first: they are not held, so this lookup must fetch.
        keys = self._servable_keys()
        if keys is None or (self._clock() >= self._expires_at and not self._refreshed_ahead):
            await self._refresh()
            keys = self._servable_keys()
        if keys is None:
            raise SigningKeysUnavailableError(self._seconds_until_retry())
        if self._observer is not None and self._clock() >= self._expires_at:
            self._observer.on_event(StaleKeysServed(self.url, self._clock() - self._expires_at, self._issuer))
        key = keys.get(kid)
        if key is not None:
            return key
        if self._finished_fetches != fetched_before:
            raise UnknownSigningKeyError("unknown kid in a key set fetched just now")
        now = self._clock()
        if now - self._last_unknown_kid_refresh < self._refresh_cooldown:
            if self._observer is not None:
                self._observer.on_event(RefreshSuppressed(self.url, self._issuer))
            raise UnknownSigningKeyError("unknown kid; refresh cooldown active")
        self._last_unknown_kid_refresh = now
        await self._refresh(force=True)
        key = (self._servable_keys() or {}).get(kid)
        if key is None:
            raise UnknownSigningKeyError("unknown kid after refresh")
        return key

    def fresh_key(self, kid: str) -> SigningKey | None:
        """The key published under `kid` while the keys held are within their TTL; else None,
        and `get_signing_key` decides (stale keys, none held, an unknown kid). No waiting: a
        verified token's reuse asks this first, and a coroutine would cost more than the lookup."""
        keys = self._keys
        if keys is None or self._clock() >= self._expires_at:
            return None
        return keys.get(kid)

    @property
    def keys(self) -> Mapping[str, SigningKey]:
        """The usable keys held now, by kid; empty before the first successful fetch."""
        return dict(self._servable_keys() or {})

    @property
    def refresh_under_way(self) -> bool:
        """Whether a fetch of the key set is under way (or waiting for the one that is)."""
        return self._refreshing > 0

    @property
    def has_keys(self) -> bool:
        """Whether keys are held that may be served: fresh, or stale within `max_stale`."""
        return self._servable_keys() is not None

    async def refresh(self) -> None:
        """Fetch the key set now (sharing a fetch already under way); a failure keeps the keys held.

        For refreshing ahead of need and pre-warming. Honours the retry interval after a failed
        fetch. Never raises for a failed fetch: `has_keys` tells the outcome.
        """
        await self._refresh(force=True)

    @contextlib.contextmanager
    def refreshing_ahead(self) -> Iterator[None]:
        """Say, for the life of the block, that a background task refreshes this cache (as the
        middleware's lifespan does): lookups then serve the keys held, stale ones too within
        `max_stale`, and leave the TTL refresh to that task instead of fetching themselves."""
        self._refreshed_ahead += 1
        try:
            yield
        finally:
            self._refreshed_ahead -= 1

    def refresh_due_in(self, ahead: float) -> float:
        """Seconds until a refresh ahead of need is due: `ahead` (0 to 1) of the TTL after the
        last successful fetch, or the end of the retry interval after a failed one; 0 when no
        keys are held and nothing holds a fetch back."""
        now = self._clock()
        if now < self._retry_not_before:
            return self._retry_not_before - now
        if self._keys is None:
            return 0.0
        return max(0.0, self._expires_at - self._held_ttl * (1 - ahead) - now)

    async def aclose(self) -> None:
        """Close the HTTP client if this cache created it."""
        await self._fetcher.aclose()

    def _servable_keys(self) -> dict[str, SigningKey] | None:
        """The keys held, unless they are past their TTL by more than `max_stale`."""
        if self._keys is not None and self._clock() >= self._expires_at + self._max_stale:
            # The key server has been out of reach for too long: a key removed meanwhile
            # (revoked after a leak) must not verify for ever. Dropped until a fetch succeeds.
            logger.warning(
                "the cached keys of %s are over %gs stale; refusing them",
                self.url,
                self._max_stale,
                extra=fields("stale_keys_dropped", "max_stale_exceeded", url=self.url),
            )
            self._keys = None
            if self._observer is not None:
                self._observer.on_event(StaleKeysDropped(self.url, self._max_stale, self._issuer))
        return self._keys

    def _seconds_until_retry(self) -> int:
        wait = self._retry_not_before - self._clock()
        return max(1, math.ceil(wait)) if math.isfinite(wait) else 1  # -inf: nothing failed yet

    async def _refresh(self, *, force: bool = False) -> None:
        if self._clock() < self._retry_not_before:
            return  # the last fetch failed; let the key server breathe
        if self._lock is None:
            self._lock = anyio.Lock()
        if self._keys is not None and self._refreshing and not force:
            return  # someone is refreshing already; keep serving what we hold meanwhile
        finished_seen = self._finished_fetches
        self._refreshing += 1
        try:
            async with self._lock:
                if self._finished_fetches != finished_seen:
                    return  # a fetch finished while we waited: share its outcome
                # Shielded: a request cancelled mid-fetch must not take the fetch with it, or a
                # key server slower than the clients' patience would never yield keys at all.
                # fail_after inside _fetch still bounds it.
                with anyio.CancelScope(shield=True):
                    await self._fetch_and_store()
        finally:
            self._refreshing -= 1

    async def _fetch_and_store(self) -> None:
        started = time.perf_counter()
        try:
            keys, ttl = await self._fetcher.fetch()
        except JWKSFetchError as exc:
            self.last_failure = exc
            self._retry_not_before = self._clock() + self._retry_interval
            held = "serving the cached keys" if self._keys is not None else "no keys held"
            logger.warning(
                "fetching the key set from %s failed (%s); %s",
                self.url,
                exc,
                held,
                extra=fields("key_set_fetched", exc.code, url=self.url, status_code=exc.status_code),
            )
            if self._observer is not None:
                duration = time.perf_counter() - started
                failed = KeySetFetched(self.url, "failure", exc.code, duration, None, exc.status_code, self._issuer)
                self._observer.on_event(failed)
        else:
            self.last_failure = None
            self._keys = keys
            self._held_ttl = ttl
            self._expires_at = self._clock() + ttl
            logger.debug(
                "fetched %d usable signing key(s) from %s",
                len(keys),
                self.url,
                extra=fields("key_set_fetched", "ok", url=self.url, key_count=len(keys)),
            )
            if self._observer is not None:
                duration = time.perf_counter() - started
                self._observer.on_event(
                    KeySetFetched(self.url, "success", "ok", duration, len(keys), 200, self._issuer)
                )
        self._finished_fetches += 1
