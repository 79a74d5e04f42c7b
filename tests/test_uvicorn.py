"""Behaviour that depends on the server: real uvicorn on a free loopback port."""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Final

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, Router, WebSocketRoute
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from auth0_asgi import Auth0Middleware, JWKSCache

from .conftest import AUDIENCE, JWKSServer, TokenMaker, demo_routes, make_settings, protect, serve_with_uvicorn

pytestmark = pytest.mark.anyio


def test_a_hung_key_server_does_not_delay_unprotected_requests(jwks_server: JWKSServer, make_token: TokenMaker) -> None:
    jwks_server.hang = True
    app = protect(jwks_server, settings=make_settings(jwks_server, jwks_fetch_timeout=20))
    protected_answer: list[int] = []
    with serve_with_uvicorn(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:

        def call_protected() -> None:
            response = client.get("/api/private", headers={"Authorization": f"Bearer {make_token()}"})
            protected_answer.append(response.status_code)

        waiter = threading.Thread(target=call_protected)
        waiter.start()
        assert jwks_server.received.wait(timeout=10), "the protected request never reached the key server"
        # The key fetch is now stuck inside the worker's event loop; public traffic must flow.
        public = [client.get("/api/public").status_code for _ in range(20)]
        assert public == [200] * 20
        assert protected_answer == []  # still waiting on the hung key server
        jwks_server.hang = False
        jwks_server.release.set()
        waiter.join(timeout=20)
    assert protected_answer == [200]


def _recording_app(jwks_server: JWKSServer, reached: list[str]) -> Any:
    async def private(request: Request) -> JSONResponse:
        reached.append(request.headers.get("authorization", ""))
        return JSONResponse({"identity": request.user.identity})

    async def catch_all(request: Request) -> JSONResponse:
        return JSONResponse({"caught": request.url.path}, status_code=404)

    routes = [Route("/api/private", private), Route("/{rest:path}", catch_all)]
    return protect(jwks_server, Starlette(routes=routes), protected_prefixes=["/api/private"])


@pytest.mark.parametrize("root_path", ["/gateway", "/api"])
def test_uvicorn_root_path_opens_no_bypass(jwks_server: JWKSServer, make_token: TokenMaker, root_path: str) -> None:
    reached: list[str] = []
    app = _recording_app(jwks_server, reached)
    with serve_with_uvicorn(app, root_path=root_path) as base_url, httpx.Client(base_url=base_url) as client:
        assert client.get("/api/private").status_code == 401
        # uvicorn puts the root path in front once more: no route of the app, so its catch-all answers.
        assert client.get(f"{root_path}/api/private").status_code == 404
        token = {"Authorization": f"Bearer {make_token()}"}
        assert client.get("/api/private", headers=token).status_code == 200
    assert len(reached) == 1


def _inner_fastapi(reached: list[str]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FastAPI deprecates its own root_path; it still routes by it
        inner = FastAPI(root_path="/api")

    @inner.get("/private")
    async def private() -> dict[str, str]:
        reached.append("private")
        return {"message": "reached"}

    return inner


def _wrapped_in_a_function(app: Any) -> Any:
    async def wrapper(scope: Any, receive: Any, send: Any) -> None:
        await app(scope, receive, send)

    return wrapper


def _add_middleware_outside(inner: Any, jwks_server: JWKSServer) -> Any:
    outer = Starlette(routes=[Mount("/", app=inner)])
    outer.add_middleware(Auth0Middleware, settings=make_settings(jwks_server), protected_prefixes=["/api/private"])
    return outer


# Each shape hides FastAPI(root_path="/api") from a middleware outside it (issue 29): its route
# "/private" answers "/private" too, which the prefix "/api/private" does not name.
ROOT_PATH_SHAPES: Final[dict[str, Callable[[Any, JWKSServer], Any]]] = {
    "mount": lambda inner, keys: protect(
        keys, Starlette(routes=[Mount("/", app=inner)]), protected_prefixes=["/api/private"]
    ),
    "router": lambda inner, keys: protect(
        keys, Router(routes=[Mount("/", app=inner)]), protected_prefixes=["/api/private"]
    ),
    "function": lambda inner, keys: protect(keys, _wrapped_in_a_function(inner), protected_prefixes=["/api/private"]),
    "add-middleware-on-an-outer-app": lambda inner, keys: _add_middleware_outside(inner, keys),
}


@pytest.mark.parametrize("shape", sorted(ROOT_PATH_SHAPES))
def test_a_root_path_an_inner_app_sets_is_found_whatever_holds_it(
    jwks_server: JWKSServer, make_token: TokenMaker, shape: str
) -> None:
    reached: list[str] = []
    app = ROOT_PATH_SHAPES[shape](_inner_fastapi(reached), jwks_server)
    with serve_with_uvicorn(app) as base_url, httpx.Client(base_url=base_url) as client:
        named = client.get("/api/private")
        unnamed = client.get("/private")
        allowed = client.get("/private", headers={"Authorization": f"Bearer {make_token()}"})
    assert named.status_code == 401
    expected = (401, named.json(), named.headers.get_list("www-authenticate"))
    assert (unnamed.status_code, unnamed.json(), unnamed.headers.get_list("www-authenticate")) == expected
    assert (allowed.status_code, allowed.json()) == (200, {"message": "reached"})
    assert reached == ["private"]


class _Opaque:
    """A wrapper that keeps its app where no walk can see it."""

    def __init__(self, app: Any) -> None:
        self._apps = {"inner": app}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._apps["inner"](scope, receive, send)


def test_a_wrapper_that_cannot_be_walked_is_named_at_start_up(
    jwks_server: JWKSServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="auth0_asgi"):
        protect(jwks_server, _Opaque(_inner_fastapi([])), protected_prefixes=["/api/private"])
    assert [record.getMessage() for record in caplog.records] == [
        "Auth0Middleware cannot see inside tests.test_uvicorn._Opaque: if it holds an app with its own root_path "
        "(FastAPI(root_path=...)), name it, Auth0Middleware(..., root_paths=['/api']), or set the root path on the "
        "server (uvicorn --root-path); root_paths=[] says there is none"
    ]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="auth0_asgi"):
        named = protect(
            jwks_server, _Opaque(_inner_fastapi([])), protected_prefixes=["/api/private"], root_paths=["/api"]
        )
        protect(
            jwks_server, Starlette(routes=[Mount("/", app=_inner_fastapi([]))]), protected_prefixes=["/api/private"]
        )
    assert caplog.records == []  # named, or nothing hidden: nothing to say
    assert named._rules.decide({"path": "/private", "root_path": ""}) is not None


@contextlib.asynccontextmanager
async def _ws(url: str, **headers: str) -> AsyncIterator[Any]:
    async with connect(url, additional_headers=headers, open_timeout=10) as websocket:
        yield websocket


def _ws_app(jwks_server: JWKSServer) -> Any:
    async def whoami(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(websocket.user.identity)
        await websocket.close()

    return protect(jwks_server, Starlette(routes=[WebSocketRoute("/api/private/ws", whoami)]))


async def test_websocket_without_a_valid_token_is_refused_before_accept(jwks_server: JWKSServer) -> None:
    with serve_with_uvicorn(_ws_app(jwks_server), ws="websockets-sansio") as base_url:
        url = base_url.replace("http://", "ws://") + "/api/private/ws"
        with pytest.raises(InvalidStatus) as missing:
            async with _ws(url):
                pass  # pragma: no cover - the handshake is refused
        with pytest.raises(InvalidStatus) as garbage:
            async with _ws(url, Authorization="Bearer a.b.c"):
                pass  # pragma: no cover - the handshake is refused
    assert missing.value.response.status_code == 401
    assert missing.value.response.headers.get_all("WWW-Authenticate") == [
        f'Bearer realm="{AUDIENCE}"',
        f'DPoP realm="{AUDIENCE}", algs="ES256"',
    ]
    assert garbage.value.response.status_code == 401
    assert garbage.value.response.headers.get_all("WWW-Authenticate") == [
        f'Bearer realm="{AUDIENCE}", error="invalid_token", error_description="The access token is malformed"',
        f'DPoP realm="{AUDIENCE}", algs="ES256"',
    ]


async def test_websocket_with_a_valid_token_is_accepted(jwks_server: JWKSServer, make_token: TokenMaker) -> None:
    with serve_with_uvicorn(_ws_app(jwks_server), ws="websockets-sansio") as base_url:
        url = base_url.replace("http://", "ws://") + "/api/private/ws"
        async with _ws(url, Authorization=f"Bearer {make_token()}") as websocket:
            assert await websocket.recv() == "client-42@clients"


def test_lifespan_passes_through_and_closes_the_key_client(jwks_server: JWKSServer, make_token: TokenMaker) -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    app = protect(jwks_server, Starlette(routes=demo_routes(), lifespan=lifespan))
    with serve_with_uvicorn(app) as base_url:
        response = httpx.get(f"{base_url}/api/private", headers={"Authorization": f"Bearer {make_token()}"})
        assert isinstance(app.key_set, JWKSCache)
        key_client = app.key_set._fetcher.client
        assert key_client is not None
        assert not key_client.is_closed
    assert response.status_code == 200
    assert events == ["startup", "shutdown"]
    assert key_client.is_closed


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def _server_log() -> Iterator[list[logging.LogRecord]]:
    """What uvicorn's error logger lets through (after its filters). Enter it once the server
    runs: uvicorn's logging set-up removes the handlers it finds."""
    handler = _Records()
    server_logger = logging.getLogger("uvicorn.error")
    server_logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        server_logger.removeHandler(handler)


@pytest.mark.parametrize("implementation", ["auto", "websockets-sansio"])
async def test_a_websocket_refusal_logs_no_error(jwks_server: JWKSServer, implementation: str) -> None:
    # uvicorn's sansio websockets log a false ERROR after every denial response
    # (Kludex/uvicorn#3138); a refusal must leave the server's log at INFO.
    async def never_accepts(websocket: WebSocket) -> None:
        return None  # an app bug: returns without accepting, on an unprotected path

    routes = [WebSocketRoute("/api/private/ws", never_accepts), WebSocketRoute("/open/ws", never_accepts)]
    app = protect(jwks_server, Starlette(routes=routes))
    with serve_with_uvicorn(app, ws=implementation, log_level="info") as base_url, _server_log() as records:
        url = base_url.replace("http://", "ws://")
        with pytest.raises(InvalidStatus) as refused:
            async with _ws(url + "/api/private/ws", Authorization="Bearer a.b.c"):
                pass  # pragma: no cover - the handshake is refused
        refusal_levels = sorted({record.levelname for record in records})
        with pytest.raises(InvalidStatus):
            async with _ws(url + "/open/ws"):
                pass  # pragma: no cover - the app never accepts
    assert refused.value.response.status_code == 401
    assert refusal_levels == ["INFO"]
    # The filter is that narrow: the app's own bug on an unprotected path is still reported.
    errors = [record.getMessage() for record in records if record.levelno >= logging.WARNING]
    assert errors == ["ASGI callable returned without completing handshake."]


def test_a_server_that_fetched_keys_shuts_down_without_an_error(
    jwks_server: JWKSServer, make_token: TokenMaker
) -> None:
    # The refresh-ahead task must be gone before the lifespan reports shutdown complete: uvicorn
    # then ends its loop, and a task still winding down is cancelled and logged as an ERROR.
    app = protect(jwks_server, Starlette(routes=demo_routes()))
    handler = _Records()
    server_logger = logging.getLogger("uvicorn.error")
    try:
        with serve_with_uvicorn(app, log_level="info") as base_url:
            server_logger.addHandler(handler)  # once running: uvicorn's set-up drops handlers it finds
            response = httpx.get(f"{base_url}/api/private", headers={"Authorization": f"Bearer {make_token()}"})
            assert response.status_code == 200
            assert jwks_server.count == 1  # the worker holds a fetched key set, kept fresh ahead
    finally:
        server_logger.removeHandler(handler)
    messages = [record.getMessage() for record in handler.records]
    assert "Application shutdown complete." in messages
    assert [m for r, m in zip(handler.records, messages, strict=True) if r.levelno >= logging.WARNING] == []
