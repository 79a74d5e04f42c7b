"""What the middleware tells an observer: the event types, the `Auth0Observer` protocol, its guard.

An observer is any object with an ``on_event(event)`` method, passed as
``Auth0Middleware(observer=...)``. It is called synchronously, on the request's task, with
one of the events below; it must not block (hand slow work to a queue). With no observer
(the default) no event is built at all.

Events carry reason codes from closed sets (`AuthenticationError.code`, `JWKSFetchError.code`),
numbers, and configured key-set URLs and issuers: never a token and never a claim value, except
the caller's `iss`, `azp` and `sub` on `RequestOutcome` when the middleware is given
``observe_identity=True``.

An observer that raises is logged (a WARNING a minute per exception type) and ignored: it
never turns a request into a 500, and never lets one through.

Events are immutable `NamedTuple`s (cheap to build on the hot path), matched by type::

    match event:
        case RequestOutcome(outcome="refused", reason=reason): ...
        case KeySetFetched(outcome="failure", reason=reason): ...
"""

from __future__ import annotations

import logging
from typing import Final, Literal, NamedTuple, Protocol

from ._log import fields
from ._rate_limit import RateLimit

__all__ = [
    "TOKEN_CACHE_HIT",
    "TOKEN_CACHE_MISS",
    "UNPROTECTED",
    "Auth0Observer",
    "Event",
    "KeySetFetched",
    "LikelyCause",
    "RefreshSuppressed",
    "RequestOutcome",
    "StaleKeysDropped",
    "StaleKeysServed",
    "TokenCacheLookup",
    "TokenVerified",
    "guarded",
]

logger = logging.getLogger("auth0_asgi")


class RequestOutcome(NamedTuple):
    """What became of one HTTP request or websocket handshake.

    - `outcome`: ``accepted`` (a valid token, passed to the app), ``refused`` (answered by the
      middleware) or ``unprotected`` (outside the protected prefixes, or a CORS preflight).
    - `reason`: ``accepted``, ``unprotected``, or the refusal's `AuthenticationError.code`
      (``token_expired``, ``dpop_proof_replayed``, ``replay_store_unavailable``, ...).
    - `error`: the RFC 6750 / RFC 9449 error code sent (``invalid_token``, ...); None when
      accepted, unprotected, or refused for want of any credentials.
    - `status`: the HTTP status the middleware answered; None when the app answers.
    - `scheme`: ``bearer`` or ``dpop`` when the request presented one (accepted requests
      always), else None.
    - `duration`: seconds spent authenticating; None when nothing was authenticated (or the
      app refused after the middleware had let the request in).
    - `token_age`: seconds since the accepted token's `iat`; None otherwise.
    - `issuer`, `client_id`, `subject`: the accepted token's `iss`, `azp` (or `client_id`)
      and `sub`, only with ``observe_identity=True``; else None.
    - `binding`: what an accepted token was bound to and the request proved: ``dpop`` (its
      proof key), ``mtls`` (its client certificate), ``dpop+mtls``; None for an unbound token.
      With `scheme`, it tells a certificate-bound token sent as ``bearer`` from a DPoP one.
    """

    outcome: Literal["accepted", "refused", "unprotected"]
    reason: str
    error: str | None = None
    status: int | None = None
    scheme: str | None = None
    duration: float | None = None
    token_age: float | None = None
    issuer: str | None = None
    client_id: str | None = None
    subject: str | None = None
    binding: str | None = None


class TokenCacheLookup(NamedTuple):
    """The verified-token cache was asked for a token: `hit` when it answered with the caller
    (so no signature was checked), False when the token was verified in full."""

    hit: bool


class TokenVerified(NamedTuple):
    """A token passed a full verification (signature and claims): `duration` in seconds,
    including any key-set fetch it waited for; `token_age` the seconds since its `iat` (None
    without one)."""

    duration: float
    token_age: float | None


class KeySetFetched(NamedTuple):
    """One fetch of a key set ended.

    - `url`: the key-set URL (configured or discovered, never one named by a token).
    - `outcome`: ``success`` or ``failure``; `reason` is ``ok`` or the `JWKSFetchError.code`
      (``timeout``, ``http_status``, ``no_usable_keys``, ...).
    - `duration`: seconds, discovery included; `key_count` the usable keys received (None on
      failure); `status_code` the HTTP status of the answer, if there was one.
    - `issuer`: the trusted issuer whose key set it is (configuration, not a claim), when the
      cache knows it: the middleware's own caches do.
    """

    url: str
    outcome: Literal["success", "failure"]
    reason: str
    duration: float
    key_count: int | None
    status_code: int | None
    issuer: str | None = None


class StaleKeysServed(NamedTuple):
    """A lookup was answered from keys past their TTL (the refresh failed, is held back by the
    retry interval, or is under way): `stale_for` seconds past it. `issuer` as for
    `KeySetFetched`."""

    url: str
    stale_for: float
    issuer: str | None = None


class StaleKeysDropped(NamedTuple):
    """The keys held were more than `max_stale` seconds past their TTL and are no longer
    served: requests get 503 until a fetch succeeds. `issuer` as for `KeySetFetched`."""

    url: str
    max_stale: float
    issuer: str | None = None


class RefreshSuppressed(NamedTuple):
    """A token named an unknown kid, and the refresh it would cause was held back by the
    refresh cooldown (a flood of made-up kids costs one fetch per cooldown). `issuer` as for
    `KeySetFetched`."""

    url: str
    issuer: str | None = None


class LikelyCause(NamedTuple):
    """A refusal was recognised as a common mistake: `code` is the diagnosis code
    (``placeholder_token``, ``id_token``, ``wrong_region``, ...), as the log line names it."""

    code: str


Event = (
    RequestOutcome
    | TokenCacheLookup
    | TokenVerified
    | KeySetFetched
    | StaleKeysServed
    | StaleKeysDropped
    | RefreshSuppressed
    | LikelyCause
)

#: The events that carry nothing of their own, built once.
UNPROTECTED: Final = RequestOutcome("unprotected", "unprotected")
TOKEN_CACHE_HIT: Final = TokenCacheLookup(hit=True)
TOKEN_CACHE_MISS: Final = TokenCacheLookup(hit=False)


class Auth0Observer(Protocol):
    """Anything told about the middleware's events (see the module docstring)."""

    def on_event(self, event: Event) -> None:
        """Take note of `event`; called on the request's task, so it must not block."""


class _Guarded:
    """An observer whose exceptions are logged and dropped."""

    __slots__ = ("_failures", "observer")

    def __init__(self, observer: Auth0Observer) -> None:
        self.observer = observer
        self._failures = RateLimit()

    def on_event(self, event: Event) -> None:
        try:
            self.observer.on_event(event)
        except Exception as exc:  # an observer's bug must never become a refusal or a 500
            if self._failures.allow(type(exc).__name__):
                logger.warning(
                    "observer %s raised %s on %s; ignored",
                    type(self.observer).__name__,
                    type(exc).__name__,
                    type(event).__name__,
                    exc_info=True,
                    extra=fields("observer_failed", "observer_raised", observer=type(self.observer).__name__),
                )


def guarded(observer: Auth0Observer | None) -> Auth0Observer | None:
    """`observer` wrapped so that its exceptions are logged and ignored (None stays None)."""
    if observer is None or isinstance(observer, _Guarded):
        return observer
    return _Guarded(observer)
