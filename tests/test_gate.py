"""The request gate: what it refuses (exact answers), what it lets pass, and what it logs."""

from __future__ import annotations

import json
import logging
from collections.abc import MutableMapping
from typing import Any, Final

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from auth0_asgi import Auth0Middleware
from auth0_asgi.events import RequestOutcome
from auth0_asgi.rules import claim_equals
from auth0_asgi.testing import LocalIssuer

from . import _inprocess as review
from .conftest import Recorder

ISSUER: Final = LocalIssuer()
REALM: Final = ISSUER.audience
PATH_REFUSED: Final = ("unsafe_path", "The request path is not acceptable")
HOST_REFUSED: Final = ("unsafe_host", "The Host header is not acceptable")
TOO_LONG: Final = ("target_too_long", "The request target is too long")


async def _anything(request: Request) -> PlainTextResponse:
    return PlainTextResponse("reached")


def _gated(**options: Any) -> Auth0Middleware:
    app = Starlette(routes=[Route("/{rest:path}", _anything)])
    options.setdefault("protected_prefixes", ["/api/private"])
    return Auth0Middleware(app, settings=ISSUER.settings(**options.pop("settings", {})), keys=ISSUER, **options)


def _fields(description: str) -> list[str]:
    error = f'error="invalid_request", error_description="{description}"'
    return [f'Bearer realm="{REALM}", {error}', f'DPoP realm="{REALM}", {error}, algs="ES256"']


