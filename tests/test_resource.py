"""RFC 9728 protected resource metadata and the challenges that name it; RFC 8707 audience binding."""

from __future__ import annotations

import json
from typing import Any, Final

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from auth0_asgi import Auth0Middleware, ConfigurationError, ProtectedResource
from auth0_asgi._request.challenge import Challenges
from auth0_asgi._tokens.diagnosis import diagnose
from auth0_asgi.errors import MalformedTokenError, SigningKeysUnavailableError
from auth0_asgi.resource import check_resource_url, metadata_url
from auth0_asgi.testing import LocalIssuer, trust_issuers

from .conftest import _rsa_private, asgi_client

pytestmark = pytest.mark.anyio

RESOURCE: Final = "https://api.example.com/mcp"
METADATA: Final = "https://api.example.com/.well-known/oauth-protected-resource/mcp"


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer(private_key=_rsa_private(0), audience=RESOURCE)


async def _ok(request: Request) -> JSONResponse:
    return JSONResponse({"path": request.url.path})


def _app(issuer: LocalIssuer, settings: dict[str, Any] | None = None, **options: Any) -> Auth0Middleware:
    routes = [Route("/mcp", _ok, methods=["GET", "POST"]), Route("/open", _ok)]
    options.setdefault("protected_prefixes", ["/mcp"])
    chosen = {"resource_url": RESOURCE, **(settings or {})}
    return Auth0Middleware(Starlette(routes=routes), settings=issuer.settings(**chosen), keys=issuer, **options)


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        pytest.param("https://api.example.com/mcp", METADATA, id="path"),
        pytest.param("https://api.example.com/mcp/", METADATA + "/", id="terminating-slash-kept"),
        pytest.param(
            "https://api.example.com/", "https://api.example.com/.well-known/oauth-protected-resource", id="root"
        ),
        pytest.param(
            "https://api.example.com", "https://api.example.com/.well-known/oauth-protected-resource", id="bare"
        ),
        pytest.param(
            "http://127.0.0.1:8000/a/b", "http://127.0.0.1:8000/.well-known/oauth-protected-resource/a/b", id="loopback"
        ),
    ],
)
def test_the_metadata_url_inserts_the_well_known_suffix_before_the_path(resource: str, expected: str) -> None:
    assert metadata_url(resource) == expected  # RFC 9728 §3.1


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("http://api.example.com/mcp", id="http-not-loopback"),
        pytest.param("api.example.com/mcp", id="relative"),
        pytest.param("https://api.example.com/mcp?x=1", id="query"),
        pytest.param("https://api.example.com/mcp#f", id="fragment"),
        pytest.param("https://user@api.example.com/mcp", id="userinfo"),
        pytest.param(" https://api.example.com/mcp", id="space"),
        pytest.param("https://api.example.com/a%2Fb", id="escape"),
        pytest.param("https://api.example.com/a/../mcp", id="dot-segment"),
        pytest.param("", id="empty"),
    ],
)
def test_a_resource_url_that_is_not_a_plain_absolute_url_is_refused(value: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^AUTH0_RESOURCE_URL="):
        check_resource_url(value)


def test_start_up_fails_when_no_audience_is_the_resource_url(issuer: LocalIssuer) -> None:
    with pytest.raises(ConfigurationError) as refused:
        issuer.settings(resource_url="https://api.example.com/other")
    message = str(refused.value)
    assert message.startswith("AUTH0_RESOURCE_URL='https://api.example.com/other': no AUTH0_API_AUDIENCE")
    assert "Resource Parameter Compatibility Profile" in message
    assert "\n" not in message


def test_a_trailing_slash_difference_is_named_in_the_start_up_error() -> None:
    issuer = LocalIssuer(private_key=_rsa_private(0), audience=RESOURCE + "/")
    with pytest.raises(ConfigurationError, match="only the trailing slash differs"):
        issuer.settings(resource_url=RESOURCE)


def test_the_environment_names_the_resource() -> None:
    environ = {
        "AUTH0_DOMAIN": "dev-x.us.auth0.com",
        "AUTH0_API_AUDIENCE": RESOURCE,
        "AUTH0_RESOURCE_URL": RESOURCE,
        "AUTH0_RESOURCE_NAME": "Repositories",
        "AUTH0_RESOURCE_DOCUMENTATION": "https://docs.example.com/mcp",
        "AUTH0_TOOL_SCOPES": '{"tools/call": {"delete_repo": ["repo:admin"]}}',
    }
    from auth0_asgi import Auth0Settings

    settings = Auth0Settings.from_env(environ, env_file=None)
    assert (settings.resource_url, settings.resource_name) == (RESOURCE, "Repositories")
    assert settings.resource_documentation == "https://docs.example.com/mcp"
    assert settings.tool_scopes == {"tools/call": {"delete_repo": frozenset({"repo:admin"})}}


async def test_the_metadata_is_served_at_both_well_known_paths_to_anyone(issuer: LocalIssuer) -> None:
    app = _app(issuer, protected_prefixes=["/"], required_scopes={"/mcp": ["read:repos", "offline_access"]})
    async with asgi_client(app) as client:
        inserted = await client.get("/.well-known/oauth-protected-resource/mcp", headers={"Host": "evil.example"})
        root = await client.get("/.well-known/oauth-protected-resource")
        head = await client.head("/.well-known/oauth-protected-resource/mcp")
    assert inserted.status_code == root.status_code == head.status_code == 200
    assert inserted.content == root.content
    assert head.content == b""
    assert inserted.json() == {
        "resource": RESOURCE,  # from the setting, never from Host
        "authorization_servers": [issuer.issuer],
        "bearer_methods_supported": ["header"],
        "scopes_supported": ["read:repos"],  # never offline_access
        "dpop_signing_alg_values_supported": ["ES256"],
        "dpop_bound_access_tokens_required": False,
    }
    for response in (inserted, head):
        assert response.headers["content-type"] == "application/json"
        assert response.headers["cache-control"] == "public, max-age=3600"
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.headers["content-length"] == str(len(inserted.content))


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        pytest.param(
            "allowed",
            {"dpop_signing_alg_values_supported": ["ES256"], "dpop_bound_access_tokens_required": False},
            id="allowed",
        ),
        pytest.param(
            "required",
            {"dpop_signing_alg_values_supported": ["ES256"], "dpop_bound_access_tokens_required": True},
            id="required",
        ),
        pytest.param("disabled", {}, id="disabled"),
    ],
)
async def test_the_dpop_fields_follow_the_dpop_mode(issuer: LocalIssuer, mode: str, expected: dict[str, Any]) -> None:
    app = _app(issuer, {"dpop": mode, "resource_name": "Repos", "resource_documentation": "https://docs.example.com/"})
    async with asgi_client(app) as client:
        document = (await client.get("/.well-known/oauth-protected-resource/mcp")).json()
    assert document == {
        "resource": RESOURCE,
        "authorization_servers": [issuer.issuer],
        "bearer_methods_supported": ["header"],
        **expected,
        "resource_name": "Repos",
        "resource_documentation": "https://docs.example.com/",
    }
    assert "resource_signing_alg_values_supported" not in document  # RFC 9728 §2: for signed responses


