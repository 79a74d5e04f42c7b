"""The RFC 6750 contract of Auth0Middleware, row by row, in process."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import MutableMapping
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from auth0_asgi import Auth0Middleware, ConfigurationError

from . import _inprocess as review
from .conftest import (
    AUDIENCE,
    ISSUER,
    ClientMaker,
    JWKSServer,
    SigningPair,
    TokenMaker,
    asgi_client,
    demo_routes,
    forge,
    make_settings,
    protect,
)

pytestmark = pytest.mark.anyio

REALM = f'realm="{AUDIENCE}"'
NO_CREDENTIALS = {"detail": "Not authenticated"}
# The default DPoP mode ("allowed") offers the DPoP scheme beside Bearer, bare, on every refusal
# of a Bearer request (RFC 9449 §7.1); httpx joins the two fields with ", ".
DPOP_OFFER = f', DPoP {REALM}, algs="ES256"'
CHALLENGE = f"Bearer {REALM}" + DPOP_OFFER


def invalid_request(description: str = "The Authorization header is malformed") -> tuple[int, dict[str, str], str]:
    body = {"detail": description, "error": "invalid_request"}
    return 400, body, f'Bearer {REALM}, error="invalid_request", error_description="{description}"' + DPOP_OFFER


def invalid_token(description: str) -> tuple[int, dict[str, str], str]:
    body = {"detail": description, "error": "invalid_token"}
    return 401, body, f'Bearer {REALM}, error="invalid_token", error_description="{description}"' + DPOP_OFFER


# Each row: headers to send (a list, so a header can repeat) -> exact status, body, WWW-Authenticate.
HEADER_ROWS: list[Any] = [
    pytest.param([], 401, NO_CREDENTIALS, CHALLENGE, id="no-authorization-header"),
    pytest.param([("Authorization", "Basic dXNlcjpwYXNz")], 401, NO_CREDENTIALS, CHALLENGE, id="basic-scheme"),
    pytest.param([("Authorization", "Token abc")], 401, NO_CREDENTIALS, CHALLENGE, id="other-scheme"),
    pytest.param([("Authorization", "Bearerabc")], 401, NO_CREDENTIALS, CHALLENGE, id="scheme-without-space"),
    pytest.param([("Authorization", "Bearer")], *invalid_request(), id="bearer-without-token"),
    pytest.param([("Authorization", "Bearer    ")], *invalid_request(), id="bearer-with-blank-token"),
    pytest.param([("Authorization", "Bearer abc def")], *invalid_request(), id="token-with-space"),
    pytest.param([("Authorization", "Bearer abc\tdef")], *invalid_request(), id="token-with-tab"),
    pytest.param(
        [("Authorization", "Bearer a.b.c"), ("Authorization", "Bearer a.b.c")],
        *invalid_request()[:2],
        # Which scheme was meant is unknown, so every offered challenge carries the error.
        f'Bearer {REALM}, error="invalid_request", error_description="The Authorization header is malformed", '
        f'DPoP {REALM}, error="invalid_request", error_description="The Authorization header is malformed", '
        'algs="ES256"',
        id="two-authorization-headers",
    ),
    pytest.param(
        [("Authorization", "Bearer not-a-jwt")], *invalid_token("The access token is malformed"), id="not-a-jwt"
    ),
    pytest.param(
        [("Authorization", "Bearer " + "a" * 9000)],
        *invalid_token("The access token is too large"),
        id="oversized-token",
    ),
]


@pytest.mark.parametrize(("headers", "status", "body", "challenge"), HEADER_ROWS)
async def test_header_contract(
    make_client: ClientMaker, headers: list[tuple[str, str]], status: int, body: dict[str, str], challenge: str
) -> None:
    async with make_client() as client:
        response = await client.get("/api/private", headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json() == body
    assert response.headers["www-authenticate"] == challenge


TOKEN_ROWS: list[Any] = [
    pytest.param(lambda mt, other: mt(exp=int(time.time()) - 60), "The access token has expired", id="expired"),
    pytest.param(
        lambda mt, other: mt(nbf=int(time.time()) + 600), "The access token is not yet valid", id="nbf-future"
    ),
    pytest.param(
        lambda mt, other: mt(iat=int(time.time()) + 600), "The access token is not yet valid", id="iat-future"
    ),
    pytest.param(lambda mt, other: mt(iss="https://evil.example/"), "The access token issuer is not trusted", id="iss"),
    pytest.param(
        lambda mt, other: mt(aud="https://other-api.test"), "The access token was not issued for this API", id="aud"
    ),
    pytest.param(
        lambda mt, other: mt(headers={"alg": "RS512"}),
        "The access token algorithm is not allowed",
        id="alg-outside-allow-list",
    ),
    pytest.param(
        lambda mt, other: mt(key=SigningPair("rsa-1", other.private, "RS256")),
        "The access token signature is invalid",
        id="signed-by-another-key",
    ),
    pytest.param(
        lambda mt, other: mt(key=other), "The access token signing key is unknown", id="unknown-kid-after-refresh"
    ),
    pytest.param(
        lambda mt, other: mt().rsplit(".", 1)[0] + ".AAAA", "The access token signature is invalid", id="tampered-sig"
    ),
    pytest.param(
        lambda mt, other: forge({"alg": "none", "kid": "rsa-1"}, {"sub": "x"}, b""),
        "The access token algorithm is not allowed",
        id="alg-none",
    ),
    pytest.param(lambda mt, other: "a.b.c.d.e", "The access token is malformed", id="five-segments"),
]


@pytest.mark.parametrize(("token_for", "description"), TOKEN_ROWS)
async def test_invalid_token_contract(
    make_client: ClientMaker, make_token: TokenMaker, second_rsa_key: SigningPair, token_for: Any, description: str
) -> None:
    async with make_client() as client:
        response = await client.get(
            "/api/private", headers={"Authorization": f"Bearer {token_for(make_token, second_rsa_key)}"}
        )
    status, body, challenge = invalid_token(description)
    assert response.status_code == status
    assert response.json() == body
    assert response.headers["www-authenticate"] == challenge


async def test_valid_token_reaches_the_route_with_user_and_scopes(
    make_client: ClientMaker, make_token: TokenMaker
) -> None:
    token = make_token(scope="read:messages write:messages", permissions=["admin:all"])
    async with make_client() as client:
        response = await client.get("/api/private", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {
        "authenticated": True,
        "identity": "client-42@clients",
        "scopes": ["admin:all", "read:messages", "write:messages"],
        "path": "/api/private",
    }


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Bearer {t}", id="canonical"),
        pytest.param("bearer {t}", id="lower"),
        pytest.param("BEARER {t}", id="upper"),
        pytest.param("bEaReR {t}", id="mixed"),
        pytest.param("Bearer    {t}", id="several-spaces"),
    ],
)
async def test_scheme_is_case_insensitive_and_spaces_may_repeat(
    make_client: ClientMaker, make_token: TokenMaker, authorization: str
) -> None:
    async with make_client() as client:
        response = await client.get("/api/private", headers={"Authorization": authorization.format(t=make_token())})
    assert response.status_code == 200
    assert response.json()["identity"] == "client-42@clients"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        pytest.param("/api/private", 401, id="exact"),
        pytest.param("/api/private/", 401, id="trailing-slash"),
        pytest.param("/api/private/x/y", 401, id="below"),
        pytest.param("/api/privateer", 200, id="longer-segment"),
        pytest.param("/api/public", 200, id="sibling"),
        pytest.param("/api//private", 401, id="double-slash"),
        pytest.param("/api/./private", 401, id="dot-segment"),
        pytest.param("/api/public/../private", 401, id="dot-dot-segment"),
        pytest.param("/API/Private", 401, id="case-variant"),
        pytest.param("/api/private;jsessionid=1", 401, id="matrix-parameter"),
        pytest.param("/api/%2e%2e/private", 404, id="encoded-dots-kept-by-the-server"),
        pytest.param("/api/public/..", 404, id="dot-dot-tail-elsewhere"),
    ],
)
async def test_prefixes_match_by_whole_segment(
    make_client: ClientMaker, jwks_server: JWKSServer, path: str, status: int
) -> None:
    async with make_client() as client:
        response = await client.get(path)
    if status == 401:
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == CHALLENGE
    else:
        # Not protected: the app's own answer (its route, or its 404), and no challenge.
        assert (response.status_code, "www-authenticate" in response.headers) == (status, False), path


async def test_unprotected_paths_get_the_anonymous_user_and_no_token_is_examined(
    make_client: ClientMaker, jwks_server: JWKSServer
) -> None:
    async with make_client() as client:
        response = await client.get("/api/public", headers={"Authorization": "Bearer garbage garbage"})
    assert response.status_code == 200
    assert response.json() == {"authenticated": False, "identity": None, "scopes": [], "path": "/api/public"}
    assert jwks_server.count == 0


@pytest.mark.parametrize(
    ("claims", "path", "status", "required"),
    [
        pytest.param({"scope": "read:admin"}, "/api/admin/x", 200, None, id="scope-claim-grants"),
        pytest.param({"scope": "", "permissions": ["read:admin"]}, "/api/admin/x", 200, None, id="permissions-grant"),
        pytest.param({"scope": "read:messages"}, "/api/admin/x", 403, "read:admin", id="missing-scope"),
        pytest.param(
            {"scope": "read:admin"}, "/api/admin/users/1", 403, "read:admin write:users", id="nested-needs-both"
        ),
        pytest.param({"scope": "read:admin write:users"}, "/api/admin/users/1", 200, None, id="nested-has-both"),
        pytest.param({"scope": 42, "permissions": "read:admin"}, "/api/admin/x", 403, "read:admin", id="bad-types"),
    ],
)
async def test_required_scopes(
    make_client: ClientMaker,
    make_token: TokenMaker,
    claims: dict[str, Any],
    path: str,
    status: int,
    required: str | None,
) -> None:
    rules = {"/api/admin": ["read:admin"], "/api/admin/users": ["write:users"]}
    async with make_client(required_scopes=rules) as client:
        response = await client.get(path, headers={"Authorization": f"Bearer {make_token(**claims)}"})
    assert response.status_code == status
    if required is not None:
        description = "The access token does not grant the required scope"
        assert response.json() == {"detail": description, "error": "insufficient_scope"}
        assert response.headers["www-authenticate"] == (
            f'Bearer {REALM}, error="insufficient_scope", error_description="{description}", scope="{required}"'
            # RFC 6750 §3: the scope the access needs, whichever scheme the client comes back with.
            + f', DPoP {REALM}, scope="{required}", algs="ES256"'
        )


async def test_no_keys_at_all_gives_503_with_retry_after(
    make_client: ClientMaker, jwks_server: JWKSServer, make_token: TokenMaker
) -> None:
    jwks_server.status = 500
    async with make_client() as client:
        response = await client.get("/api/private", headers={"Authorization": f"Bearer {make_token()}"})
    assert response.status_code == 503
    assert response.json() == {
        "detail": "The signing keys are temporarily unavailable",
        "error": "temporarily_unavailable",
    }
    assert response.headers["retry-after"] == "5"
    assert "www-authenticate" not in response.headers


async def test_starlette_requires_decorator_works(jwks_server: JWKSServer, make_token: TokenMaker) -> None:
    @requires("read:messages")
    async def reader(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    @requires("write:messages")
    async def writer(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/api/read", reader), Route("/api/write", writer)])
    async with asgi_client(protect(jwks_server, app, protected_prefixes=["/api"])) as client:
        headers = {"Authorization": f"Bearer {make_token(scope='read:messages')}"}
        assert (await client.get("/api/read", headers=headers)).status_code == 200
        assert (await client.get("/api/write", headers=headers)).status_code == 403


async def test_cors_preflight_passes_through_when_asked_to(make_client: ClientMaker) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    async with make_client(cors_preflight=True) as client:
        passed = await client.options("/api/private", headers=preflight)
        plain_options = await client.options("/api/private")
    assert passed.status_code == 405  # reached the router, which has no OPTIONS handler
    assert "www-authenticate" not in passed.headers
    assert plain_options.status_code == 401


async def test_a_refused_preflight_says_where_cors_middleware_belongs(
    make_client: ClientMaker, caplog: pytest.LogCaptureFixture
) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    with caplog.at_level(logging.INFO, logger="auth0_asgi"):
        async with make_client() as client:
            refused = [await client.options("/api/private", headers=preflight) for _ in range(2)]
    assert [(r.status_code, r.headers["www-authenticate"]) for r in refused] == [(401, CHALLENGE)] * 2
    hints = [record.getMessage() for record in caplog.records if "CORSMiddleware" in record.getMessage()]
    assert hints == [  # once a minute, not once a request
        "refused a CORS preflight to '/api/private': add Starlette's CORSMiddleware outside Auth0Middleware "
        "(it answers preflights itself), or set AUTH0_CORS_PREFLIGHT=true"
    ]


async def test_a_protected_options_route_sees_an_unauthenticated_user_on_a_preflight(jwks_server: JWKSServer) -> None:
    # SECURITY.md: preflights carry no credentials (Fetch standard), so they pass through;
    # a handler declared for OPTIONS under a protected prefix must not take them as authenticated.
    async def options_handler(request: Request) -> JSONResponse:
        user = request.user
        return JSONResponse({"user": type(user).__name__, "authenticated": user.is_authenticated})

    app = Starlette(routes=[Route("/api/private/items", options_handler, methods=["OPTIONS"])])
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "DELETE"}
    async with asgi_client(protect(jwks_server, app, cors_preflight=True)) as client:
        passed = await client.options("/api/private/items", headers=preflight)
        origin_only = await client.options("/api/private/items", headers={"Origin": "https://app.example"})
    assert (passed.status_code, passed.json()) == (200, {"user": "UnauthenticatedUser", "authenticated": False})
    assert (origin_only.status_code, origin_only.headers["www-authenticate"]) == (401, CHALLENGE)
    assert jwks_server.count == 0


async def test_cors_middleware_outermost_answers_preflights_before_the_app(jwks_server: JWKSServer) -> None:
    reached: list[str] = []

    async def options_handler(request: Request) -> JSONResponse:
        reached.append(request.method)
        return JSONResponse({})

    inner = Starlette(routes=[Route("/api/private/items", options_handler, methods=["OPTIONS", "DELETE"])])
    # What SECURITY.md recommends: CORSMiddleware outside Auth0Middleware.
    app = CORSMiddleware(protect(jwks_server, inner), allow_origins=["https://app.example"], allow_methods=["*"])
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "DELETE"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answered = await client.options("/api/private/items", headers=preflight)
        refused = await client.delete("/api/private/items", headers={"Origin": "https://app.example"})
    assert answered.status_code == 200
    assert answered.headers["access-control-allow-origin"] == "https://app.example"
    assert reached == []  # the app never saw the preflight
    assert (refused.status_code, refused.headers["www-authenticate"]) == (401, CHALLENGE)
    assert refused.headers["access-control-allow-origin"] == "https://app.example"  # the browser can read the 401


async def test_failures_are_logged_without_the_token(
    make_client: ClientMaker, make_token: TokenMaker, caplog: pytest.LogCaptureFixture
) -> None:
    token = make_token(aud="https://other-api.test")
    with caplog.at_level(logging.INFO, logger="auth0_asgi"):
        async with make_client() as client:
            await client.get("/api/private/x", headers={"Authorization": f"Bearer {token}"})
    refusals = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused")]
    assert refusals == ["refused GET '/api/private/x': The access token was not issued for this API"]
    assert all(token not in r.getMessage() and token.split(".")[1] not in r.getMessage() for r in caplog.records)


async def test_a_decoded_newline_in_the_path_cannot_forge_a_log_line(
    make_client: ClientMaker, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="auth0_asgi"):
        async with make_client() as client:
            await client.get("/api/private/%0Arefused GET /admin: forged")
    messages = [record.getMessage() for record in caplog.records]
    assert messages == ["refused GET '/api/private/\\nrefused GET /admin: forged': a control character in the path"]


async def test_mounted_sub_app_is_protected_by_the_outer_middleware(
    jwks_server: JWKSServer, make_token: TokenMaker
) -> None:
    inner = Starlette(routes=demo_routes())
    outer = Starlette(routes=[Mount("/v1", app=inner)])
    async with asgi_client(protect(jwks_server, outer, protected_prefixes=["/v1/api/private"])) as client:
        refused = await client.get("/v1/api/private")
        allowed = await client.get("/v1/api/private", headers={"Authorization": f"Bearer {make_token()}"})
    assert refused.status_code == 401
    assert allowed.status_code == 200


async def test_middleware_on_a_mounted_sub_app_protects_its_own_routes(
    jwks_server: JWKSServer, make_token: TokenMaker
) -> None:
    inner = protect(jwks_server, Starlette(routes=demo_routes()), protected_prefixes=["/api/private"])
    outer = Starlette(routes=[Mount("/v1", app=inner)])
    transport_app: Any = outer
    try:
        async with asgi_client(protect(jwks_server, transport_app, protected_prefixes=["/nothing"])) as client:
            refused = await client.get("/v1/api/private")
            public = await client.get("/v1/api/public")
            allowed = await client.get("/v1/api/private", headers={"Authorization": f"Bearer {make_token()}"})
    finally:
        await inner.aclose()
    assert refused.status_code == 401
    assert public.status_code == 200
    assert allowed.status_code == 200


@pytest.mark.parametrize("root_path", ["/gateway", "/api"])
async def test_root_path_opens_no_bypass(jwks_server: JWKSServer, root_path: str) -> None:
    async with asgi_client(protect(jwks_server), root_path=root_path) as client:
        response = await client.get(f"{root_path}/api/private")
        bare = await client.get("/api/private")
    assert response.status_code == 401
    assert bare.status_code == 401


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"protected_prefixes": []}, "protected_prefixes=[]", id="no-prefix"),
        # A string is an iterable of one-letter "prefixes": say what was meant (issue 31).
        pytest.param(
            {"protected_prefixes": "/api"},
            "protected_prefixes='/api': a list of prefixes, not a string: protected_prefixes=['/api']",
            id="a-string-not-a-list",
        ),
        pytest.param(
            {"protected_prefixes": ["/api"], "anonymous_prefixes": "/api/x"},
            "anonymous_prefixes='/api/x': a list of prefixes, not a string: anonymous_prefixes=['/api/x']",
            id="anonymous-a-string",
        ),
        pytest.param(
            {"protected_prefixes": ["/api"], "root_paths": "/api"},
            "root_paths='/api': a list of prefixes, not a string: root_paths=['/api']",
            id="root-paths-a-string",
        ),
        pytest.param({"protected_prefixes": ["api"]}, "protected prefix 'api'", id="relative-prefix"),
        pytest.param({"protected_prefixes": ["/api/../x"]}, "protected prefix '/api/../x': no '.'", id="dots-prefix"),
        pytest.param({"protected_prefixes": ["/api/./x"]}, "protected prefix '/api/./x': no '.'", id="dot-prefix"),
        pytest.param({"protected_prefixes": ["/a;b"]}, "protected prefix '/a;b': no '.'", id="param-prefix"),
        pytest.param({"protected_prefixes": ["/a\\b"]}, "protected prefix '/a\\\\b': no '.'", id="backslash"),
        pytest.param(
            {"protected_prefixes": ["/api"], "required_scopes": {"/other": ["x"]}},
            "required_scopes['/other']",
            id="scope-outside",
        ),
        pytest.param({"required_scopes": {"/api/private": ['a"b']}}, "'a\"b' is not a valid scope", id="bad-scope"),
        pytest.param({"realm": "caf\u00e9"}, "realm='café'", id="non-ascii-realm"),
    ],
)
def test_middleware_configuration_errors(jwks_server: JWKSServer, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        Auth0Middleware(Starlette(), settings=make_settings(jwks_server), **options)


async def test_realm_is_configurable_and_quoted(jwks_server: JWKSServer) -> None:
    async with asgi_client(protect(jwks_server, realm='my "api"')) as client:
        response = await client.get("/api/private")
    assert (
        response.headers["www-authenticate"] == 'Bearer realm="my \\"api\\"", DPoP realm="my \\"api\\"", algs="ES256"'
    )


async def test_issuer_must_match_exactly(make_client: ClientMaker, make_token: TokenMaker) -> None:
    async with make_client() as client:
        without_slash = await client.get(
            "/api/private", headers={"Authorization": f"Bearer {make_token(iss=ISSUER.rstrip('/'))}"}
        )
    assert without_slash.status_code == 401
    assert without_slash.json()["detail"] == "The access token issuer is not trusted"


async def test_websocket_refusal_without_denial_extension_closes_with_policy_violation(
    jwks_server: JWKSServer,
) -> None:
    sent: list[dict[str, Any]] = []

    async def never_called(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover
        raise AssertionError("the app must not see a refused websocket")

    async def receive() -> dict[str, Any]:  # pragma: no cover - nothing is read before refusing
        return {"type": "websocket.connect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    scope = {"type": "websocket", "path": "/api/private/ws", "root_path": "", "headers": []}
    middleware = protect(jwks_server, never_called)
    await middleware(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]


async def _call(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize(
    "path",
    [
        "/api/public/../private",
        "/api/x/../../api/private",
        "/../api/private",
        "/api/./private/.",
        "/api/private/..",  # Starlette routes it literally, to /api/private/{rest:path}
        "/api/private/x/../..",
        "/api/private/%2e%2e",  # decoded once more by an app that decodes twice
    ],
)
async def test_dot_segments_sent_verbatim_are_protected(jwks_server: JWKSServer, path: str) -> None:
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": [], "query_string": b""}
    middleware = protect(jwks_server)
    try:
        sent = await _call(middleware, scope)
    finally:
        await middleware.aclose()
    assert sent[0]["status"] == 401


async def test_other_scope_types_pass_through_untouched(jwks_server: JWKSServer) -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    scope = {"type": "custom.protocol", "path": "/api/private"}
    await _call(protect(jwks_server, app), scope)
    assert seen == [{"type": "custom.protocol", "path": "/api/private"}]


async def test_fifty_concurrent_cold_requests_share_one_key_fetch(
    make_client: ClientMaker, make_token: TokenMaker, jwks_server: JWKSServer
) -> None:
    statuses: list[int] = []
    headers = {"Authorization": f"Bearer {make_token()}"}
    async with make_client() as client:

        async def call() -> None:
            statuses.append((await client.get("/api/private", headers=headers)).status_code)

        async with anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(call)
    assert statuses == [200] * 50
    assert jwks_server.count == 1


async def test_key_rotation_and_removal_through_the_middleware(
    make_client: ClientMaker, make_token: TokenMaker, jwks_server: JWKSServer, second_rsa_key: SigningPair
) -> None:
    async with make_client() as client:

        async def status(key: SigningPair | None = None) -> int:
            headers = {"Authorization": f"Bearer {make_token(key=key)}"}
            return (await client.get("/api/private", headers=headers)).status_code

        assert await status() == 200
        jwks_server.publish(second_rsa_key)  # rsa-1 rotated out, rsa-2 in, no restart
        assert await status(second_rsa_key) == 200  # unknown kid -> one refresh -> accepted
        assert await status() == 401  # rsa-1 left the set at that refresh
    assert jwks_server.count == 2


async def test_valid_tokens_keep_passing_while_the_key_server_is_down(
    jwks_server: JWKSServer, make_token: TokenMaker
) -> None:
    settings = make_settings(jwks_server, jwks_cache_ttl=0.05)
    headers = {"Authorization": f"Bearer {make_token()}"}
    async with asgi_client(protect(jwks_server, settings=settings)) as client:
        assert (await client.get("/api/private", headers=headers)).status_code == 200
        jwks_server.status = 500
        await anyio.sleep(0.1)  # past the TTL: the next request tries a refresh, which fails
        assert (await client.get("/api/private", headers=headers)).status_code == 200
        assert (await client.get("/api/private", headers=headers)).status_code == 200
    assert jwks_server.count == 2  # one good fetch, one failed refresh, then the retry interval


async def test_past_max_stale_the_cached_keys_are_refused_with_503(
    jwks_server: JWKSServer, make_token: TokenMaker
) -> None:
    settings = make_settings(jwks_server, jwks_cache_ttl=0.05, jwks_max_stale=1.0, jwks_retry_interval=0.05)
    headers = {"Authorization": f"Bearer {make_token()}"}
    async with asgi_client(protect(jwks_server, settings=settings)) as client:
        assert (await client.get("/api/private", headers=headers)).status_code == 200
        jwks_server.status = 500
        await anyio.sleep(0.1)
        assert (await client.get("/api/private", headers=headers)).status_code == 200  # stale, within the ceiling
        await anyio.sleep(1.0)  # past TTL + max_stale
        refused = await client.get("/api/private", headers=headers)  # the cached token too: its key is gone
    assert refused.status_code == 503
    assert refused.json() == {
        "detail": "The signing keys are temporarily unavailable",
        "error": "temporarily_unavailable",
    }
    assert refused.headers["retry-after"] == "1"
    assert "www-authenticate" not in refused.headers


# From the outside review (issue 18), finding 8: CORS preflights pass only when asked to.


@pytest.mark.anyio
async def test_a_preflight_to_a_handler_that_answers_options_is_refused_by_default() -> None:
    async def everything(request: Request) -> Response:
        return PlainTextResponse(f"ran {request.method}")

    app = review.middleware(Starlette(routes=[Route("/api/private", everything, methods=["GET", "OPTIONS"])]))
    preflight = {"origin": "https://app.example", "access-control-request-method": "GET"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        response = await client.options("/api/private", headers=preflight)
    assert (response.status_code, response.headers.get_list("www-authenticate")) == (401, review.challenge())
