"""RFC 9728 protected resource metadata, and the challenge parameter that points to it (any API).

With a resource URL configured (`Auth0Settings.resource_url`, AUTH0_RESOURCE_URL), the
middleware publishes what a client needs to get a token for this API (which authorization
servers issue them, which scopes there are, whether DPoP is required) at the well-known URL
RFC 9728 §3.1 derives from the resource URL, and every challenge names that URL
(`resource_metadata`, §5.1). Everything is built from the setting, never from the request's
Host: a client is told where the resource says it lives, not where a header claims it does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

from starlette.types import Receive, Scope, Send

from ._config.resource_url import audience_mismatch, check_resource_url
from ._request.paths import route_path
from ._tokens.confirmation import Mode

__all__ = ["WELL_KNOWN_PATH", "ProtectedResource", "audience_mismatch", "check_resource_url", "metadata_url"]

#: RFC 9728 §3: the well-known URI suffix of protected resource metadata.
WELL_KNOWN_PATH: Final = "/.well-known/oauth-protected-resource"
#: Browsers MCP clients run in read the document cross-origin: it is public, so any origin may.
_CORS_HEADERS: Final[tuple[tuple[bytes, bytes], ...]] = ((b"access-control-allow-origin", b"*"),)
_PREFLIGHT_HEADERS: Final = (
    *_CORS_HEADERS,
    (b"access-control-allow-methods", b"GET, HEAD"),
    # MCP clients send MCP-Protocol-Version with the request, which makes a browser ask first.
    (b"access-control-allow-headers", b"*"),
    (b"access-control-max-age", b"86400"),
)
#: Metadata changes when the deployment does; an hour lets clients and CDNs hold it.
_CACHE_CONTROL: Final = b"public, max-age=3600"


def _inserted_path(resource_url: str) -> str:
    """RFC 9728 §3.1: the well-known suffix goes between the host and the path; a path of
    just ``/`` is dropped, any other kept as it is (a terminating slash included)."""
    path = urlsplit(resource_url).path
    return WELL_KNOWN_PATH + ("" if path in ("", "/") else path)


def metadata_url(resource_url: str) -> str:
    """The absolute URL of the metadata of `resource_url` (RFC 9728 §3.1)."""
    parts = urlsplit(resource_url)
    return f"{parts.scheme}://{parts.netloc}{_inserted_path(resource_url)}"


class ProtectedResource:
    """One protected resource's metadata document, and the ASGI answer that serves it.

    - `resource_url`: the resource identifier, exactly as configured (`check_resource_url`).
    - `authorization_servers`: the issuers of its tokens, exactly as their `iss` reads (a
      client compares them byte for byte with the authorization server's own metadata).
    - `scopes`: the scopes requests may need (``offline_access`` is never listed: it is the
      authorization server's to grant, not a resource's to require).
    - `dpop`: ``allowed``, ``required`` or ``disabled``; `dpop_algorithms` the proof algorithms.
    - `certificate_bound`: whether certificate-bound (mTLS) tokens are supported (RFC 8705).
    - `name`, `documentation`: optional human-readable name and documentation URL.
    """

    __slots__ = ("_document", "_paths", "metadata_url", "resource_url")

    def __init__(
        self,
        resource_url: str,
        *,
        authorization_servers: Iterable[str],
        scopes: Iterable[str] = (),
        dpop: Mode = "allowed",
        dpop_algorithms: Iterable[str] = (),
        certificate_bound: bool = False,
        name: str = "",
        documentation: str = "",
    ) -> None:
        self.resource_url = resource_url
        self.metadata_url = metadata_url(resource_url)
        # Clients try the path-inserted URL, then the root one (MCP's discovery order).
        self._paths = frozenset({_inserted_path(resource_url), WELL_KNOWN_PATH})
        document: dict[str, object] = {
            "resource": resource_url,
            "authorization_servers": list(dict.fromkeys(authorization_servers)),
            # RFC 6750 §2.2 and §2.3 (body and query) are never read: a token in a URL leaks into logs.
            "bearer_methods_supported": ["header"],
        }
        listed = sorted(set(scopes) - {"offline_access"})
        if listed:
            document["scopes_supported"] = listed
        if dpop != "disabled":
            document["dpop_signing_alg_values_supported"] = list(dpop_algorithms)
            document["dpop_bound_access_tokens_required"] = dpop == "required"
        if certificate_bound:
            document["tls_client_certificate_bound_access_tokens"] = True  # RFC 8705 §3.4
        # Not resource_signing_alg_values_supported: RFC 9728 §2 means algorithms the resource
        # signs its responses with, and no response of ours is signed.
        if name:
            document["resource_name"] = name
        if documentation:
            document["resource_documentation"] = documentation
        self._document = json.dumps(document, separators=(",", ":")).encode("utf-8")

    @property
    def document(self) -> bytes:
        """The metadata document, as served."""
        return self._document

    def serves(self, scope: Scope) -> bool:
        """Whether the request in `scope` asks for the metadata (at either well-known path,
        with or without the app's root path in front)."""
        return scope["path"] in self._paths or route_path(scope) in self._paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a request for the metadata: GET and HEAD, a CORS preflight, else 405."""
        method = scope.get("method", "GET")
        if method == "OPTIONS":
            await _respond(send, 204, _PREFLIGHT_HEADERS, b"")
            return
        if method not in ("GET", "HEAD"):
            headers = (*_CORS_HEADERS, (b"allow", b"GET, HEAD, OPTIONS"))  # RFC 9110 §15.5.6
            await _respond(send, 405, headers, b"")
            return
        headers = (
            *_CORS_HEADERS,
            (b"content-type", b"application/json"),
            (b"cache-control", _CACHE_CONTROL),
            (b"content-length", str(len(self._document)).encode("ascii")),
        )
        await _respond(send, 200, headers, b"" if method == "HEAD" else self._document, length_given=True)


async def _respond(
    send: Send, status: int, headers: Iterable[tuple[bytes, bytes]], body: bytes, *, length_given: bool = False
) -> None:
    header_list = list(headers)
    if not length_given:
        header_list.append((b"content-length", str(len(body)).encode("ascii")))
    await send({"type": "http.response.start", "status": status, "headers": header_list})
    await send({"type": "http.response.body", "body": body})