async def test_every_trusted_issuer_is_an_authorization_server_exactly_as_its_tokens_say() -> None:
    first = LocalIssuer(issuer="https://tenant.example.com/", audience=RESOURCE, private_key=_rsa_private(0))
    second = LocalIssuer(issuer="https://login.example.com/", audience=RESOURCE, private_key=_rsa_private(1))
    options = trust_issuers(first, second, resource_url=RESOURCE)
    app = Auth0Middleware(Starlette(routes=[Route("/mcp", _ok)]), protected_prefixes=["/mcp"], **options)
    async with asgi_client(app) as client:
        document = (await client.get("/.well-known/oauth-protected-resource/mcp")).json()
        refused = await client.get("/mcp", headers={"Authorization": f"Bearer {second.expired_token()}"})
    assert document["authorization_servers"] == ["https://tenant.example.com/", "https://login.example.com/"]
    assert [f'resource_metadata="{METADATA}"' in v for v in refused.headers.get_list("www-authenticate")] == [
        True,
        True,
    ]


@pytest.mark.parametrize(
    ("method", "status", "allow"),
    [
        pytest.param("POST", 405, "GET, HEAD, OPTIONS", id="post"),
        pytest.param("DELETE", 405, "GET, HEAD, OPTIONS", id="delete"),
        pytest.param("OPTIONS", 204, None, id="preflight"),
    ],
)
async def test_the_metadata_answers_get_and_head_only(
    issuer: LocalIssuer, method: str, status: int, allow: str | None
) -> None:
    async with asgi_client(_app(issuer, protected_prefixes=["/"])) as client:
        response = await client.request(method, "/.well-known/oauth-protected-resource/mcp")
    assert response.status_code == status
    assert response.headers.get("allow") == allow
    assert response.headers["access-control-allow-origin"] == "*"
    if method == "OPTIONS":
        assert response.headers["access-control-allow-methods"] == "GET, HEAD"


