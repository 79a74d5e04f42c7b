"""FastAPI integration: dependencies that hand a route its verified caller, and OpenAPI security.

Install with the `demo` extra (or FastAPI itself); the core package never imports this module.

- `require_user` / `CurrentUser`: the `Auth0User` the middleware verified. On a path outside the
  protected prefixes it verifies the request's bearer token itself, with the middleware's own
  verifier and key cache: one cache per app, never one per route.
- `require_claims` / `Claims`: the verified claims.
- `require_scopes("read:x", ...)`: the user, or a 403 ``insufficient_scope`` answer in exactly
  the middleware's form.
- `require(any_scope("a", "b"), claim_equals("org_id", "acme"), ...)`: the user, if it passes
  every authorization rule of `auth0_asgi.rules`; else the same 403.
- `document_security(app)`: the OpenAPI schema declares the bearer scheme and marks every
  operation that needs a token, so Swagger UI's Authorize button sends it.

The dependencies raise our `AuthenticationError`s; `Auth0Middleware` turns them into its
RFC 6750 answers, so they need the middleware on the app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Annotated, Any, Final

from fastapi import Depends, FastAPI, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.authentication import AuthCredentials
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection

from ._protection import ProtectionRules
from ._scopes import scope_set
from .errors import ConfigurationError, InsufficientScopeError
from .middleware import MIDDLEWARE_SCOPE_KEY, Auth0Middleware
from .rules import Rule
from .user import Auth0User

__all__ = [
    "Claims",
    "CurrentUser",
    "bearer_scheme",
    "document_security",
    "keys_ready",
    "require",
    "require_claims",
    "require_scopes",
    "require_user",
]

# The name of the bearer scheme in the OpenAPI document's `components.securitySchemes`.
_SCHEME_NAME: Final = "Auth0"

#: The security scheme our dependencies declare: FastAPI lists it in the OpenAPI document.
#: It never refuses anything itself (auto_error=False); verification is the middleware's.
bearer_scheme: Final = HTTPBearer(
    auto_error=False,
    scheme_name=_SCHEME_NAME,
    bearerFormat="JWT",
    description="An Auth0 access token issued for this API.",
)

_HTTP_METHODS: Final = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
_ERROR_SCHEMA: Final = "BearerTokenError"


async def require_user(
    connection: HTTPConnection,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
) -> Auth0User:
    """The verified caller.

    On a protected path, the user the middleware placed on the request (no second check).
    Elsewhere, the bearer token is verified now by the middleware's verifier and the result
    placed on the request as the middleware would. Raises our AuthenticationError subclasses
    (answered by the middleware), and RuntimeError when the app has no Auth0Middleware.
    """
    user = connection.scope.get("user")
    if isinstance(user, Auth0User):
        return user
    middleware = connection.scope.get(MIDDLEWARE_SCOPE_KEY)
    if not isinstance(middleware, Auth0Middleware):
        raise RuntimeError("require_user needs Auth0Middleware on the app: app.add_middleware(Auth0Middleware, ...)")
    user = await middleware.authenticate(connection.scope)
    connection.scope["user"] = user
    connection.scope["auth"] = AuthCredentials(user.sorted_scopes)
    return user


CurrentUser = Annotated[Auth0User, Depends(require_user)]
"""A route parameter of this type receives the verified `Auth0User`."""


def keys_ready(connection: HTTPConnection) -> bool:
    """Whether the `Auth0Middleware` this request passed through holds every issuer's keys.

    For a readiness probe on a path outside the protected prefixes; False when the request did
    not pass through the middleware.
    """
    middleware = connection.scope.get(MIDDLEWARE_SCOPE_KEY)
    return isinstance(middleware, Auth0Middleware) and middleware.ready


async def require_claims(user: CurrentUser) -> Mapping[str, Any]:
    """The verified claims of the caller's access token."""
    return user.claims


Claims = Annotated[Mapping[str, Any], Depends(require_claims)]
"""A route parameter of this type receives the verified claims."""


def require_scopes(*scopes: str) -> Callable[..., Awaitable[Auth0User]]:
    """A dependency requiring every scope in `scopes` (from `scope` or Auth0's `permissions`).

    ``@app.get("/api/messages", dependencies=[Depends(require_scopes("read:messages"))])``, or
    a parameter ``user: Annotated[Auth0User, Depends(require_scopes("read:messages"))]``.
    A token without them gets the middleware's 403 ``insufficient_scope`` answer, naming them.
    """
    required = scope_set(scopes, f"require_scopes{scopes!r}")

    # A default, not Annotated[...]: postponed annotations cannot see this closure's `required`.
    async def scoped_user(user: Auth0User = Security(require_user, scopes=sorted(required))) -> Auth0User:  # noqa: B008
        if not required <= user.scopes:
            raise InsufficientScopeError(required)
        return user

    return scoped_user


