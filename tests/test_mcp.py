"""auth0_asgi.mcp: the user the MCP SDK takes for its own, and when the middleware makes one."""

from __future__ import annotations

from typing import Any, Final

import pytest
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, authorization_context
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth0_asgi import Auth0Middleware, Auth0User
from auth0_asgi.mcp import MCPUser
from auth0_asgi.testing import LocalIssuer

from .conftest import _rsa_private, asgi_client

pytestmark = pytest.mark.anyio

RESOURCE: Final = "https://api.example.com/mcp"


def test_the_sdk_sees_the_verified_token() -> None:
    claims = {
        "iss": "https://tenant.example.com/",
        "sub": "auth0|u1",
        "aud": ["https://other.example.com", RESOURCE],
        "azp": "client-1",
        "exp": 1_900_000_000,
        "scope": "b a",
    }
    user = MCPUser(claims, "the.token.text", RESOURCE)
    assert isinstance(user, Auth0User)
    assert isinstance(user, AuthenticatedUser)
    token = user.access_token
    assert (token.token, token.client_id, token.scopes) == ("the.token.text", "client-1", ["a", "b"])
    assert (token.expires_at, token.resource, token.subject) == (1_900_000_000, RESOURCE, "auth0|u1")
    assert user.username == "client-1"
    assert authorization_context(user) == {
        "client_id": "client-1",
        "issuer": "https://tenant.example.com/",
        "subject": "auth0|u1",
    }
    # A fresh model on every read: whoever changes one changes nothing shared.
    token.scopes.append("admin")
    assert user.access_token.scopes == ["a", "b"]
    assert user.access_token is not user.access_token


def test_without_the_resource_among_its_audiences_the_first_audience_is_the_resource() -> None:
    user = MCPUser({"sub": "s", "aud": "https://only.example.com", "client_id": "c"}, "t", RESOURCE)
    assert user.access_token.resource == "https://only.example.com"
    assert user.access_token.client_id == "c"  # RFC 9068's claim when there is no azp
    assert user.access_token.expires_at is None


async def _whoami(request: Request) -> JSONResponse:
    token = get_access_token()
    return JSONResponse({"type": type(request.user).__name__, "subject": token.subject if token else None})


def _app(issuer: LocalIssuer, resource: bool, **options: Any) -> Auth0Middleware:
    settings = issuer.settings(resource_url=RESOURCE) if resource else issuer.settings()
    return Auth0Middleware(
        Starlette(routes=[Route("/mcp", _whoami)]), settings=settings, keys=issuer, protected_prefixes=["/"], **options
    )


@pytest.mark.parametrize(
    ("resource", "options", "expected"),
    [
        pytest.param(True, {}, {"type": "MCPUser", "subject": "auth0|u1"}, id="resource-and-sdk"),
        pytest.param(False, {}, {"type": "Auth0User", "subject": None}, id="no-resource"),
        pytest.param(True, {"mcp_sdk": False}, {"type": "Auth0User", "subject": None}, id="turned-off"),
        pytest.param(False, {"mcp_sdk": True}, {"type": "MCPUser", "subject": "auth0|u1"}, id="asked-for"),
    ],
)
async def test_the_middleware_makes_sdk_users_when_it_should(
    resource: bool, options: dict[str, Any], expected: dict[str, object]
) -> None:
    issuer = LocalIssuer(private_key=_rsa_private(0), audience=RESOURCE)
    async with asgi_client(_app(issuer, resource, **options)) as client:
        response = await client.get("/mcp", headers={"Authorization": f"Bearer {issuer.token(subject='auth0|u1')}"})
        after = get_access_token()
    assert response.json() == expected
    assert after is None  # reset once the app is done