async def test_a_root_path_is_read_both_ways_for_the_metadata(issuer: LocalIssuer) -> None:
    inner = Starlette(routes=[Route("/mcp", _ok)])
    outer = Starlette(routes=[Mount("/api", inner)])
    app = Auth0Middleware(outer, settings=issuer.settings(resource_url=RESOURCE), keys=issuer, protected_prefixes=["/"])
    async with asgi_client(app, root_path="/prefix") as client:
        below = await client.get("/prefix/.well-known/oauth-protected-resource/mcp")
        bare = await client.get("/.well-known/oauth-protected-resource")
        other = await client.get("/prefix/.well-known/oauth-protected-resource/other")
    assert below.status_code == bare.status_code == 200
    assert below.json()["resource"] == RESOURCE
    assert other.status_code == 401  # not the metadata: a protected path like any other


def _challenges(response: httpx.Response) -> list[str]:
    return response.headers.get_list("www-authenticate")


async def test_a_bare_401_names_the_scopes_and_the_metadata_and_nothing_else(issuer: LocalIssuer) -> None:
    app = _app(issuer, required_scopes={"/mcp": ["read:repos", "write:repos"]})
    async with asgi_client(app) as client:
        response = await client.post("/mcp")
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}
    assert _challenges(response) == [
        f'Bearer realm="{RESOURCE}", scope="read:repos write:repos", resource_metadata="{METADATA}"',
        f'DPoP realm="{RESOURCE}", scope="read:repos write:repos", resource_metadata="{METADATA}", algs="ES256"',
    ]
    assert response.headers["access-control-expose-headers"] == "WWW-Authenticate"


async def test_an_invalid_token_401_carries_the_scopes_and_metadata_on_each_scheme(issuer: LocalIssuer) -> None:
    app = _app(issuer, required_scopes={"/mcp": ["read:repos"]})
    async with asgi_client(app) as client:
        response = await client.post("/mcp", headers={"Authorization": f"Bearer {issuer.expired_token()}"})
    assert response.status_code == 401
    assert _challenges(response) == [
        f'Bearer realm="{RESOURCE}", error="invalid_token", error_description="The access token has expired", '
        f'scope="read:repos", resource_metadata="{METADATA}"',
        f'DPoP realm="{RESOURCE}", scope="read:repos", resource_metadata="{METADATA}", algs="ES256"',
    ]


async def test_a_403_is_insufficient_scope_with_scope_and_metadata(issuer: LocalIssuer) -> None:
    app = _app(issuer, {"dpop": "disabled"}, required_scopes={"/mcp": ["read:repos"]})
    async with asgi_client(app) as client:
        response = await client.post("/mcp", headers={"Authorization": f"Bearer {issuer.token(scope='other')}"})
    assert response.status_code == 403
    assert response.json() == {
        "detail": "The access token does not grant the required scope",
        "error": "insufficient_scope",
    }
    assert _challenges(response) == [
        f'Bearer realm="{RESOURCE}", error="insufficient_scope", '
        'error_description="The access token does not grant the required scope", '
        f'scope="read:repos", resource_metadata="{METADATA}"'
    ]


def test_a_503_exposes_its_retry_after_and_carries_no_challenge() -> None:
    challenges = Challenges("api", ("Bearer",), (), METADATA)
    response = challenges.response(SigningKeysUnavailableError(retry_after=7), None, ["read:repos"])
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert response.headers["access-control-expose-headers"] == "Retry-After"
    assert "www-authenticate" not in response.headers


async def test_without_a_resource_url_nothing_is_served_and_no_challenge_names_metadata() -> None:
    plain = LocalIssuer(private_key=_rsa_private(0))
    app = Auth0Middleware(
        Starlette(routes=[Route("/mcp", _ok)]), settings=plain.settings(), keys=plain, protected_prefixes=["/"]
    )
    async with asgi_client(app) as client:
        response = await client.get("/.well-known/oauth-protected-resource")
    assert response.status_code == 401
    assert all("resource_metadata" not in value for value in _challenges(response))


@pytest.mark.parametrize(
    ("token", "code"),
    [
        pytest.param("eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d", "encrypted_token", id="jwe"),
        pytest.param("oPaQuEtOkEnWiThNoDoTs0123456789", "opaque_token", id="opaque"),
    ],
)
def test_an_unverifiable_token_on_a_resource_is_blamed_on_the_resource_parameter(
    issuer: LocalIssuer, token: str, code: str
) -> None:
    diagnosis = diagnose(token, MalformedTokenError("x"), issuer.settings(resource_url=RESOURCE))
    assert diagnosis is not None
    assert diagnosis.code == code
    assert f"resource='{RESOURCE}'" in diagnosis.message
    assert "Resource Parameter Compatibility Profile" in diagnosis.message


def test_the_document_is_built_once_as_compact_json() -> None:
    resource = ProtectedResource(RESOURCE, authorization_servers=["https://a/", "https://a/"], dpop="disabled")
    assert json.loads(resource.document) == {
        "resource": RESOURCE,
        "authorization_servers": ["https://a/"],
        "bearer_methods_supported": ["header"],
    }
    assert b" " not in resource.document