def require(*rules: Rule) -> Callable[..., Awaitable[Auth0User]]:
    """A dependency requiring every one of `rules` (`auth0_asgi.rules`), checked in order.

    ``@app.get("/api/reports", dependencies=[Depends(require(any_scope("read:reports", "admin")))])``.
    A token that fails one gets the middleware's 403 ``insufficient_scope`` answer. The scopes of
    `all_scopes` rules are listed in the OpenAPI document.
    """
    if not rules or not all(isinstance(rule, Rule) for rule in rules):
        raise ConfigurationError(f"require{rules!r}: give one or more rules from auth0_asgi.rules")
    documented = sorted(frozenset().union(*(rule.scopes for rule in rules if rule.all_required)))

    async def ruled_user(user: Auth0User = Security(require_user, scopes=documented)) -> Auth0User:  # noqa: B008
        for rule in rules:
            rule.enforce(user)
        return user

    return ruled_user


def _protection_rules(middleware: Iterable[Middleware]) -> list[ProtectionRules]:
    rules = []
    for entry in middleware:
        if isinstance(entry.cls, type) and issubclass(entry.cls, Auth0Middleware):
            options: Mapping[str, Any] = entry.kwargs
            rules.append(
                ProtectionRules(
                    options.get("protected_prefixes", ("/",)),
                    options.get("required_scopes") or {},
                    options.get("rules"),
                )
            )
    return rules


_CHALLENGE_HEADER: Final = {
    "WWW-Authenticate": {
        "description": "The RFC 6750 challenge, with the same error code as the body",
        "schema": {"type": "string"},
    }
}
_RETRY_HEADER: Final = {
    "Retry-After": {"description": "Seconds until the signing keys are fetched again", "schema": {"type": "integer"}}
}


def _error_response(description: str, headers: Mapping[str, Any] = _CHALLENGE_HEADER) -> dict[str, Any]:
    return {
        "description": description,
        "headers": dict(headers),
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{_ERROR_SCHEMA}"}}},
    }


def _describe_operation(
    operation: dict[str, Any], protected: bool, prefix_scopes: frozenset[str], ruled: bool = False
) -> None:
    security: list[dict[str, list[str]]] = operation.setdefault("security", [])
    ours = [requirement for requirement in security if _SCHEME_NAME in requirement]
    if protected and not ours:
        ours = [{_SCHEME_NAME: sorted(prefix_scopes)}]
        security.extend(ours)
    elif protected:
        for requirement in ours:
            requirement[_SCHEME_NAME] = sorted(prefix_scopes.union(requirement[_SCHEME_NAME]))
    if not security:
        del operation["security"]
    if not ours:
        return
    responses = operation.setdefault("responses", {})
    # Every answer the middleware (or our dependencies) can give instead of the operation's own.
    responses.setdefault("400", _error_response("Malformed Authorization header (RFC 6750 invalid_request)"))
    responses.setdefault("401", _error_response("Missing, invalid or expired access token"))
    if ruled or any(requirement[_SCHEME_NAME] for requirement in ours):
        responses.setdefault("403", _error_response("The access token lacks a required scope or right"))
    responses.setdefault("503", _error_response("The signing keys are temporarily unavailable", _RETRY_HEADER))


def _describe(schema: dict[str, Any], rules: list[ProtectionRules]) -> None:
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})[_SCHEME_NAME] = bearer_scheme.model.model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    components.setdefault("schemas", {})[_ERROR_SCHEMA] = {
        "type": "object",
        "title": _ERROR_SCHEMA,
        "description": "RFC 6750 error; the WWW-Authenticate header carries the same code.",
        "properties": {"detail": {"type": "string"}, "error": {"type": "string"}},
        "required": ["detail"],
    }
    for path, item in schema.get("paths", {}).items():
        protected = any(rule.protects([path]) for rule in rules)
        prefix_scopes = frozenset().union(*(rule.required_scopes([path]) for rule in rules))
        ruled = any(rule.required_rules([path]) for rule in rules)
        for method, operation in item.items():
            if method in _HTTP_METHODS:
                _describe_operation(operation, protected, prefix_scopes, ruled)


def document_security(app: FastAPI) -> None:
    """Make `app`'s OpenAPI schema describe its Auth0 protection.

    The schema gains the ``Auth0`` HTTP bearer (JWT) scheme. Each operation under a prefix
    protected by an `Auth0Middleware` added with `app.add_middleware`, or using our
    dependencies, is marked as requiring it (with the scopes it needs) and documents the
    answers it may get instead of its own: 400, 401 and 503, and 403 when scopes are required.
    Other operations are left alone.
    Call it once, after adding the middleware; routes may be added later.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _describe(build(), _protection_rules(app.user_middleware))
        assert app.openapi_schema is not None  # build() stored it
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
