"""Per-tool scopes read from Mcp-Method and Mcp-Name, and the 400 for headers two readers could disagree on."""

from __future__ import annotations

import base64
from typing import Any, Final

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth0_asgi import Auth0Middleware, ConfigurationError
from auth0_asgi._config.tool_scopes import parse_tool_scopes
from auth0_asgi.testing import LocalIssuer

from .conftest import _rsa_private, asgi_client

pytestmark = pytest.mark.anyio

RESOURCE: Final = "https://api.example.com/mcp"
METADATA: Final = "https://api.example.com/.well-known/oauth-protected-resource/mcp"
MODERN: Final = "2026-07-28"
TOOL_SCOPES: Final = {
    "tools/call": {"delete_repo": ["repo:admin"], "*": ["tools:call"], "ünïcode tool": ["uni:code"]},
    "resources/read": {"*": ["files:read"]},
}
EVERY: Final = "files:read repo:admin tools:call uni:code"


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer(private_key=_rsa_private(0), audience=RESOURCE)


async def _ok(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def _app(issuer: LocalIssuer, **options: Any) -> Auth0Middleware:
    settings = issuer.settings(resource_url=RESOURCE, dpop="disabled")
    routes = [Route("/mcp", _ok, methods=["GET", "POST", "DELETE"])]
    return Auth0Middleware(
        Starlette(routes=routes), settings=settings, keys=issuer, protected_prefixes=["/mcp"], tool_scopes=TOOL_SCOPES
    )


def _encoded(name: str) -> str:
    return f"=?base64?{base64.b64encode(name.encode()).decode()}?="


def _forbidden(scopes: str) -> str:
    return (
        f'Bearer realm="{RESOURCE}", error="insufficient_scope", '
        'error_description="The access token does not grant the required scope", '
        f'scope="{scopes}", resource_metadata="{METADATA}"'
    )


# headers, the token's scope, expected: None for 200, else the scope the 403 names
SCOPE_ROWS: Final[list[Any]] = [
    pytest.param({"Mcp-Method": "tools/call", "Mcp-Name": "whoami"}, "tools:call", None, id="any-tool-scope"),
    pytest.param({"Mcp-Method": "tools/call", "Mcp-Name": "whoami"}, "", "tools:call", id="any-tool-missing"),
    pytest.param(
        {"Mcp-Method": "tools/call", "Mcp-Name": "delete_repo"}, "tools:call", "repo:admin tools:call", id="named-tool"
    ),
    pytest.param({"Mcp-Method": "tools/call", "Mcp-Name": "delete_repo"}, "tools:call repo:admin", None, id="named-ok"),
    pytest.param(
        {"Mcp-Method": "tools/call", "Mcp-Name": _encoded("ünïcode tool")},
        "tools:call",
        "tools:call uni:code",
        id="b64",
    ),
    pytest.param({"Mcp-Method": "tools/list"}, "", None, id="unmapped-method"),
    pytest.param({"Mcp-Method": "resources/read", "Mcp-Name": "file:///x"}, "", "files:read", id="method-wide"),
    # No promise that the headers equal the body: any tool could be called, so every scope.
    pytest.param({"Mcp-Method": "tools/list", "MCP-Protocol-Version": "2025-06-18"}, "tools:call", EVERY, id="legacy"),
    pytest.param({"Mcp-Method": "tools/list", "MCP-Protocol-Version": None}, "tools:call", EVERY, id="no-version"),
    pytest.param({"Mcp-Method": "tools/list", "MCP-Protocol-Version": "latest"}, "", EVERY, id="not-a-date"),
    pytest.param({"Mcp-Method": None, "MCP-Protocol-Version": None}, "tools:call", EVERY, id="bare-post"),
    pytest.param({"Mcp-Method": None, "MCP-Protocol-Version": None}, EVERY, None, id="bare-post-every-scope"),
    pytest.param({"Mcp-Method": "tools/list", "MCP-Protocol-Version": "2027-01-01"}, "", None, id="later-revision"),
]


@pytest.mark.parametrize(("headers", "granted", "required"), SCOPE_ROWS)
async def test_tool_scopes_from_the_routing_headers(
    issuer: LocalIssuer, headers: dict[str, str | None], granted: str, required: str | None
) -> None:
    sent = {"MCP-Protocol-Version": MODERN, "Authorization": f"Bearer {issuer.token(scope=granted)}", **headers}
    async with asgi_client(_app(issuer)) as client:
        response = await client.post("/mcp", headers={k: v for k, v in sent.items() if v is not None})
    if required is None:
        assert response.status_code == 200
        return
    assert response.status_code == 403
    assert response.headers.get_list("www-authenticate") == [_forbidden(required)]


async def test_a_get_or_delete_without_mcp_method_needs_no_tool_scope(issuer: LocalIssuer) -> None:
    async with asgi_client(_app(issuer)) as client:
        token = issuer.token()
        for method in ("GET", "DELETE"):
            response = await client.request(method, "/mcp", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, method


async def test_the_401_names_what_the_tool_needs(issuer: LocalIssuer) -> None:
    headers = {"Mcp-Method": "tools/call", "Mcp-Name": "delete_repo", "MCP-Protocol-Version": MODERN}
    async with asgi_client(_app(issuer)) as client:
        response = await client.post("/mcp", headers=headers)
    assert response.status_code == 401
    assert response.headers.get_list("www-authenticate") == [
        f'Bearer realm="{RESOURCE}", scope="repo:admin tools:call", resource_metadata="{METADATA}"'
    ]


MALFORMED: Final[list[Any]] = [
    pytest.param([("mcp-method", "tools/call"), ("mcp-method", "tools/list")], id="method-repeated"),
    pytest.param([("mcp-method", "tools/call"), ("mcp-name", "a"), ("mcp-name", "b")], id="name-repeated"),
    pytest.param(
        [("mcp-method", "tools/list"), ("mcp-protocol-version", MODERN), ("mcp-protocol-version", "2025-06-18")],
        id="version-repeated",
    ),
    pytest.param([("mcp-method", "")], id="method-empty"),
    pytest.param([("mcp-method", "tools call")], id="method-space"),
    pytest.param([("mcp-method", "x" * 257)], id="method-too-long"),
    pytest.param([("mcp-method", "tools/call"), ("mcp-name", "")], id="name-empty"),
    pytest.param([("mcp-method", "tools/call"), ("mcp-name", " delete_repo")], id="name-edge-space"),
    pytest.param([("mcp-method", "tools/call"), ("mcp-name", "=?base64?!!!?=")], id="name-bad-base64"),
    pytest.param([("mcp-method", "tools/call"), ("mcp-name", "=?base64?ZGVsZXRlX3JlcG9=?=")], id="name-noncanonical"),
    pytest.param([("mcp-method", "tools/call"), ("mcp-name", "=?base64?/w==?=")], id="name-not-utf8"),
    pytest.param([("mcp-method", "tools/call"), ("mcp-name", "=?base64??=")], id="name-encodes-nothing"),
    pytest.param([("mcp-method", "tools/call")], id="name-missing-where-names-have-scopes"),
]


@pytest.mark.parametrize("routing", MALFORMED)
async def test_routing_headers_two_readers_could_disagree_on_get_400(
    issuer: LocalIssuer, routing: list[tuple[str, str]]
) -> None:
    headers = [("authorization", f"Bearer {issuer.token(scope=EVERY)}"), *routing]
    if not any(name == "mcp-protocol-version" for name, _ in routing):
        headers.append(("mcp-protocol-version", MODERN))
    async with asgi_client(_app(issuer)) as client:
        response = await client.post("/mcp", headers=headers)
    assert response.status_code == 400
    assert response.json() == {"detail": "The Mcp-Method or Mcp-Name header is malformed", "error": "invalid_request"}
    assert response.headers.get_list("www-authenticate") == [
        f'Bearer realm="{RESOURCE}", error="invalid_request", '
        f'error_description="The Mcp-Method or Mcp-Name header is malformed", resource_metadata="{METADATA}"'
    ]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        pytest.param({"tools/list": {"x": ["a"]}}, "Mcp-Name is checked against the body only", id="name-unchecked"),
        pytest.param({"tools/call": {}}, "map names", id="empty-names"),
        pytest.param({"tools call": {"*": ["a"]}}, "not an MCP method", id="bad-method"),
        pytest.param({"tools/call": {"x": ["a b"]}}, "not a valid scope", id="bad-scope"),
        pytest.param(["tools/call"], "map each MCP method", id="not-a-mapping"),
    ],
)
def test_a_bad_tool_scope_mapping_is_refused_at_start_up(issuer: LocalIssuer, mapping: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Auth0Middleware(Starlette(), settings=issuer.settings(), keys=issuer, tool_scopes=mapping)


def test_the_environment_form_is_json() -> None:
    assert parse_tool_scopes('{"tools/call": {"*": ["a"]}}') == {"tools/call": {"*": frozenset({"a"})}}
    with pytest.raises(ConfigurationError, match=r"^AUTH0_TOOL_SCOPES='\{': must be a JSON object$"):
        parse_tool_scopes("{")


def test_the_metadata_lists_the_tool_scopes(issuer: LocalIssuer) -> None:
    app = _app(issuer)
    assert app.resource is not None
    assert b'"scopes_supported":["files:read","repo:admin","tools:call","uni:code"]' in app.resource.document
