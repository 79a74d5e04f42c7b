"""Auth0Middleware: the ASGI glue between a request and the TokenVerifier."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import httpx
from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._challenge import challenge_response
from .errors import (
    AuthenticationError,
    ConfigurationError,
    InsufficientScopeError,
    InvalidRequestError,
    MissingTokenError,
)
from .jwks import JWKSCache
from .settings import Auth0Settings
from .user import Auth0User
from .verifier import TokenVerifier

__all__ = ["Auth0Middleware"]

logger = logging.getLogger("auth0_asgi")

# RFC 6749 §3.3 scope-token and RFC 9110 token characters (realm printable ASCII): anything
# else could not be written into a WWW-Authenticate header safely.
_SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_PRINTABLE: Final = re.compile(r"[\x20-\x7e]*")


def _segments(path: str) -> tuple[str, ...]:
    """Path segments as a permissive router might see them.

    Deciding protection on this normal form fails closed: `//`, `.`/`..`, `;params` and
    case variants of a protected path are protected too, whatever the app's router makes
    of them.
    """
    segments: list[str] = []
    for raw in path.split("/"):
        segment = raw.split(";", 1)[0].casefold()
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    return tuple(segments)


def _route_path(scope: Scope) -> str:
    """The path the app routes on: `path` less `root_path`, as Starlette's router computes it."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path) and path[len(root_path) : len(root_path) + 1] in ("", "/"):
        return path[len(root_path) :]
    return path


def _is_preflight(scope: Scope) -> bool:
    if scope.get("method") != "OPTIONS":
        return False
    names = {name for name, _ in scope["headers"]}
    return b"origin" in names and b"access-control-request-method" in names


@dataclass(frozen=True, slots=True)
class _Rule:
    segments: tuple[str, ...]
    scopes: frozenset[str]

    def matches(self, path_segments: tuple[str, ...]) -> bool:
        return path_segments[: len(self.segments)] == self.segments


