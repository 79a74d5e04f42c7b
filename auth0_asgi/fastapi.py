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

import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Annotated, Any, Final, NamedTuple

from fastapi import Depends, FastAPI, Security
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.authentication import AuthCredentials
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection

from ._request.protection import ProtectionRules
from ._tokens.scopes import scope_set
from .errors import ConfigurationError, InsufficientScopeError
from .middleware import MIDDLEWARE_SCOPE_KEY, Auth0Middleware
from .rules import Rule
from .settings import Auth0Settings
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
# And of the DPoP scheme (RFC 9449 §7.1), declared where a middleware accepts DPoP.
_DPOP_SCHEME_NAME: Final = "Auth0DPoP"
_DPOP_SCHEME: Final = {
    "type": "http",
    "scheme": "DPoP",
    "description": (
        "An Auth0 access token bound to the client's key (RFC 9449): Authorization: DPoP <token>, "
        "with a DPoP proof header signed by that key for each request."
    ),
}

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

    _RULED_DEPENDENCIES.add(ruled_user)  # its routes can answer 403, whatever their scopes
    return ruled_user


#: The dependencies `require` made: the OpenAPI description documents their routes' 403.
_RULED_DEPENDENCIES: Final[weakref.WeakSet[Callable[..., Any]]] = weakref.WeakSet()


def _ruled_operations(app: FastAPI) -> set[tuple[str, str]]:
    """(path, method) of every operation with a `require(...)` dependency, however deep."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        pending, ruled = [route.dependant], False
        while pending and not ruled:
            dependant = pending.pop()
            ruled = dependant.call in _RULED_DEPENDENCIES if dependant.call is not None else False
            pending.extend(dependant.dependencies)
        if ruled:
            found.update((route.path_format, method.lower()) for method in route.methods or ())
    return found


class _Protection(NamedTuple):
    """One `Auth0Middleware` of the app: what it protects, and its DPoP mode."""

    rules: ProtectionRules
    dpop: str


def _dpop_mode(options: Mapping[str, Any]) -> str:
    settings = options.get("settings")
    if settings is None:
        try:
            settings = Auth0Settings.from_env()  # what the middleware itself will read
        except ConfigurationError:
            return "disabled"  # the middleware cannot start either: declare no more than Bearer
    return str(settings.dpop)


def _protections(middleware: Iterable[Middleware]) -> list[_Protection]:
    found = []
    for entry in middleware:
        if isinstance(entry.cls, type) and issubclass(entry.cls, Auth0Middleware):
            options: Mapping[str, Any] = entry.kwargs
            rules = ProtectionRules(
                options.get("protected_prefixes", ("/",)),
                options.get("required_scopes") or {},
                options.get("rules"),
            )
            found.append(_Protection(rules, _dpop_mode(options)))
    return found


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
    operation: dict[str, Any], protected: bool, prefix_scopes: frozenset[str], ruled: bool = False, dpop: str = ""
) -> None:
    security: list[dict[str, list[str]]] = operation.setdefault("security", [])
    ours = [requirement for requirement in security if _SCHEME_NAME in requirement]
    if protected and not ours:
        ours = [{_SCHEME_NAME: sorted(prefix_scopes)}]
        security.extend(ours)
    elif protected:
        for requirement in ours:
            requirement[_SCHEME_NAME] = sorted(prefix_scopes.union(requirement[_SCHEME_NAME]))
    scoped = any(requirement[_SCHEME_NAME] for requirement in ours)
    if dpop in ("allowed", "required"):
        # Each requirement may be met with a DPoP-bound token instead (or, required, only so).
        for requirement in ours:
            alternative = {_DPOP_SCHEME_NAME: requirement[_SCHEME_NAME]}
            if dpop == "required":
                requirement.clear()
                requirement.update(alternative)
            else:
                security.insert(security.index(requirement) + 1, alternative)
    if not security:
        del operation["security"]
    if not ours:
        return
    responses = operation.setdefault("responses", {})
    # Every answer the middleware (or our dependencies) can give instead of the operation's own.
    responses.setdefault("400", _error_response("Malformed Authorization header (RFC 6750 invalid_request)"))
    responses.setdefault("401", _error_response("Missing, invalid or expired access token"))
    if ruled or scoped:
        responses.setdefault("403", _error_response("The access token lacks a required scope or right"))
    responses.setdefault("503", _error_response("The signing keys are temporarily unavailable", _RETRY_HEADER))


def _dpop_for(path: str, protections: list[_Protection]) -> str:
    """The DPoP mode of the middleware protecting `path` (the strictest, if several do); outside
    every prefix, of the middleware whose verifier our dependencies use there."""
    modes = {protection.dpop for protection in protections if protection.rules.protects([path])}
    modes = modes or {protection.dpop for protection in protections}
    for mode in ("required", "disabled", "allowed"):
        if mode in modes:
            return mode
    return ""


def _describe(schema: dict[str, Any], protections: list[_Protection], ruled_operations: set[tuple[str, str]]) -> None:
    components = schema.setdefault("components", {})
    schemes = components.setdefault("securitySchemes", {})
    schemes[_SCHEME_NAME] = bearer_scheme.model.model_dump(mode="json", by_alias=True, exclude_none=True)
    if any(protection.dpop in ("allowed", "required") for protection in protections):
        schemes[_DPOP_SCHEME_NAME] = dict(_DPOP_SCHEME)
    rules = [protection.rules for protection in protections]
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
        dpop = _dpop_for(path, protections)
        for method, operation in item.items():
            if method in _HTTP_METHODS:
                by_dependency = (path, method) in ruled_operations
                _describe_operation(operation, protected, prefix_scopes, ruled or by_dependency, dpop)


def document_security(app: FastAPI) -> None:
    """Make `app`'s OpenAPI schema describe its Auth0 protection.

    The schema gains the ``Auth0`` HTTP bearer (JWT) scheme, and the ``Auth0DPoP`` scheme
    (RFC 9449) where the middleware accepts DPoP. Each operation under a prefix protected by an
    `Auth0Middleware` added with `app.add_middleware`, or using our dependencies, is marked as
    requiring them (with the scopes it needs; DPoP as the alternative, or alone when required)
    and documents the answers it may get instead of its own: 400, 401 and 503, and 403 when
    scopes or rules are required (a prefix's rules, or a `require(...)` dependency).
    Other operations are left alone.
    Call it once, after adding the middleware; routes may be added later.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _describe(build(), _protections(app.user_middleware), _ruled_operations(app))
        assert app.openapi_schema is not None  # build() stored it
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
