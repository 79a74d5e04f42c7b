"""The LocalIssuer's HTTP face: Auth0's token, JWKS and discovery endpoints.

One request handler, written once, behind two adapters: an ASGI app (mounted in the demo,
beside the routes it protects) and a threaded loopback server for end-to-end tests.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from starlette.types import ASGIApp, Receive, Scope, Send

from auth0_asgi._binding.proxies import is_direct_loopback
from auth0_asgi._request.paths import route_path, segments
from auth0_asgi.dpop import DPOP_ALGORITHMS

from ._answer import Answer, oauth_error
from ._authorization import authorize, register, supported_scopes
from ._issuer import LocalIssuer
from ._token_endpoint import token_request

__all__ = ["ISSUER_PATHS", "issuer_app", "serve_issuer"]

TOKEN_PATH: Final = "/oauth/token"  # noqa: S105 - a path, not a password
JWKS_PATH: Final = "/.well-known/jwks.json"
DISCOVERY_PATH: Final = "/.well-known/openid-configuration"
METADATA_PATH: Final = "/.well-known/oauth-authorization-server"  # RFC 8414 §3
AUTHORIZE_PATH: Final = "/authorize"
REGISTER_PATH: Final = "/oidc/register"  # where Auth0 takes RFC 7591 registrations
#: The paths the issuer answers, for mounting it beside an app.
ISSUER_PATHS: Final = (TOKEN_PATH, JWKS_PATH, DISCOVERY_PATH, METADATA_PATH, AUTHORIZE_PATH, REGISTER_PATH)
#: Where a client gets something that leads to a token: loopback clients only, unless allowed.
_MINTING_PATHS: Final = frozenset({TOKEN_PATH, AUTHORIZE_PATH, REGISTER_PATH})
_MAX_BODY_BYTES: Final = 64 * 1024


def handle_issuer_request(
    issuer: LocalIssuer,
    *,
    method: str,
    path: str,
    content_type: str,
    body: bytes,
    base_url: str,
    authorization: str | None = None,
    dpop_proofs: list[str] | None = None,
    query: str = "",
) -> Answer:
    """The answer to one request to the issuer at `base_url`; `path` is below any root path."""
    normal = "/" + "/".join(segments(path))
    if normal == REGISTER_PATH:
        if method != "POST":
            return oauth_error(405, "invalid_request", "use POST", {"Allow": "POST"})
        return register(issuer, body)
    if normal == AUTHORIZE_PATH:
        if method not in ("GET", "HEAD"):
            return oauth_error(405, "invalid_request", "use GET", {"Allow": "GET, HEAD"})
        return authorize(issuer, query)
    if normal == TOKEN_PATH:
        if method != "POST":
            return oauth_error(405, "invalid_request", "use POST", {"Allow": "POST"})  # RFC 9110 §15.5.6
        return token_request(
            issuer,
            content_type=content_type,
            body=body,
            authorization=authorization,
            dpop_proofs=dpop_proofs,
            url=base_url + TOKEN_PATH,
        )
    if normal not in (JWKS_PATH, DISCOVERY_PATH, METADATA_PATH):
        return Answer(404, {"error": "not_found"})
    if method not in ("GET", "HEAD"):
        return oauth_error(405, "invalid_request", "use GET", {"Allow": "GET, HEAD"})
    if normal == JWKS_PATH:
        return Answer(200, issuer.jwks())
    # One document for RFC 8414 and OIDC discovery alike, as Auth0 serves them.
    return Answer(
        200,
        {
            "issuer": issuer.issuer,
            "jwks_uri": base_url + JWKS_PATH,
            "token_endpoint": base_url + TOKEN_PATH,
            "authorization_endpoint": base_url + AUTHORIZE_PATH,
            "registration_endpoint": base_url + REGISTER_PATH,
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "none"],
            "response_types_supported": ["code"],  # /authorize answers the code flow only
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
            "scopes_supported": supported_scopes(issuer),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [issuer.algorithm],
            "dpop_signing_alg_values_supported": sorted(DPOP_ALGORITHMS),
        },
    )


def _encode(answer: Answer) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store"), *answer.headers.items()]
    return answer.status, headers, json.dumps(answer.body, separators=(",", ":")).encode()


class _IssuerApp:
    # A class, not a closure: Starlette's Route treats a plain function as a request handler.
    def __init__(self, issuer: LocalIssuer, allow_remote: bool) -> None:
        self.issuer = issuer
        self.allow_remote = allow_remote

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
        wants_token = "/" + "/".join(segments(route_path(scope))) in _MINTING_PATHS
        if wants_token and not self.allow_remote and not is_direct_loopback(scope):
            answer = _remote_refused()
        elif len(body) > _MAX_BODY_BYTES:
            answer = _too_large()
        else:
            answer = handle_issuer_request(
                self.issuer,
                method=scope["method"],
                path=route_path(scope),  # under uvicorn --root-path the endpoints lie below it
                content_type=headers.get("content-type", ""),
                body=bytes(body),
                base_url=base_url,
                authorization=headers.get("authorization"),
                dpop_proofs=[value.decode("latin-1") for name, value in scope["headers"] if name == b"dpop"],
                query=scope.get("query_string", b"").decode("latin-1"),
            )
        status, response_headers, payload = _encode(answer)
        encoded = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in response_headers]
        await send({"type": "http.response.start", "status": status, "headers": encoded})
        await send({"type": "http.response.body", "body": payload})


def issuer_app(issuer: LocalIssuer, *, allow_remote: bool = False) -> ASGIApp:
    """An ASGI app answering `issuer`'s endpoints (see `ISSUER_PATHS`), for mounting beside an app.

    - `allow_remote`: let clients other than loopback ones get tokens; default False, so that
      a server started by mistake where the world can reach it mints tokens for nobody else
      (403 ``access_denied``). The key set and discovery document are public either way.
      Warning: the issuer mints a valid token for anyone who asks.
    """
    return _IssuerApp(issuer, allow_remote)


def _remote_refused() -> Answer:
    return oauth_error(403, "access_denied", "the offline token endpoint answers loopback clients only")


def _too_large() -> Answer:
    return oauth_error(413, "invalid_request", "request body too large")


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
                path, _, query = self.path.partition("?")
                answer = handle_issuer_request(
                    issuer,
                    method=self.command,
                    path=path,
                    query=query,
                    content_type=self.headers.get("Content-Type", ""),
                    body=self.rfile.read(size),
                    base_url=f"http://127.0.0.1:{port}",
                    authorization=self.headers.get("Authorization"),
                    dpop_proofs=self.headers.get_all("DPoP") or [],
                )
            status, headers, payload = _encode(answer)
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a test's output is no place for an access log

    return Handler


@contextlib.contextmanager
def serve_issuer(issuer: LocalIssuer, *, issuer_url: bool = False) -> Iterator[str]:
    """Serve `issuer` on a free 127.0.0.1 port in a background thread; yields its base URL.

    While it runs, `issuer.jwks_url` (and so `issuer.settings()` and `issuer.environ()`)
    point at the server. With `issuer_url`, the issuer's `iss` is the served URL
    (``http://127.0.0.1:<port>/``) meanwhile: what an OAuth client that discovers the
    authorization server from the issuer (an MCP client) needs.
    """
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(issuer))
    httpd.daemon_threads = True
    base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    issuer.jwks_url = base_url + JWKS_PATH
    configured_issuer = issuer.issuer
    if issuer_url:
        issuer.issuer = base_url + "/"
    try:
        yield base_url
    finally:
        issuer.issuer = configured_issuer
        issuer.jwks_url = None
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
