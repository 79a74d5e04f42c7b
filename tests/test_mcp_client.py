"""The MCP page's example server on real uvicorn, driven by the official `mcp` SDK's own client.

The SDK's streamable-HTTP client and its OAuth client provider do what an MCP host does against
an Auth0 tenant: get 401, discover the RFC 9728 metadata from the challenge, discover the
authorization server, register (RFC 7591), authorize with PKCE, exchange the code for a token
for the resource (RFC 8707), list tools and call them, step up on 403 and refresh. Here the
tenant is the offline `LocalIssuer`, served on loopback as its own URL.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl
from starlette.types import ASGIApp

from auth0_asgi._cli import main
from auth0_asgi.testing import DPoPKey, LocalIssuer, serve_issuer

from ._docs import block
from .conftest import _rsa_private, loopback_socket, serve_with_uvicorn

pytestmark = pytest.mark.anyio

_EXAMPLE = block("docs/mcp.md", "MCPServer(")
LOGIN_SUBJECT = "auth0|local-user"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the SDK's client is an asyncio program


class _Storage:
    """The SDK's TokenStorage, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class _Browser:
    """Follows the authorization URL as a user's browser would, and hands back the redirect."""

    def __init__(self) -> None:
        self.authorizations: list[dict[str, list[str]]] = []
        self.redirects: list[dict[str, list[str]]] = []

    async def redirect(self, url: str) -> None:
        self.authorizations.append(parse_qs(urlsplit(url).query))
        async with httpx.AsyncClient() as browser:
            response = await browser.get(url)
        assert response.status_code == 302, response.text
        self.redirects.append(parse_qs(urlsplit(response.headers["location"]).query))

    async def callback(self) -> AuthorizationCodeResult:
        query = self.redirects[-1]
        return AuthorizationCodeResult(code=query["code"][0], state=query["state"][0], iss=query["iss"][0])


class _Server:
    def __init__(self, issuer: LocalIssuer, url: str) -> None:
        self.issuer = issuer
        self.url = url
        self.resource = url + "/mcp"


@contextlib.contextmanager
def _example(monkeypatch: pytest.MonkeyPatch, issuer: LocalIssuer, **environ: str) -> Iterator[_Server]:
    """The page's example, configured by its variables, served on uvicorn, with `issuer` served too."""
    with serve_issuer(issuer, issuer_url=True):
        sock, port = loopback_socket()
        resource = f"http://127.0.0.1:{port}/mcp"
        issuer.audience = resource
        variables = {**issuer.environ(), "AUTH0_RESOURCE_URL": resource, **environ}
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        namespace: dict[str, Any] = {}
        exec(compile(_EXAMPLE, "docs/mcp.md", "exec"), namespace)  # noqa: S102 - the page's own example
        app: ASGIApp = namespace["app"]
        with serve_with_uvicorn(app, bound=(sock, port)) as url:
            yield _Server(issuer, url)


@pytest.fixture
def issuer() -> LocalIssuer:
    # Grants what MCP clients ask for, but never repo:admin: delete_repo stays out of reach.
    return LocalIssuer(private_key=_rsa_private(0), scopes=["tools:call"])


