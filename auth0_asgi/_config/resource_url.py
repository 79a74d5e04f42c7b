"""Checking a resource URL (RFC 9728 §1.2, RFC 8707 §2) and that it is one of the API's audiences."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

from auth0_asgi._uri import is_loopback
from auth0_asgi.errors import ConfigurationError

__all__ = ["audience_mismatch", "check_resource_url"]

# RFC 3986 path characters a decoded request path can equal byte for byte: no escapes, no
# whitespace or controls, and no dot segments (a router would resolve them away).
_UNSAFE_PATH_CHARACTERS: Final = frozenset("%\\ \t\r\n\x00\x7f")


def check_resource_url(value: str, variable: str = "AUTH0_RESOURCE_URL") -> str:
    """`value` as a resource identifier (RFC 9728 §1.2, RFC 8707 §2), or ConfigurationError.

    An absolute ``https://`` URL (``http://`` only for a loopback host) with no query, fragment
    or user information; kept exactly as written, since clients compare it as a string.
    """
    text = value.strip()
    if text != value or not text:
        raise ConfigurationError(f"{variable}={value!r}: give the absolute URL of the API, without spaces")
    try:
        parts = urlsplit(text)
        host, _port = parts.hostname, parts.port
    except ValueError:
        host = None
    if not host or parts.scheme not in ("https", "http") or (parts.scheme == "http" and not is_loopback(host)):
        raise ConfigurationError(f"{variable}={value!r}: must be an https:// URL (http:// only for a loopback host)")
    if parts.query or parts.fragment or "?" in text or "#" in text or "@" in parts.netloc:
        raise ConfigurationError(f"{variable}={value!r}: no query, fragment or user name (RFC 8707 §2)")
    path_segments = parts.path.split("/")
    if any(c in _UNSAFE_PATH_CHARACTERS or ord(c) < 0x20 for c in parts.path) or {".", ".."} & set(path_segments):
        raise ConfigurationError(f"{variable}={value!r}: write the path plainly: no escapes, spaces or dot segments")
    return text


def audience_mismatch(resource_url: str, audiences: Iterable[str]) -> str:
    """The start-up error for a resource URL that is no configured audience (RFC 8707 binding)."""
    configured = ", ".join(map(repr, audiences))
    near = [a for a in audiences if a.rstrip("/") == resource_url.rstrip("/")]
    spelling = f" (only the trailing slash differs from {near[0]!r}: they must be identical)" if near else ""
    return (
        f"AUTH0_RESOURCE_URL={resource_url!r}: no AUTH0_API_AUDIENCE ({configured}) equals it{spelling}. "
        "MCP clients ask Auth0 for a token with resource=<this URL> (RFC 8707): in the Auth0 dashboard, "
        "give the API exactly this identifier (APIs > Create API), list it in AUTH0_API_AUDIENCE, and turn "
        "on the tenant's Resource Parameter Compatibility Profile (Settings > Advanced), or clients get "
        "opaque or encrypted tokens this API cannot verify"
    )
