"""Per-tool scopes of an MCP server, read from the request's Mcp-Method and Mcp-Name headers.

MCP's streamable HTTP transport (protocol 2026-07-28) mirrors every request's JSON-RPC method
in ``Mcp-Method`` and, for ``tools/call``, ``prompts/get`` and ``resources/read``, the tool,
prompt or resource it names in ``Mcp-Name``, so that an intermediary can decide without
reading the body. The headers are only as good as the server's check that they equal the body,
which the protocol requires of a 2026-07-28 server (the MCP SDK answers a mismatch with
``HEADER_MISMATCH``) and which no earlier protocol has. So:

- a request that says it speaks 2026-07-28 or later (``MCP-Protocol-Version``) is held to the
  scopes its headers name;
- any other POST (an older protocol, or none said) could be any method and any tool: it must
  hold every scope the mapping names;
- a request whose routing headers are repeated, empty or malformed is refused with 400: two
  readers of it could disagree.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

from starlette.types import Scope

from auth0_asgi._config.tool_scopes import ANY_NAME, METHOD_NAME, NAME_BEARING_METHODS, ToolScopeMapping
from auth0_asgi._headers import RequestHeaders
from auth0_asgi.errors import InvalidRequestError

__all__ = ["ROUTING_HEADERS", "ToolScopes"]

#: The first protocol revision whose servers must refuse headers that disagree with the body.
_FIRST_CHECKED_REVISION: Final = "2026-07-28"
_REVISION: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# The SDK's own rule for a name sent verbatim: printable ASCII without edge whitespace;
# anything else travels base64-encoded between =?base64? and ?=.
_PLAIN_NAME: Final = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,4094}[\x21-\x7e])?")
_ENCODED_NAME: Final = re.compile(r"=\?base64\?([A-Za-z0-9+/=]{0,8192})\?=")
#: The fields `ToolScopes` reads: what the request gate must gather for it.
ROUTING_HEADERS: Final = (b"mcp-method", b"mcp-name", b"mcp-protocol-version")


def _malformed(reason: str) -> InvalidRequestError:
    return InvalidRequestError(reason, code="mcp_header_malformed")


def _decoded_name(raw: bytes) -> str:
    text = raw.decode("latin-1")
    if _PLAIN_NAME.fullmatch(text) and not text.startswith("=?base64?"):
        return text
    match = _ENCODED_NAME.fullmatch(text)
    if match is None:
        raise _malformed("Mcp-Name is neither plain printable text nor =?base64?...?=")
    payload = match.group(1)
    try:
        decoded = base64.b64decode(payload, validate=True)
        name = decoded.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _malformed("Mcp-Name holds bad base64 or UTF-8") from None
    # Only the canonical encoding, as the SDK compares it: two spellings of one name are two readings.
    if base64.b64encode(decoded).decode("ascii") != payload or not name:
        raise _malformed("Mcp-Name is not canonically encoded")
    return name


class ToolScopes:
    """What the MCP request in a scope needs beyond its path's scopes, by its routing headers."""

    __slots__ = ("_every", "_mapping")

    def __init__(self, mapping: ToolScopeMapping) -> None:
        self._mapping = mapping
        self._every = frozenset().union(*(scopes for names in mapping.values() for scopes in names.values()))

    def required(self, scope: Scope, headers: RequestHeaders) -> frozenset[str]:
        """The scopes the request in `scope` needs by its `headers` (`ROUTING_HEADERS` gathered);
        InvalidRequestError (400, code mcp_header_malformed) for repeated, empty or malformed routing headers."""
        found: dict[bytes, bytes] = {}
        for field in ROUTING_HEADERS:
            values = headers.get(field, ())
            if len(values) > 1:
                raise _malformed(f"{field.decode()} repeated")
            if values:
                found[field] = values[0]
        method_value = found.get(b"mcp-method")
        if method_value is None:
            return self._every if scope.get("method") == "POST" else frozenset()
        method = method_value.decode("latin-1")
        if not METHOD_NAME.fullmatch(method):
            raise _malformed("Mcp-Method is empty or malformed")
        raw_name = found.get(b"mcp-name")
        name = _decoded_name(raw_name) if raw_name is not None else None
        if not _checked_revision(found.get(b"mcp-protocol-version")):
            return self._every  # nothing makes the server hold the headers to the body
        by_name = self._mapping.get(method)
        if by_name is None:
            return frozenset()
        if name is None and method in NAME_BEARING_METHODS and len(by_name) > (ANY_NAME in by_name):
            raise _malformed(f"Mcp-Name missing on {method}")
        needed = by_name.get(ANY_NAME, frozenset())
        return needed | by_name[name] if name is not None and name in by_name else needed


def _checked_revision(value: bytes | None) -> bool:
    """Whether MCP-Protocol-Version names a revision whose servers check headers against the body."""
    if value is None:
        return False
    text = value.decode("latin-1")
    # ISO dates compare as strings; anything not a date is no promise at all.
    return bool(_REVISION.fullmatch(text)) and text >= _FIRST_CHECKED_REVISION
