"""LocalIssuer: an offline stand-in for an Auth0 tenant that mints real, signed access tokens."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import jwt

from auth0_asgi._base64url import decode_lenient, encode
from auth0_asgi._tokens.jwk import SigningKey, parse_jwks
from auth0_asgi.errors import ConfigurationError, UnknownSigningKeyError
from auth0_asgi.settings import ASYMMETRIC_ALGORITHMS, Auth0Settings

from ._dpop import DPoPKey
from ._keys import IssuerKey, PrivateKey, generate_private_key
from ._kinds import TokenKinds
from ._mistakes import MistakenTokens

__all__ = ["DEFAULT_AUDIENCE", "DEFAULT_ISSUER", "LocalIssuer"]

#: `.test` is reserved (RFC 2606): these names can never reach a real tenant.
DEFAULT_ISSUER: Final = "https://local-issuer.auth0-asgi.test/"
DEFAULT_AUDIENCE: Final = "https://api.auth0-asgi.test"


def _check_algorithm(algorithm: str) -> str:
    if algorithm not in ASYMMETRIC_ALGORITHMS:
        allowed = ", ".join(sorted(ASYMMETRIC_ALGORITHMS))
        raise ConfigurationError(f"algorithm={algorithm!r}: must be one of {allowed}")
    return algorithm


def _new_kid() -> str:
    return secrets.token_urlsafe(16)


def _flip_signature_bit(token: str) -> str:
    head, _, signature = token.rpartition(".")
    raw = bytearray(decode_lenient(signature))
    raw[len(raw) // 2] ^= 0x01
    return f"{head}.{encode(bytes(raw))}"


class LocalIssuer(MistakenTokens, TokenKinds):
    """A local token issuer that behaves like an Auth0 tenant, for demos and tests.

    It generates its signing keys at run time, publishes them as a JWKS, mints access
    tokens with any claims, and rotates keys. It is also a key source: pass it as
    ``Auth0Middleware(app, settings=issuer.settings(), keys=issuer)`` to verify in process,
    with no network; or `serve_issuer(issuer)` to reach it on a loopback port.

    - `issuer`: the `iss` of its tokens; default ``https://local-issuer.auth0-asgi.test/``.
    - `audience`: the API identifier its tokens are issued for; default
      ``https://api.auth0-asgi.test``.
    - `algorithm`: the signing algorithm, any of `ASYMMETRIC_ALGORITHMS`; default RS256.
    - `private_key`: the first signing key; default a new one (RSA key generation takes tens
      of milliseconds: tests that make many issuers can share one key).
    - `scopes`: what the token endpoint grants a client that asks for no scope, and the most
      it grants one that asks; default none.
    - `clients`: client id to secret accepted by the token endpoint; default any non-empty pair.
    - `token_lifetime`: seconds an access token lives; default 86400, as Auth0's default.
    - `now`: wall-clock seconds since the epoch for `iat`/`exp`; default `time.time`.

    Besides valid tokens it makes the usual bad ones (`expired_token`, `tampered_token`, ...) and
    the mistaken ones newcomers send (`jwe_token`, `opaque_token`, `id_token`,
    `issuer_variant_token`, `hs256_token`, `clock_behind_token`, `clock_ahead_token`), whose
    refusals the middleware's log explains; and user tokens of the kinds rules tell apart
    (`user_token` with `acr`/`amr`/`auth_time`, `delegated_token`, `anonymous_token`).

    Warning: this is for tests and local demos. Its tokens are real, so never configure a
    production middleware with its settings or serve it beyond loopback.
    """

    def __init__(
        self,
        *,
        issuer: str = DEFAULT_ISSUER,
        audience: str = DEFAULT_AUDIENCE,
        algorithm: str = "RS256",
        private_key: PrivateKey | None = None,
        scopes: Iterable[str] = (),
        clients: Mapping[str, str] | None = None,
        token_lifetime: int = 86400,
        now: Callable[[], float] = time.time,
    ) -> None:
        if algorithm not in ASYMMETRIC_ALGORITHMS:
            raise ConfigurationError(
                f"algorithm={algorithm!r}: must be one of {', '.join(sorted(ASYMMETRIC_ALGORITHMS))}"
            )
        self.issuer = issuer
        self.audience = audience
        self.scopes = tuple(scopes)
        self.clients = dict(clients) if clients is not None else None
        self.token_lifetime = token_lifetime
        self.jwks_url: str | None = None
        """The served key set's URL while `serve_issuer` runs, else None."""
        self._now = now
        key = IssuerKey.of(algorithm, private_key or generate_private_key(algorithm))
        self._current = key
        self._published: dict[str, IssuerKey] = {key.kid: key}
        self._parsed: dict[str, SigningKey] | None = None

    # --- what a tenant publishes ----------------------------------------------------------

    @property
    def kid(self) -> str:
        """The key id new tokens are signed under."""
        return self._current.kid

    @property
    def algorithm(self) -> str:
        """The algorithm new tokens are signed with."""
        return self._current.algorithm

    def jwks(self) -> dict[str, Any]:
        """The published key set: the public half of every key not retired."""
        return {"keys": [dict(key.public_jwk) for key in self._published.values()]}

    def settings(self, **tunables: Any) -> Auth0Settings:
        """Settings that accept this issuer's tokens; `tunables` pass through (``leeway=0``).

        While served, `jwks_url` points at the loopback server; in process it is a URL that is
        never fetched, since the middleware takes its keys from the issuer itself.
        """
        # The host alone: an issuer may carry a path (a demo behind a proxy, under a prefix).
        domain = urlsplit(self.issuer).netloc or self.issuer.split("://", 1)[-1].rstrip("/")
        return Auth0Settings(
            domain=domain,
            audience=(self.audience,),
            issuer=self.issuer,
            algorithms=tuple(sorted({key.algorithm for key in self._published.values()})),
            jwks_url=self.jwks_url or "",
            **tunables,
        )

    def environ(self) -> dict[str, str]:
        """The AUTH0_* variables that make `Auth0Settings.from_env()` accept this issuer's tokens."""
        settings = self.settings()
        return {
            "AUTH0_DOMAIN": settings.domain,
            "AUTH0_API_AUDIENCE": self.audience,
            "AUTH0_ISSUER": self.issuer,
            "AUTH0_ALGORITHMS": ",".join(settings.algorithms),
            "AUTH0_JWKS_URL": settings.jwks_url,
        }

    async def get_signing_key(self, kid: str) -> SigningKey:
        """The published key for `kid`, read through the same parser as a fetched key set.

        Raises UnknownSigningKeyError for a kid that is not (or no longer) published.
        """
        if self._parsed is None:
            self._parsed = parse_jwks(json.dumps(self.jwks()).encode(), ASYMMETRIC_ALGORITHMS)
        key = self._parsed.get(kid)
        if key is None:
            raise UnknownSigningKeyError("unknown kid")
        return key

    # --- keys -----------------------------------------------------------------------------

    def rotate(self, *, algorithm: str | None = None, retire_previous: bool = False) -> str:
        """Sign new tokens with a new key and publish it; returns its kid.

        The previous key stays published (as Auth0 does during a rotation) unless
        `retire_previous`, after which its tokens are refused.
        """
        chosen = _check_algorithm(algorithm or self._current.algorithm)
        previous = self._current
        self._current = IssuerKey.of(chosen, generate_private_key(chosen))
        self._published[self._current.kid] = self._current
        if retire_previous:
            self.retire(previous.kid)
        self._parsed = None
        return self._current.kid

    def retire(self, kid: str) -> None:
        """Stop publishing the key `kid`; it cannot be the current signing key."""
        if kid == self._current.kid:
            raise ValueError("the current signing key cannot be retired: rotate first")
        self._published.pop(kid, None)
        self._parsed = None

    # --- tokens ---------------------------------------------------------------------------

    def claims(
        self, *, scope: str | Iterable[str] = (), subject: str = "local-client@clients", **claims: Any
    ) -> dict[str, Any]:
        """The claims `token` would sign: Auth0's client-credentials shape, then `claims`.

        A claim given as None is left out (``exp=None`` makes a token without `exp`).
        """
        now = int(self._now())
        scope_text = scope if isinstance(scope, str) else " ".join(scope)
        base: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.audience,
            "iat": now,
            "exp": now + self.token_lifetime,
            "azp": subject.removesuffix("@clients"),
            "gty": "client-credentials",
        }
        if scope_text:
            base["scope"] = scope_text
        base.update(claims)
        return {name: value for name, value in base.items() if value is not None}

    def token(
        self,
        *,
        scope: str | Iterable[str] = (),
        subject: str = "local-client@clients",
        kid: str | None = None,
        headers: Mapping[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A signed access token for this issuer's audience.

        - `scope`: the granted scopes, as Auth0's space-separated `scope` claim.
        - `subject`: the `sub`; Auth0 writes ``<client-id>@clients`` for machine tokens.
        - `kid`: the `kid` header to claim; default the current key's.
        - `headers`: extra JOSE header members.
        - `claims`: claims to add or override; None leaves a claim out.
        """
        key = self._current
        header = {"kid": kid if kid is not None else key.kid, **(headers or {})}
        payload = self.claims(scope=scope, subject=subject, **claims)
        return jwt.encode(payload, key.private, algorithm=key.algorithm, headers=header)

    def dpop_token(self, key: DPoPKey | str, **claims: Any) -> str:
        """An access token bound to the DPoP `key` (a `DPoPKey` or its thumbprint) by `cnf.jkt`.

        It is accepted only with the DPoP scheme and a proof signed by that key; `claims` as
        for `token` (``scope="read:x"``, ``cnf={...}`` to replace the binding).
        """
        thumbprint = key if isinstance(key, str) else key.thumbprint
        return self.token(**{"cnf": {"jkt": thumbprint}, **claims})

    def expired_token(self, **claims: Any) -> str:
        """A token whose `exp` passed an hour ago: 401 invalid_token."""
        now = int(self._now())
        return self.token(**{"iat": now - 7200, "exp": now - 3600, **claims})

    def not_yet_valid_token(self, **claims: Any) -> str:
        """A token whose `nbf` is an hour ahead: 401 invalid_token."""
        return self.token(**{"nbf": int(self._now()) + 3600, **claims})

    def wrong_audience_token(self, **claims: Any) -> str:
        """A token issued for another API: 401 invalid_token."""
        return self.token(**{"aud": "https://another-api.auth0-asgi.test", **claims})

    def wrong_issuer_token(self, **claims: Any) -> str:
        """A token whose `iss` is another tenant: 401 invalid_token."""
        return self.token(**{"iss": "https://another-tenant.auth0-asgi.test/", **claims})

    def unknown_kid_token(self, **claims: Any) -> str:
        """A token signed by the current key under a kid that is not published: 401 invalid_token."""
        return self.token(kid=f"unpublished-{_new_kid()}", **claims)

    def tampered_token(self, **claims: Any) -> str:
        """A valid token with one bit of its signature flipped: 401 invalid_token."""
        return _flip_signature_bit(self.token(**claims))