class Auth0Middleware:
    """Protects path prefixes of an ASGI app with Auth0 access tokens.

    ``app.add_middleware(Auth0Middleware, protected_prefixes=["/api/private"])``

    - `app`: the ASGI app to wrap.
    - `settings`: what tokens must satisfy; default `Auth0Settings.from_env()`.
    - `protected_prefixes`: paths whose requests need a valid bearer token, matched by whole
      segment (``/api/private`` covers ``/api/private/x``, not ``/api/privateer``); default
      ``["/"]``, everything. Warning: paths outside them pass with no token examined.
    - `required_scopes`: prefix to scopes the token must grant there (in `scope` or Auth0's
      `permissions`); every matching prefix's scopes are required. Each prefix must lie within
      a protected prefix.
    - `realm`: the WWW-Authenticate realm; default the first configured audience.
    - `http_client`: an `httpx.AsyncClient` for key fetches; default one of our own, closed
      at lifespan shutdown or by `aclose()`.

    On success `scope["user"]` is an `Auth0User` and `scope["auth"]` the `AuthCredentials` of
    its scopes; on unprotected paths they are `UnauthenticatedUser()` and empty credentials.
    Raises ConfigurationError for an invalid argument. Does no I/O until the first protected
    request.

    Attributes: `settings`, `realm`, `key_set` (the `JWKSCache`, one per middleware and so
    per worker process) and `verifier` (the `TokenVerifier` using it), for code that needs
    to verify a token the same way outside the protected prefixes.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Auth0Settings | None = None,
        protected_prefixes: Iterable[str] = ("/",),
        required_scopes: Mapping[str, Iterable[str]] | None = None,
        realm: str | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.app = app
        self.settings = settings if settings is not None else Auth0Settings.from_env()
        self.key_set = JWKSCache.from_settings(self.settings, http_client=http_client)
        self.verifier = TokenVerifier(self.settings, keys=self.key_set)
        self.realm = realm if realm is not None else self.settings.audience[0]
        if not _PRINTABLE.fullmatch(self.realm):
            raise ConfigurationError(f"realm={self.realm!r}: must be printable ASCII")
        self._protected = tuple(_Rule(self._prefix_segments(p), frozenset()) for p in protected_prefixes)
        if not self._protected:
            raise ConfigurationError("protected_prefixes=[]: name at least one path prefix to protect")
        self._scope_rules = self._build_scope_rules(required_scopes or {})

    @staticmethod
    def _prefix_segments(prefix: str) -> tuple[str, ...]:
        if not isinstance(prefix, str) or not prefix.startswith("/"):
            raise ConfigurationError(f"protected prefix {prefix!r}: must be a path starting with '/'")
        return _segments(prefix)

    def _build_scope_rules(self, required_scopes: Mapping[str, Iterable[str]]) -> tuple[_Rule, ...]:
        rules = []
        for prefix, scopes in required_scopes.items():
            segments = self._prefix_segments(prefix)
            if not any(rule.matches(segments) for rule in self._protected):
                raise ConfigurationError(f"required_scopes[{prefix!r}]: the prefix is not protected")
            wanted = frozenset([scopes] if isinstance(scopes, str) else scopes)
            for scope_token in wanted:
                if not _SCOPE_TOKEN.fullmatch(scope_token):
                    raise ConfigurationError(f"required_scopes[{prefix!r}]: {scope_token!r} is not a valid scope")
            rules.append(_Rule(segments, wanted))
        return tuple(rules)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._closing_on_shutdown(send))
            return
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        paths = self._candidate_paths(scope)
        if not any(rule.matches(path) for rule in self._protected for path in paths) or _is_preflight(scope):
            scope["user"] = UnauthenticatedUser()
            scope["auth"] = AuthCredentials()
            await self.app(scope, receive, send)
            return
        try:
            user = await self._authenticate(scope, paths)
        except AuthenticationError as exc:
            await self._refuse(scope, receive, send, exc)
            return
        scope["user"] = user
        scope["auth"] = AuthCredentials(sorted(user.scopes))
        await self.app(scope, receive, send)

    @staticmethod
    def _candidate_paths(scope: Scope) -> tuple[tuple[str, ...], ...]:
        # The full path, the path the router sees, and the path inside an absolute-form target
        # (RFC 9112 §3.2.2, passed through verbatim by servers): protecting whichever of them
        # matches fails closed, whatever a mounted app, a proxy or a catch-all route uses.
        path: str = scope["path"]
        candidates = {path, _route_path(scope)}
        if not path.startswith("/"):
            candidates.add(urlsplit(path).path)
        return tuple({_segments(candidate) for candidate in candidates})

    async def _authenticate(self, scope: Scope, paths: tuple[tuple[str, ...], ...]) -> Auth0User:
        token = self._bearer_token(scope)
        user = Auth0User(await self.verifier.verify(token))
        if self._scope_rules:
            required = frozenset().union(
                *(rule.scopes for rule in self._scope_rules for path in paths if rule.matches(path))
            )
            if not required <= user.scopes:
                raise InsufficientScopeError(required)
        return user

    @staticmethod
    def _bearer_token(scope: Scope) -> str:
        values = [value for name, value in scope["headers"] if name == b"authorization"]
        if not values:
            raise MissingTokenError()
        if len(values) > 1:
            raise InvalidRequestError("several Authorization headers")
        parts = values[0].decode("latin-1").split(maxsplit=1)
        # RFC 6750 §2.1 with RFC 9110 §11.1: the scheme is case-insensitive; a request that
        # uses another scheme carries no bearer credentials at all.
        if not parts or parts[0].lower() != "bearer":
            raise MissingTokenError()
        token = parts[1].strip() if len(parts) > 1 else ""
        if not token:
            raise InvalidRequestError("empty bearer token")
        if len(token.split()) > 1:
            raise InvalidRequestError("whitespace inside the bearer token")
        return token

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, error: AuthenticationError) -> None:
        level = logging.WARNING if error.status_code >= 500 else logging.INFO
        # %r: the path is percent-decoded, so a raw newline in it could forge a log line.
        logger.log(level, "refused %s %r: %s", scope.get("method", "WEBSOCKET"), scope["path"], error.reason)
        if scope["type"] == "websocket" and "websocket.http.response" not in scope.get("extensions", {}):
            # RFC 6455 §7.4.1 1008 policy violation; closing before accept makes the server answer 403.
            await send({"type": "websocket.close", "code": 1008})
            return
        await challenge_response(error, realm=self.realm)(scope, receive, send)

    def _closing_on_shutdown(self, send: Send) -> Send:
        async def send_then_close(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self.aclose()
            await send(message)

        return send_then_close

    async def aclose(self) -> None:
        """Release the key cache's HTTP client (done for you at lifespan shutdown)."""
        await self.key_set.aclose()