class _Recorder:
    """Every request the SDK's HTTP client sends, and every response it gets."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []
        self.responses: list[httpx2.Response] = []

    async def request(self, request: httpx2.Request) -> None:
        self.requests.append(request)

    async def response(self, response: httpx2.Response) -> None:
        self.responses.append(response)


def _provider(server: _Server, browser: _Browser, storage: _Storage) -> OAuthClientProvider:
    metadata = OAuthClientMetadata(
        client_name="auth0-asgi tests",
        redirect_uris=[AnyUrl("http://127.0.0.1:9/callback")],
        grant_types=["authorization_code", "refresh_token"],
        token_endpoint_auth_method="none",
    )
    return OAuthClientProvider(
        server_url=server.resource,
        client_metadata=metadata,
        storage=storage,
        redirect_handler=browser.redirect,
        callback_handler=browser.callback,
    )


@contextlib.asynccontextmanager
async def _client(server: _Server, auth: httpx2.Auth, recorder: _Recorder) -> AsyncIterator[Client]:
    hooks: dict[str, list[Callable[..., Any]]] = {"request": [recorder.request], "response": [recorder.response]}
    async with (
        httpx2.AsyncClient(auth=auth, event_hooks=hooks, timeout=30) as http,
        Client(streamable_http_client(server.resource, http_client=http)) as client,
    ):
        yield client


def _text(result: Any) -> str:
    assert not result.is_error, result
    return str(result.content[0].text)


async def test_the_sdk_client_signs_in_offline_lists_tools_and_calls_one(
    monkeypatch: pytest.MonkeyPatch, issuer: LocalIssuer
) -> None:
    browser, storage, recorder = _Browser(), _Storage(), _Recorder()
    with _example(monkeypatch, issuer) as server:
        async with _client(server, _provider(server, browser, storage), recorder) as client:
            tools = await client.list_tools()
            assert sorted(tool.name for tool in tools.tools) == ["delete_repo", "whoami"]
            assert _text(await client.call_tool("whoami", {})) == LOGIN_SUBJECT
        first = recorder.responses[0]
        metadata_url = f"http://127.0.0.1:{urlsplit(server.url).port}/.well-known/oauth-protected-resource/mcp"
        # The first answer: 401, bare but for the scopes and the metadata URL (RFC 6750 §3.1, RFC 9728 §5.1).
        assert first.status_code == 401
        assert first.headers.get_list("www-authenticate") == [
            f'Bearer realm="{server.resource}", resource_metadata="{metadata_url}"',
            f'DPoP realm="{server.resource}", resource_metadata="{metadata_url}", algs="ES256"',
        ]
        paths = [urlsplit(str(r.url)).path for r in recorder.requests]
        assert paths[:6] == [
            "/mcp",
            "/.well-known/oauth-protected-resource/mcp",
            "/.well-known/oauth-authorization-server",
            "/oidc/register",
            "/oauth/token",
            "/mcp",
        ]
        assert storage.tokens is not None
        assert storage.client is not None
        token_request = parse_qs(recorder.requests[4].content.decode())
        assert token_request["resource"] == [server.resource]  # RFC 8707
        assert token_request["grant_type"] == ["authorization_code"]
        claims = json.loads(_segment(storage.tokens.access_token))
        assert claims["aud"] == server.resource
        assert claims["azp"] == storage.client.client_id
        assert claims["iss"] == server.issuer.issuer


def _segment(token: str) -> bytes:
    import base64

    payload = token.split(".")[1]
    return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))


async def test_a_tool_whose_scope_the_token_lacks_gets_403_naming_it_after_the_sdk_steps_up(
    monkeypatch: pytest.MonkeyPatch, issuer: LocalIssuer
) -> None:
    browser, storage, recorder = _Browser(), _Storage(), _Recorder()
    with _example(monkeypatch, issuer) as server:
        async with _client(server, _provider(server, browser, storage), recorder) as client:
            assert _text(await client.call_tool("whoami", {})) == LOGIN_SUBJECT
            with pytest.raises(Exception):  # noqa: B017, PT011 - the SDK's error for a refused call varies
                await client.call_tool("delete_repo", {"name": "demo"})
    forbidden = [r for r in recorder.responses if r.status_code == 403]
    metadata_url = f"{server.url}/.well-known/oauth-protected-resource/mcp"
    description = "The access token does not grant the required scope"
    # The SDK asked again for the scope the challenge named (SEP-2350 step-up), and was refused it again.
    assert len(forbidden) == 2
    for response in forbidden:
        assert response.json() == {"detail": description, "error": "insufficient_scope"}
        assert response.headers.get_list("www-authenticate") == [
            f'Bearer realm="{server.resource}", error="insufficient_scope", error_description="{description}", '
            f'scope="repo:admin", resource_metadata="{metadata_url}"',
            f'DPoP realm="{server.resource}", scope="repo:admin", resource_metadata="{metadata_url}", algs="ES256"',
        ]
    # Signed in twice: once on the 401, once more on the first 403, asking for the named scope too.
    assert len(browser.authorizations) == 2
    assert "repo:admin" in browser.authorizations[1]["scope"][0].split(" ")


async def test_the_sdk_refreshes_an_expired_token_with_the_refresh_token_grant(
    monkeypatch: pytest.MonkeyPatch, issuer: LocalIssuer
) -> None:
    browser, storage, recorder = _Browser(), _Storage(), _Recorder()
    with _example(monkeypatch, issuer) as server:
        provider = _provider(server, browser, storage)
        async with _client(server, provider, recorder) as client:
            assert _text(await client.call_tool("whoami", {})) == LOGIN_SUBJECT
            first = storage.tokens
            assert first is not None
            assert first.refresh_token is not None
            provider.context.token_expiry_time = 1.0  # the SDK's own clock says the token has expired
            assert _text(await client.call_tool("whoami", {})) == LOGIN_SUBJECT
    grants = [
        parse_qs(r.content.decode()).get("grant_type", [""])[0]
        for r in recorder.requests
        if urlsplit(str(r.url)).path == "/oauth/token"
    ]
    assert grants == ["authorization_code", "refresh_token"]
    assert storage.tokens is not None
    assert storage.tokens.refresh_token not in (None, first.refresh_token)
    assert len(browser.redirects) == 1  # no second sign-in


class _DPoPAuth(httpx2.Auth):
    """Presents a DPoP-bound token with a fresh proof for each request (RFC 9449 §7.1)."""

    def __init__(self, key: DPoPKey, token: str) -> None:
        self.key, self.token = key, token

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        url = str(request.url).split("?", 1)[0]
        request.headers["Authorization"] = f"DPoP {self.token}"
        request.headers["DPoP"] = self.key.proof(request.method, url, access_token=self.token)
        yield request


async def test_a_dpop_bound_token_works_through_the_sdk_client(
    monkeypatch: pytest.MonkeyPatch, issuer: LocalIssuer
) -> None:
    recorder = _Recorder()
    key = DPoPKey()
    with _example(monkeypatch, issuer, AUTH0_DPOP="required") as server:
        token = issuer.dpop_token(key, subject=LOGIN_SUBJECT, aud=server.resource, azp="dpop-client")
        async with _client(server, _DPoPAuth(key, token), recorder) as client:
            assert _text(await client.call_tool("whoami", {})) == LOGIN_SUBJECT
        async with httpx.AsyncClient() as plain:
            metadata = (await plain.get(f"{server.url}/.well-known/oauth-protected-resource/mcp")).json()
    assert metadata["dpop_bound_access_tokens_required"] is True
    assert {r.status_code for r in recorder.responses} <= {200, 202, 204}


async def test_a_session_stays_with_the_principal_that_opened_it(
    monkeypatch: pytest.MonkeyPatch, issuer: LocalIssuer
) -> None:
    # The 2025 protocol's stateful sessions: the SDK binds each to its opener's (client, issuer, sub).
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    with _example(monkeypatch, issuer) as server:
        # A request on an older protocol could be any tool: it must hold every scope tool_scopes names.
        owner = issuer.token(scope="repo:admin", subject="auth0|owner", aud=server.resource, azp="app")
        other = issuer.token(scope="repo:admin", subject="auth0|other", aud=server.resource, azp="app")
        narrow = issuer.token(scope="tools:call", subject="auth0|owner", aud=server.resource, azp="app")
        async with httpx.AsyncClient(base_url=server.url) as http:
            refused = await http.post("/mcp", json=initialize, headers={**headers, "Authorization": f"Bearer {narrow}"})
            assert refused.status_code == 403
            opened = await http.post("/mcp", json=initialize, headers={**headers, "Authorization": f"Bearer {owner}"})
            assert opened.status_code == 200
            session = opened.headers["mcp-session-id"]
            ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
            in_session = {**headers, "Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-06-18"}
            stranger = await http.post("/mcp", json=ping, headers={**in_session, "Authorization": f"Bearer {other}"})
            same = await http.post("/mcp", json=ping, headers={**in_session, "Authorization": f"Bearer {owner}"})
    assert stranger.status_code == 404  # as if the session did not exist
    assert same.status_code == 200


def test_the_doctor_passes_the_example_server(monkeypatch: pytest.MonkeyPatch, issuer: LocalIssuer) -> None:
    out = io.StringIO()
    with _example(monkeypatch, issuer) as server:
        token = issuer.token(scope="tools:call", subject=LOGIN_SUBJECT, aud=server.resource, azp="doctor")
        status = main(["check", "--resource", server.resource, "--token", token, "--tool", "delete_repo"], out=out)
    lines = out.getvalue().splitlines()
    assert status == 0, out.getvalue()
    assert [line.split(":")[0].strip() for line in lines[:-1]] == [
        "PASS  401 without a token",
        "PASS  resource_metadata in the challenge",
        "PASS  metadata",
        "PASS  authorization server",
        "PASS  scope in the challenge",
        "PASS  a malformed token is refused",
        "PASS  an unsigned (alg=none) token is refused",
        "PASS  the token's issuer is listed",
        "PASS  a token for another audience is refused",
        "PASS  a token in the query string is refused",
        "PASS  a valid token is accepted",
        "PASS  403 names the scope a tool needs",
    ]
    assert lines[-1] == "all checks passed"
    assert token not in out.getvalue()  # never printed


def test_the_doctor_fails_a_server_that_names_no_metadata(monkeypatch: pytest.MonkeyPatch, issuer: LocalIssuer) -> None:
    out = io.StringIO()
    # The same server without its resource URL: no metadata, no resource_metadata, no scope hint.
    with _example(monkeypatch, issuer, AUTH0_RESOURCE_URL="", AUTH0_TOOL_SCOPES="") as server:
        status = main(["check", "--resource", server.resource], out=out)
    report = out.getvalue()
    assert status == 1
    assert "  FAIL  resource_metadata in the challenge: missing: set AUTH0_RESOURCE_URL" in report
    assert "  FAIL  metadata: " in report
    assert "  SKIP  a valid token is accepted: give --token" in report
    assert "  PASS  an unsigned (alg=none) token is refused" in report
    assert report.splitlines()[-1].endswith("check(s) failed")


#: A legacy initialize (the token holds every tool's scope, as a legacy POST needs).
CLIENT_INFO: Final = {"name": "t", "version": "1"}


@pytest.mark.parametrize(
    ("host", "origin", "status"),
    [
        pytest.param("api.example.com", None, 200, id="the-public-host"),
        pytest.param("api.example.com", "https://api.example.com", 200, id="a-browser-on-the-public-origin"),
        pytest.param("evil.example", None, 421, id="another-host-still-refused"),
        pytest.param("api.example.com", "https://evil.example", 403, id="another-origin-still-refused"),
    ],
)
def test_the_example_answers_at_its_public_url(
    monkeypatch: pytest.MonkeyPatch, issuer: LocalIssuer, host: str, origin: str | None, status: int
) -> None:
    # Issue 31: with streamable_http_app() alone the SDK allowed loopback Hosts only, so behind
    # https://api.example.com/mcp a valid token got "421 Invalid Host header". The proxy in front
    # is left out: the request reaches uvicorn with the public Host, as a proxy passes it on.
    public = "https://api.example.com/mcp"
    with _example(monkeypatch, issuer, AUTH0_RESOURCE_URL=public, AUTH0_API_AUDIENCE=public) as server:
        headers = {
            "Host": host,
            "Authorization": f"Bearer {issuer.token(aud=public, scope='tools:call repo:admin')}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            **({"Origin": origin} if origin else {}),
        }
        initialize = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": CLIENT_INFO},
        }
        response = httpx.post(server.url + "/mcp", json=initialize, headers=headers, timeout=10)
    assert response.status_code == status, response.text
