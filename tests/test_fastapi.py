"""auth0_asgi.fastapi: the dependencies and the OpenAPI description, on real FastAPI apps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse

from auth0_asgi import Auth0Middleware, Auth0User, ConfigurationError, InvalidTokenError, SigningKey
from auth0_asgi.fastapi import (
    Claims,
    CurrentUser,
    document_security,
    require,
    require_claims,
    require_scopes,
    require_user,
)
from auth0_asgi.rules import any_scope
from auth0_asgi.testing import LocalIssuer

pytestmark = pytest.mark.anyio


class CountingKeys:
    """A key source that counts lookups, one per signature the verifier checks."""

    def __init__(self, issuer: LocalIssuer) -> None:
        self.issuer = issuer
        self.lookups = 0

    async def get_signing_key(self, kid: str) -> SigningKey:
        self.lookups += 1
        return await self.issuer.get_signing_key(kid)


def _app(issuer: LocalIssuer, keys: Any = None, **options: Any) -> FastAPI:
    app = FastAPI()
    options.setdefault("protected_prefixes", ["/api/private"])
    app.add_middleware(Auth0Middleware, settings=issuer.settings(), keys=keys or issuer, **options)

    @app.get("/api/public")
    async def public() -> dict[str, str]:
        return {"message": "public"}

    @app.get("/api/private")
    async def private(user: CurrentUser, claims: Claims) -> dict[str, Any]:
        return {"caller": user.identity, "claims_are_the_users": claims is user.claims}

    @app.get("/api/private/messages", dependencies=[Depends(require_scopes("read:messages"))])
    async def messages() -> dict[str, str]:
        return {"message": "messages"}

    @app.get("/api/me")
    async def me(user: CurrentUser, request: Request) -> dict[str, Any]:
        return {"caller": user.identity, "request_user": request.user is user, "scopes": sorted(request.auth.scopes)}

    @app.get("/api/admin")
    async def admin(
        user: Annotated[Auth0User, Depends(require_scopes("read:admin", "write:admin"))],
    ) -> dict[str, str]:
        return {"caller": user.identity}

    return app


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _call(app: FastAPI, path: str, token: str | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(path, headers=_bearer(token) if token else {})


async def test_dependencies_hand_over_the_middlewares_user_without_a_second_check(auth0_issuer: LocalIssuer) -> None:
    keys = CountingKeys(auth0_issuer)
    response = await _call(_app(auth0_issuer, keys), "/api/private", auth0_issuer.token())
    assert response.status_code == 200
    assert response.json() == {"caller": "local-client@clients", "claims_are_the_users": True}
    assert keys.lookups == 1


async def test_a_route_outside_the_prefixes_verifies_with_the_shared_verifier(auth0_issuer: LocalIssuer) -> None:
    keys = CountingKeys(auth0_issuer)
    app = _app(auth0_issuer, keys)
    ok = await _call(app, "/api/me", auth0_issuer.token(scope="read:messages"))
    anonymous = await _call(app, "/api/me")
    expired = await _call(app, "/api/me", auth0_issuer.expired_token())
    public = await _call(app, "/api/public")
    assert ok.status_code == 200
    assert ok.json() == {"caller": "local-client@clients", "request_user": True, "scopes": ["read:messages"]}
    assert keys.lookups == 2  # the valid and the expired token; the middleware's one source
    assert anonymous.status_code == 401
    assert anonymous.json() == {"detail": "Not authenticated"}
    assert anonymous.headers["www-authenticate"] == (
        'Bearer realm="https://api.auth0-asgi.test", DPoP realm="https://api.auth0-asgi.test", algs="ES256"'
    )
    assert expired.status_code == 401
    assert expired.json() == {"detail": "The access token has expired", "error": "invalid_token"}
    assert expired.headers["www-authenticate"] == (
        'Bearer realm="https://api.auth0-asgi.test", error="invalid_token", '
        'error_description="The access token has expired", DPoP realm="https://api.auth0-asgi.test", algs="ES256"'
    )
    assert public.status_code == 200


async def test_a_dependency_outside_the_prefixes_shares_the_middlewares_key_cache(
    auth0_served_issuer: LocalIssuer,
) -> None:
    app = FastAPI()
    app.add_middleware(Auth0Middleware, settings=auth0_served_issuer.settings(), protected_prefixes=["/api/private"])

    @app.get("/api/private")
    async def private(user: CurrentUser) -> str:
        return user.identity

    @app.get("/api/me")
    async def me(user: CurrentUser) -> str:
        return user.identity

    middlewares: list[Auth0Middleware] = []

    @app.get("/api/which")
    async def which(request: Request) -> bool:
        middlewares.append(request.scope["auth0_asgi.middleware"])
        return True

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answers = [
            (await client.get(path, headers=_bearer(auth0_served_issuer.token()))).status_code
            for path in ["/api/me", "/api/private", "/api/me", "/api/which"]
        ]
    assert answers == [200, 200, 200, 200]
    [middleware] = middlewares
    assert middleware.key_set.fetch_count == 1  # type: ignore[attr-defined]
    await middleware.aclose()


SCOPE_CASES = [
    pytest.param("/api/private/messages", "read:messages", id="one-scope"),
    pytest.param("/api/admin", "read:admin write:admin", id="two-scopes"),
]


@pytest.mark.parametrize(("path", "scopes"), SCOPE_CASES)
async def test_require_scopes_answers_exactly_like_the_middleware(
    auth0_issuer: LocalIssuer, path: str, scopes: str
) -> None:
    token = auth0_issuer.token(scope="other")
    from_dependency = await _call(_app(auth0_issuer), path, token)
    by_middleware = _app(auth0_issuer, protected_prefixes=["/api"], required_scopes={path: scopes.split()})
    from_middleware = await _call(by_middleware, path, token)
    assert from_dependency.status_code == from_middleware.status_code == 403
    assert (
        from_dependency.json()
        == from_middleware.json()
        == {
            "detail": "The access token does not grant the required scope",
            "error": "insufficient_scope",
        }
    )
    expected_header = (
        'Bearer realm="https://api.auth0-asgi.test", error="insufficient_scope", '
        f'error_description="The access token does not grant the required scope", scope="{scopes}", '
        f'DPoP realm="https://api.auth0-asgi.test", scope="{scopes}", algs="ES256"'
    )
    assert from_dependency.headers["www-authenticate"] == from_middleware.headers["www-authenticate"] == expected_header


@pytest.mark.parametrize(("path", "scopes"), SCOPE_CASES)
async def test_require_scopes_lets_a_token_with_the_scopes_through(
    auth0_issuer: LocalIssuer, path: str, scopes: str
) -> None:
    as_scope = await _call(_app(auth0_issuer), path, auth0_issuer.token(scope=scopes))
    as_permissions = await _call(_app(auth0_issuer), path, auth0_issuer.token(permissions=scopes.split()))
    assert as_scope.status_code == as_permissions.status_code == 200


@pytest.mark.parametrize("scope", ["has space", 'quote"d', ""])
def test_require_scopes_refuses_invalid_scopes_at_definition(scope: str) -> None:
    with pytest.raises(ConfigurationError, match="is not a valid scope"):
        require_scopes(scope)


async def test_without_the_middleware_the_dependency_says_what_is_missing(auth0_issuer: LocalIssuer) -> None:
    app = FastAPI()

    @app.get("/api/me")
    async def me(user: CurrentUser) -> str:
        return user.identity

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        with pytest.raises(RuntimeError, match="needs Auth0Middleware on the app"):
            await client.get("/api/me", headers=_bearer(auth0_issuer.token()))


async def test_an_authentication_error_after_the_response_started_is_not_answered_twice(
    auth0_issuer: LocalIssuer,
) -> None:
    async def body() -> Any:
        yield b"partial"
        raise InvalidTokenError("too late")

    async def streaming(request: Request) -> StreamingResponse:
        return StreamingResponse(body())

    async def refusing(request: Request) -> JSONResponse:
        raise InvalidTokenError("raised by the app")

    app = FastAPI()
    app.add_route("/stream", streaming)
    app.add_route("/refuse", refusing)
    app.add_middleware(Auth0Middleware, settings=auth0_issuer.settings(), keys=auth0_issuer, protected_prefixes=["/x"])
    refused = await _call(app, "/refuse")
    with pytest.raises(InvalidTokenError, match="too late"):
        await _call(app, "/stream")
    assert refused.status_code == 401
    assert refused.json() == {"detail": "The access token is invalid", "error": "invalid_token"}


async def test_require_claims_is_the_users_claims(auth0_issuer: LocalIssuer) -> None:
    user = Auth0User({"sub": "x", "scope": "a"})
    claims: Mapping[str, Any] = await require_claims(user)
    assert claims is user.claims
    assert require_user.__name__ == "require_user"


# --- OpenAPI --------------------------------------------------------------------------------------


def _operations(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {path: item["get"] for path, item in schema["paths"].items()}


async def test_openapi_marks_only_the_protected_operations(auth0_issuer: LocalIssuer) -> None:
    app = _app(auth0_issuer, protected_prefixes=["/api/private"], required_scopes={"/api/private/messages": ["x:y"]})
    document_security(app)
    schema = (await _call(app, "/openapi.json")).json()
    assert schema["components"]["securitySchemes"] == {
        "Auth0": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An Auth0 access token issued for this API.",
        },
        "Auth0DPoP": {
            "type": "http",
            "scheme": "DPoP",
            "description": "An Auth0 access token bound to the client's key (RFC 9449): Authorization: DPoP "
            "<token>, with a DPoP proof header signed by that key for each request.",
        },
    }
    operations = _operations(schema)
    assert "security" not in operations["/api/public"]
    assert set(operations["/api/public"]["responses"]) == {"200"}
    expected = {
        "/api/private": ([{"Auth0": []}, {"Auth0DPoP": []}], {"200", "400", "401", "503"}),
        "/api/private/messages": (
            [{"Auth0": ["read:messages", "x:y"]}, {"Auth0DPoP": ["read:messages", "x:y"]}],
            {"200", "400", "401", "403", "503"},
        ),
        # Outside the prefixes the dependency verifies with the middleware's verifier: DPoP too.
        "/api/me": ([{"Auth0": []}, {"Auth0DPoP": []}], {"200", "400", "401", "503"}),
        "/api/admin": (
            [{"Auth0": ["read:admin", "write:admin"]}, {"Auth0DPoP": ["read:admin", "write:admin"]}],
            {"200", "400", "401", "403", "503"},
        ),
    }
    for path, (security, responses) in expected.items():
        assert operations[path]["security"] == security, path
        assert set(operations[path]["responses"]) == responses, path
    for status in ("400", "401"):
        refusal = operations["/api/private"]["responses"][status]
        assert refusal["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/BearerTokenError"}
        assert set(refusal["headers"]) == {"WWW-Authenticate"}
    unavailable = operations["/api/private"]["responses"]["503"]
    assert unavailable["headers"]["Retry-After"]["schema"] == {"type": "integer"}
    assert schema["components"]["schemas"]["BearerTokenError"]["required"] == ["detail"]
    assert app.openapi() == schema


async def test_openapi_default_prefix_protects_every_operation(auth0_issuer: LocalIssuer) -> None:
    app = FastAPI()
    app.add_middleware(Auth0Middleware, settings=auth0_issuer.settings(), keys=auth0_issuer)
    app.add_middleware(GZipMiddleware)  # other middleware is no concern of the description

    @app.get("/anything")
    async def anything() -> str:
        return "x"

    @app.post("/other")
    async def other() -> str:
        return "y"

    document_security(app)
    schema = app.openapi()
    assert schema["paths"]["/anything"]["get"]["security"] == [{"Auth0": []}, {"Auth0DPoP": []}]
    assert schema["paths"]["/other"]["post"]["security"] == [{"Auth0": []}, {"Auth0DPoP": []}]
    assert app.openapi() is schema


def test_openapi_without_the_middleware_marks_nothing_but_dependency_routes() -> None:
    app = FastAPI()

    @app.get("/open")
    async def open_route() -> str:
        return "x"

    @app.get("/me")
    async def me(user: CurrentUser) -> str:
        return user.identity

    document_security(app)
    operations = _operations(app.openapi())
    assert "security" not in operations["/open"]
    assert operations["/me"]["security"] == [{"Auth0": []}]
    assert "401" in operations["/me"]["responses"]


@pytest.mark.parametrize(
    ("dpop", "security", "schemes"),
    [
        ("required", [{"Auth0DPoP": ["read:messages"]}], {"Auth0", "Auth0DPoP"}),
        ("disabled", [{"Auth0": ["read:messages"]}], {"Auth0"}),
    ],
)
def test_openapi_follows_the_dpop_mode(
    auth0_issuer: LocalIssuer, dpop: str, security: list[dict[str, list[str]]], schemes: set[str]
) -> None:
    app = FastAPI()
    settings = auth0_issuer.settings(dpop=dpop)
    app.add_middleware(Auth0Middleware, settings=settings, keys=auth0_issuer, required_scopes={"/": ["read:messages"]})

    @app.get("/things")
    async def things() -> str:
        return "x"

    document_security(app)
    schema = app.openapi()
    assert set(schema["components"]["securitySchemes"]) == schemes
    assert schema["paths"]["/things"]["get"]["security"] == security


def test_a_route_with_only_rules_documents_its_403(auth0_issuer: LocalIssuer) -> None:
    app = _app(auth0_issuer)

    @app.get("/api/private/reports", dependencies=[Depends(require(any_scope("read:reports", "admin")))])
    async def reports() -> str:
        return "r"

    @app.get("/api/private/plain")
    async def plain() -> str:
        return "p"

    document_security(app)
    operations = _operations(app.openapi())
    assert set(operations["/api/private/reports"]["responses"]) == {"200", "400", "401", "403", "503"}
    assert operations["/api/private/reports"]["security"] == [{"Auth0": []}, {"Auth0DPoP": []}]
    assert "403" not in operations["/api/private/plain"]["responses"]
