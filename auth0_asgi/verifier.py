"""TokenVerifier: a raw access token in, its claims out, or one of our errors. No ASGI here.

The compact JWS is parsed strictly by hand (RFC 7515 §7.1, RFC 8725): canonical
base64url segments, UTF-8 JSON objects without duplicate names, numeric time claims.
`cryptography` checks the signatures (`auth0_asgi._tokens.signature`); whatever it raises is
translated to ours here and nowhere else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

from jwt.exceptions import PyJWTError

from ._tokens.cache import VerifiedToken, VerifiedTokenCache
from ._tokens.claim_checks import ClaimChecks
from ._tokens.confirmation import Evidence, check_confirmation
from ._tokens.frozen import thaw
from ._tokens.jwk import SigningKey
from ._tokens.jws import frozen_json_object, is_safe_number, parse_compact
from ._tokens.signature import SignatureCheck, signature_check
from .errors import (
    ConfigurationError,
    DisallowedAlgorithmError,
    ExpiredTokenError,
    ImmatureTokenError,
    InvalidSignatureError,
    TokenTooLargeError,
    UnknownSigningKeyError,
)
from .events import TOKEN_CACHE_HIT, TOKEN_CACHE_MISS, Auth0Observer, TokenVerified, guarded
from .jwks import JWKSCache
from .settings import Auth0Settings
from .user import Auth0User

_new_tuple: Final = tuple.__new__

__all__ = ["SigningKeySource", "TokenVerifier"]


class SigningKeySource(Protocol):
    """Where the verifier gets keys: a `JWKSCache`, or anything with the same lookup."""

    async def get_signing_key(self, kid: str) -> SigningKey:
        """The key for `kid`; raises an AuthenticationError subclass when there is none."""


class TokenVerifier:
    """Verifies Auth0 access tokens against `settings`, taking keys from `keys`.

    - `settings`: trusted issuers, audiences, algorithm allow-list, leeway and size cap.
    - `keys`: the signing key source, normally a `JWKSCache`; or, with several trusted
      issuers, a mapping of each issuer (exact `iss`) to its own source. A single source
      serves every trusted issuer.
    - `now`: wall-clock seconds since the epoch, for `exp`/`nbf`/`iat`; default `time.time`.
    - `observer`: told of each verified-token cache lookup and each full verification
      (`auth0_asgi.events`); default None.
    - `user_factory`: builds the user of each newly verified token from its (read-only) claims
      and the token itself, once per token (the user is cached with it); default
      ``Auth0User(claims)``. The middleware makes MCP SDK users with it (`auth0_asgi.mcp`).

    Warning: the header's `jku`, `x5u`, `jwk` and `x5c` are never read: a key chosen by the
    token would let anyone sign. Only `kid` selects a key, and only from the source of the
    token's `iss`, which must be a configured issuer: any other `iss` is refused before any
    key lookup, so no token can make the worker fetch anything.

    Raises ConfigurationError when `keys` is a mapping that does not name exactly the
    trusted issuers.
    """

    def __init__(
        self,
        settings: Auth0Settings,
        *,
        keys: SigningKeySource | Mapping[str, SigningKeySource],
        now: Callable[[], float] = time.time,
        observer: Auth0Observer | None = None,
        user_factory: Callable[[Mapping[str, Any], str], Auth0User] | None = None,
    ) -> None:
        self.settings = settings
        self._user_factory = user_factory
        self._observer = guarded(observer)
        trusted = [t.issuer for t in settings.trusted_issuers]
        if isinstance(keys, Mapping):
            if sorted(keys) != sorted(trusted):
                raise ConfigurationError(f"keys={sorted(keys)!r}: give one key source per trusted issuer {trusted!r}")
            self._sources: dict[str, SigningKeySource] = dict(keys)
        else:
            self._sources = dict.fromkeys(trusted, keys)
        # A JWKSCache answers a reuse's lookup of a fresh key without a coroutine.
        self._fresh_keys = {
            issuer: source.fresh_key for issuer, source in self._sources.items() if isinstance(source, JWKSCache)
        }
        self._mtls_required = settings.mtls == "required"
        self._modes = {"dpop": settings.dpop, "mtls": settings.mtls}
        self._now = now
        self._claims = ClaimChecks(settings, now)
        #: Whether any token has passed a full verification on this verifier yet.
        self.verified_any = False
        self._signature_checks: Mapping[str, SignatureCheck] = {
            name: signature_check(name) for name in settings.algorithms
        }
        self._cache = VerifiedTokenCache[Auth0User](settings.token_cache_size)

    @property
    def trusted_issuers(self) -> tuple[str, ...]:
        """The `iss` values this verifier accepts, each with its own key source."""
        return tuple(self._sources)

    async def verify(self, token: str) -> dict[str, Any]:
        """The verified claims of `token`, as a new dict the caller may change.

        Raises an InvalidTokenError subclass for any defect of the token, and
        SigningKeysUnavailableError when no key set could be fetched.
        """
        changeable: dict[str, Any] = thaw((await self.authenticate(token)).claims)
        return changeable

    async def authenticate(
        self,
        token: str,
        *,
        proof_key: str | None = None,
        certificate: Callable[[], str | None] | None = None,
    ) -> Auth0User:
        """The `Auth0User` of `token`; raises as `verify` does.

        A token verified before (the cache holds `settings.token_cache_size` of them) is not
        verified again: its `exp`, `nbf` and `iat` are checked against the clock, and its
        signing key must still be in the key set. The returned user is then shared by every
        request carrying that token: it and its `claims` are read-only.

        Its `cnf` binding is checked on every call, cached or not:

        - `proof_key`: None for a token presented with the Bearer scheme: one bound to a key
          (`cnf.jkt`) then raises BoundTokenError. With the DPoP scheme, the RFC 7638
          thumbprint of the verified proof's key: the token's `cnf.jkt` must be exactly it, or
          KeyBindingError is raised. Warning: the proof itself is the caller's to check
          (`auth0_asgi.dpop.ProofChecker`).
        - `certificate`: gives the RFC 8705 thumbprint of the request's client certificate
          (None: none that can be trusted; `auth0_asgi.mtls.ClientCertificates`), asked only
          for a certificate-bound token (`cnf.x5t#S256`), which must name exactly it, or
          CertificateBindingError is raised; `settings.mtls` ``required`` refuses unbound
          tokens with it too.
        """
        # A reuse whose key is fresh in its cache needs no await: the common case, without the
        # coroutines the general path costs.
        held = self._held(token)
        if isinstance(held, Auth0User):
            user = held
        elif held is None:
            user = await self._verified(token)
        else:
            user = await self._reuse(token, held)
        # Signature first, then the binding: an unsigned cnf proves nothing. An unbound token
        # presented as a bearer token, where certificates are not required, has none to check.
        if proof_key is not None or "cnf" in user.claims or self._mtls_required:
            # tuple's constructor: a NamedTuple's own is a Python function (bench/overhead.py's mTLS row).
            check_confirmation(user.claims, _new_tuple(Evidence, (proof_key, certificate)), self._modes)
        return user

    def _held(self, token: str) -> Auth0User | VerifiedToken[Auth0User] | None:
        """What the cache says of `token`, its times checked (raises as a reuse does): its user
        when its key is fresh in a `JWKSCache` and unchanged; its entry when the key is to be
        looked up (`_reuse`); None when it must be verified (not held, or its key changed)."""
        entry = self._cache.get(token)
        if entry is None:
            return None
        self._check_times(token, entry)
        fresh_key = self._fresh_keys.get(entry.issuer)
        key = fresh_key(entry.kid) if fresh_key is not None else None
        if key is None:
            return entry
        if key is not entry.key and key != entry.key:
            self._cache.discard(token)  # another key under the same kid: verify afresh
            return None
        return self._hit(entry)

    async def _reuse(self, token: str, entry: VerifiedToken[Auth0User]) -> Auth0User:
        """The user of a held `entry` whose key is looked up (and maybe fetched) first."""
        try:
            key = await self._sources[entry.issuer].get_signing_key(entry.kid)
        except UnknownSigningKeyError:
            self._cache.discard(token)  # the key left the key set: so does every token it signed
            raise
        if key is not entry.key and key != entry.key:
            self._cache.discard(token)  # another key under the same kid: verify afresh
            return await self._verified(token)
        return self._hit(entry)

    def _hit(self, entry: VerifiedToken[Auth0User]) -> Auth0User:
        if self._observer is not None:
            self._observer.on_event(TOKEN_CACHE_HIT)
        return entry.user

    async def _verified(self, token: str) -> Auth0User:
        """`token` verified in full (a cache miss), told to the observer with its duration."""
        if self._observer is None:
            return await self._verify_fully(token)
        self._observer.on_event(TOKEN_CACHE_MISS)
        started = time.perf_counter()
        user = await self._verify_fully(token)
        issued_at = user.claims.get("iat")
        age = self._now() - issued_at if is_safe_number(issued_at) else None
        self._observer.on_event(TokenVerified(time.perf_counter() - started, age))
        return user

    def _check_times(self, token: str, entry: VerifiedToken[Auth0User]) -> None:
        """What time changes about a verified token: `exp`, `nbf` and `iat`, and its age."""
        now, leeway = self._now(), self.settings.leeway
        if entry.expires_at <= now - leeway:
            self._cache.discard(token)
            raise ExpiredTokenError()
        if entry.not_before is not None and entry.not_before > now + leeway:
            raise ImmatureTokenError("nbf or iat is in the future")
        if self.settings.max_token_age:
            self._claims.check_age(entry.issued_at, now)

    async def _verify_fully(self, token: str) -> Auth0User:
        if len(token) > self.settings.max_token_bytes:
            raise TokenTooLargeError(f"token of {len(token)} bytes")
        header, payload, signature, signing_input = parse_compact(token)
        algorithm_name, kid = self._claims.read_header(header)
        # The unverified iss only chooses among configured key sets: an iss that is not
        # configured is refused here, before any lookup, so no token can name a key source.
        # Read-only from the start: every request with this token will share these claims.
        claims = frozen_json_object(payload, "payload")
        issuer = self._claims.check_issuer(claims)
        source = self._sources[issuer]  # one source per trusted issuer (checked at construction)
        fresh_key = self._fresh_keys.get(issuer)
        key = fresh_key(kid) if fresh_key is not None else None
        if key is None:
            key = await source.get_signing_key(kid)
        if algorithm_name not in key.algorithms:
            raise DisallowedAlgorithmError(f"alg {algorithm_name} does not fit key {kid!r}")
        self._check_signature(algorithm_name, key, signing_input, signature)
        self._claims.check_claims(claims)
        self._claims.check_validity_rules(header, claims)
        user = Auth0User(claims) if self._user_factory is None else self._user_factory(claims, token)
        # check_claims passed: each of nbf and iat is absent or a number.
        nbf, iat = claims.get("nbf"), claims.get("iat")
        not_before = iat if nbf is None else nbf if iat is None else max(nbf, iat)
        entry = VerifiedToken(user, claims["iss"], kid, key, claims["exp"], not_before, iat)
        self._cache.put(token, entry)
        self.verified_any = True
        return user

    def _check_signature(self, algorithm_name: str, key: SigningKey, signing_input: bytes, signature: bytes) -> None:
        try:
            valid = self._signature_checks[algorithm_name](signing_input, key.key, signature)
        except (PyJWTError, ValueError, TypeError) as exc:  # pragma: no cover - key and alg already agree
            # Defence in depth: whatever a library raises on hostile bytes is a refusal, not a 500.
            raise InvalidSignatureError("signature could not be checked") from exc
        if not valid:
            raise InvalidSignatureError()
