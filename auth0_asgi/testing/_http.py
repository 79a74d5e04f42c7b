"""The LocalIssuer's HTTP face: Auth0's token, JWKS and discovery endpoints.

One request handler, written once, behind two adapters: an ASGI app (mounted in the demo,
beside the routes it protects) and a threaded loopback server for end-to-end tests.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from auth0_asgi._paths import segments

from ._issuer import LocalIssuer

__all__ = ["ISSUER_PATHS", "issuer_app", "serve_issuer"]

TOKEN_PATH: Final = "/oauth/token"  # noqa: S105 - a path, not a password
JWKS_PATH: Final = "/.well-known/jwks.json"
DISCOVERY_PATH: Final = "/.well-known/openid-configuration"
#: The paths the issuer answers, for mounting it beside an app.
ISSUER_PATHS: Final = (TOKEN_PATH, JWKS_PATH, DISCOVERY_PATH)
_MAX_BODY_BYTES: Final = 64 * 1024

Answer = tuple[int, dict[str, Any]]


def _oauth_error(status: int, error: str, description: str) -> Answer:
    # RFC 6749 §5.2: the token endpoint's error response.
    return status, {"error": error, "error_description": description}


def _token_request(issuer: LocalIssuer, params: Mapping[str, str]) -> Answer:
    """RFC 6749 §4.4 client credentials, the way Auth0's /oauth/token takes it."""
    if params.get("grant_type") != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
    client_id, client_secret = params.get("client_id", ""), params.get("client_secret", "")
    if not client_id or not client_secret:
        return _oauth_error(400, "invalid_request", "client_id and client_secret are required")
    if issuer.clients is not None and not secrets.compare_digest(
        issuer.clients.get(client_id, "").encode(), client_secret.encode()
    ):
        return _oauth_error(401, "invalid_client", "unknown client or wrong secret")
    if params.get("audience") != issuer.audience:
        # RFC 8707 §2: the audience (Auth0's resource indicator) names no API of this issuer.
        return _oauth_error(400, "invalid_target", f"audience must be {issuer.audience}")
    requested = params.get("scope")
    granted = issuer.scopes if requested is None else [s for s in requested.split() if s in issuer.scopes]
    scope = " ".join(granted)
    token = issuer.token(scope=scope, subject=f"{client_id}@clients")
    return 200, {"access_token": token, "token_type": "Bearer", "expires_in": issuer.token_lifetime, "scope": scope}


def _form(content_type: str, body: bytes) -> dict[str, str] | None:
    media_type = content_type.split(";", 1)[0].strip().lower()
    try:
        if media_type == "application/json":
            value = json.loads(body)
            if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
                return value
            return None
        if media_type == "application/x-www-form-urlencoded":
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body)))
    except (ValueError, UnicodeDecodeError):
        return None
    return None


def handle_issuer_request(
    issuer: LocalIssuer, *, method: str, path: str, content_type: str, body: bytes, base_url: str
) -> Answer:
    """The status and JSON body for one request to the issuer at `base_url`."""
    normal = "/" + "/".join(segments(path))
    if normal == TOKEN_PATH:
        if method != "POST":
            return _oauth_error(405, "invalid_request", "use POST")
        params = _form(content_type, body)
        if params is None:
            return _oauth_error(400, "invalid_request", "send a JSON object or a form of strings")
        return _token_request(issuer, params)
    if method not in ("GET", "HEAD"):
        return _oauth_error(405, "invalid_request", "use GET")
    if normal == JWKS_PATH:
        return 200, issuer.jwks()
    if normal == DISCOVERY_PATH:
        return 200, {
            "issuer": issuer.issuer,
            "jwks_uri": base_url + JWKS_PATH,
            "token_endpoint": base_url + TOKEN_PATH,
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [issuer.algorithm],
        }
    return 404, {"error": "not_found"}


def _encode(answer: Answer) -> tuple[int, bytes]:
    status, body = answer
    return status, json.dumps(body, separators=(",", ":")).encode()


class _IssuerApp:
    # A class, not a closure: Starlette's Route treats a plain function as a request handler.
    def __init__(self, issuer: LocalIssuer) -> None:
        self.issuer = issuer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            more = message.get("more_body", False) and len(body) <= _MAX_BODY_BYTES
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        base_url = f"{scope.get('scheme', 'http')}://{headers.get('host', 'localhost')}{scope.get('root_path', '')}"
        answer = (
            _too_large()
            if len(body) > _MAX_BODY_BYTES
            else handle_issuer_request(
                self.issuer,
                method=scope["method"],
                path=scope["path"],
                content_type=headers.get("content-type", ""),
                body=bytes(body),
                base_url=base_url,
            )
        )
        status, payload = _encode(answer)
        response_headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": payload})


def issuer_app(issuer: LocalIssuer) -> ASGIApp:
    """An ASGI app answering `issuer`'s endpoints (see `ISSUER_PATHS`), for mounting beside an app."""
    return _IssuerApp(issuer)


def _too_large() -> Answer:
    return _oauth_error(413, "invalid_request", "request body too large")


def _handler_for(issuer: LocalIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = self.headers.get("Content-Length", "0")
            size = int(length) if length.isdigit() else 0
            port = self.server.server_address[1]  # type: ignore[index]  # an (host, port) tuple for AF_INET
            if size > _MAX_BODY_BYTES:
                answer = _too_large()
                self.close_connection = True
            else:
                answer = handle_issuer_request(
                    issuer,
                    method=self.command,
                    path=self.path.split("?", 1)[0],
                    content_type=self.headers.get("Content-Type", ""),
                    body=self.rfile.read(size),
                    base_url=f"http://127.0.0.1:{port}",
                )
            status, payload = _encode(answer)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a test's output is no place for an access log

    return Handler


@contextlib.contextmanager
def serve_issuer(issuer: LocalIssuer) -> Iterator[str]:
    """Serve `issuer` on a free 127.0.0.1 port in a background thread; yields its base URL.

    While it runs, `issuer.jwks_url` (and so `issuer.settings()` and `issuer.environ()`)
    point at the server.
    """
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(issuer))
    httpd.daemon_threads = True
    base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    issuer.jwks_url = base_url + JWKS_PATH
    try:
        yield base_url
    finally:
        issuer.jwks_url = None
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