async def _send(app: Auth0Middleware, target: str, headers: list[tuple[bytes, bytes]]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(target, headers=headers)


REFUSED: Final = [
    pytest.param("/api/public%0A", [], PATH_REFUSED, id="newline-on-an-open-path"),
    pytest.param("/x%1F/y", [], PATH_REFUSED, id="unit-separator"),
    pytest.param("/x%7F", [], PATH_REFUSED, id="del"),
    pytest.param("/x%C2%85", [], PATH_REFUSED, id="c1-next-line"),
    pytest.param("/x%C2%9F", [], PATH_REFUSED, id="c1-last"),
    pytest.param("/x%250A", [], PATH_REFUSED, id="newline-encoded-twice"),
    pytest.param("/x%2509", [], PATH_REFUSED, id="tab-encoded-twice"),
    pytest.param("/", [(b"host", b"a:b:c")], HOST_REFUSED, id="two-colons"),
    pytest.param("/", [(b"host", b"h:123456")], HOST_REFUSED, id="port-too-long"),
    pytest.param("/", [(b"host", b"h%41")], HOST_REFUSED, id="percent-in-a-reg-name"),
    pytest.param("/", [(b"host", b"h\xc3\xa9")], HOST_REFUSED, id="non-ascii"),
    pytest.param("/", [(b"host", b"h" * 301)], HOST_REFUSED, id="longer-than-any-name"),
    pytest.param("/", [(b"host", b"[::1")], HOST_REFUSED, id="open-bracket"),
    pytest.param("/", [(b"x-forwarded-host", b"a,,b")], HOST_REFUSED, id="empty-forwarded-item"),
    pytest.param("/", [(b"x-forwarded-host", b"a"), (b"x-forwarded-host", b"b/c")], HOST_REFUSED, id="second-line"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("target", "headers", "expected"), REFUSED)
async def test_the_gate_refuses_what_no_decision_can_be_sure_of(
    target: str, headers: list[tuple[bytes, bytes]], expected: tuple[str, str]
) -> None:
    recorder = Recorder()
    response = await _send(_gated(observer=recorder), target, headers)
    code, description = expected
    assert response.status_code == 400
    assert response.json() == {"detail": description, "error": "invalid_request"}
    assert response.headers.get_list("www-authenticate") == _fields(description)
    assert [(event.reason, event.status) for event in recorder.of(RequestOutcome)] == [(code, 400)]


@pytest.mark.anyio
async def test_two_host_headers_are_refused() -> None:
    app = _gated()
    scope_headers = [(b"host", b"a"), (b"host", b"b")]
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": scope_headers,
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 400


@pytest.mark.anyio
@pytest.mark.parametrize(
    "host",
    [b"api.example.com", b"API.Example.COM:8443", b"127.0.0.1:8000", b"[::1]:8000", b"[fe80::1%25eth0]", b"h:", b""],
)
async def test_the_gate_lets_every_host_and_port_pass(host: bytes) -> None:
    response = await _send(_gated(), "/api/public", [(b"host", host)])
    assert (response.status_code, response.text) == (200, "reached")


@pytest.mark.anyio
async def test_forwarded_host_lists_of_host_and_port_pass() -> None:
    headers = [(b"x-forwarded-host", b"a.example, b.example:8443"), (b"x-forwarded-host", b" c.example ")]
    response = await _send(_gated(), "/api/public", headers)
    assert (response.status_code, response.text) == (200, "reached")


@pytest.mark.anyio
@pytest.mark.parametrize(("length", "status"), [(8192, 200), (8193, 400)])
async def test_the_target_length_cap_counts_path_and_query(length: int, status: int) -> None:
    target = "/api/public?q=" + "a" * (length - len("/api/public") - len("q="))
    response = await _send(_gated(), target, [])
    assert response.status_code == status
    if status == 400:
        assert response.json() == {"detail": TOO_LONG[1], "error": "invalid_request"}


@pytest.mark.anyio
async def test_the_target_cap_is_a_setting() -> None:
    response = await _send(_gated(settings={"max_target_bytes": 256}), "/" + "a" * 256, [])
    assert response.json() == {"detail": TOO_LONG[1], "error": "invalid_request"}


@pytest.mark.anyio
async def test_a_gate_refusal_logs_its_reason_a_cut_path_and_no_token_diagnosis(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="auth0_asgi"):
        await _send(_gated(), "/api/private%0A" + "a" * 2000, [(b"authorization", b"Bearer undefined")])
    records = [(r.getMessage(), r.__dict__["auth0_asgi_reason"]) for r in caplog.records]
    assert records == [
        (
            f"refused GET {('/api/private' + chr(10) + 'a' * 2000)[:512]!r}: a control character in the path",
            "unsafe_path",
        )
    ]


# From the outside review (issue 18), finding 1: a trailing newline routes to the exact route.


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/api/private%0A", "/api/private%0a", "/api/private%0D", "/api/private%00"])
async def test_a_control_after_an_exact_protected_route_is_refused(path: str) -> None:
    response = await review.call(review.middleware(review.starlette_app(), protected_prefixes=["/api/private"]), path)
    review.assert_refused(response, review.UNSAFE_PATH)


@pytest.mark.anyio
async def test_a_newline_after_a_fastapi_route_without_a_dependency_is_refused() -> None:
    app = FastAPI()

    @app.get("/api/private")
    async def private() -> dict[str, str]:
        return {"message": "reached"}

    app.add_middleware(
        Auth0Middleware, settings=review.ISSUER.settings(), keys=review.ISSUER, protected_prefixes=["/api/private"]
    )
    review.assert_refused(await review.call(app, "/api/private%0A"), review.UNSAFE_PATH)


@pytest.mark.anyio
async def test_a_newline_after_a_scoped_prefix_is_refused_under_the_default_protection() -> None:
    app = review.middleware(review.starlette_app(), required_scopes={"/api/admin": ["admin"]})
    token = review.ISSUER.token(scope="read:messages")
    assert (await review.call(app, "/api/admin", authorization=f"Bearer {token}")).status_code == 403
    review.assert_refused(
        await review.call(app, "/api/admin%0A", authorization=f"Bearer {token}"), review.UNSAFE_PATH, "Bearer"
    )


@pytest.mark.anyio
async def test_a_newline_after_a_ruled_prefix_is_refused() -> None:
    app = review.middleware(review.starlette_app(), rules={"/api/admin": [claim_equals("org_id", "acme")]})
    token = review.ISSUER.token()
    assert (await review.call(app, "/api/admin", authorization=f"Bearer {token}")).status_code == 403
    review.assert_refused(
        await review.call(app, "/api/admin%0A", authorization=f"Bearer {token}"), review.UNSAFE_PATH, "Bearer"
    )


@pytest.mark.anyio
@pytest.mark.parametrize("denial_extension", [True, False], ids=["http-denial", "close"])
async def test_a_newline_after_a_websocket_route_is_refused_before_accept(denial_extension: bool) -> None:
    reached: list[str] = []

    async def private_socket(websocket: WebSocket) -> None:
        reached.append(websocket.url.path)
        await websocket.accept()
        await websocket.close()

    routes = [WebSocketRoute("/ws/private", private_socket)]
    app = review.middleware(Starlette(routes=routes), protected_prefixes=["/ws/private"])
    scope: dict[str, Any] = {
        "type": "websocket",
        "scheme": "ws",
        "path": "/ws/private\n",
        "raw_path": b"/ws/private%0A",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}} if denial_extension else {},
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    await app(scope, receive, send)
    assert reached == []
    if not denial_extension:
        assert sent == [{"type": "websocket.close", "code": 1008}]
        return
    assert sent[0]["type"] == "websocket.http.response.start"
    assert sent[0]["status"] == 400
    fields = [value.decode() for name, value in sent[0]["headers"] if name == b"www-authenticate"]
    assert fields == review.challenge(*review.UNSAFE_PATH[1:])
    assert json.loads(b"".join(m.get("body", b"") for m in sent[1:])) == {
        "detail": review.UNSAFE_PATH[2],
        "error": "invalid_request",
    }


# From the outside review (issue 18), finding 4: the Host header joined to the path.


@pytest.mark.anyio
@pytest.mark.parametrize("host", ["127.0.0.1:8765#", "127.0.0.1:8765?", "h/api/private", "a b", "u@h", "h\\x"])
async def test_a_host_that_is_not_host_and_port_is_refused(host: str) -> None:
    response = await review.call(review.middleware(review.starlette_app()), "/", host=host)
    review.assert_refused(response, review.UNSAFE_HOST)


@pytest.mark.anyio
async def test_a_forwarded_host_that_is_not_host_and_port_is_refused() -> None:
    response = await review.call(
        review.middleware(review.starlette_app()), "/", **{"x-forwarded-host": "good, 127.0.0.1:8765#"}
    )
    review.assert_refused(response, review.UNSAFE_HOST)
