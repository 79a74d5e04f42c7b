"""The request gate: what no request may carry, checked first for every http and websocket request.

The prefixes are decided on our readings of a path; the request runs on the router's. Where a
request allows a reading we cannot be sure to share, no decision is safe, so it is refused
with 400 `invalid_request` before anything else reads it, protected path or not:

- a control character (C0, DEL, C1) in the path, as the server decoded it or decoded once
  more: Python's ``$`` matches before a trailing newline, so Starlette routes
  ``/api/private%0A`` to the route ``/api/private`` while a segment compare sees ``private\\n``;
- a ``Host`` that is not ``host[:port]`` (RFC 9112 §3.2, RFC 3986 §3.2), or more than one:
  joined to the path to rebuild the request's URL, ``h#`` or ``h/api`` would change which
  path that URL names; each ``X-Forwarded-Host`` value likewise;
- a request target (raw path and query) longer than `max_target_bytes`, so that no parser
  downstream ever sees an unbounded input.

A real client never sends any of these: refusing costs nobody anything, passing could cost
everything. Every check is a bounded, linear scan.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final
from urllib.parse import unquote

from starlette.types import Scope

from auth0_asgi._headers import RequestHeaders, gather
from auth0_asgi._memo import BoundedMemo
from auth0_asgi._uri import is_host_and_port
from auth0_asgi.errors import InvalidRequestError

__all__ = ["GATE_CODES", "GATE_HEADERS", "RequestGate"]

#: The reason codes of the gate's refusals (InvalidRequestError): the request's target, not its token.
GATE_CODES: Final = frozenset({"unsafe_path", "unsafe_host", "target_too_long"})

#: How many checked values each memo keeps, and how long one may be to be kept (a path at four
#: bytes a character: 2 MiB a memo at most).
_REMEMBERED: Final = 1024
_REMEMBERED_LENGTH: Final = 512

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _has_control(path: str) -> bool:
    if _CONTROL.search(path) is not None:
        return True
    # An app or proxy that decodes once more must not find one either ("%250A").
    return "%" in path and _CONTROL.search(unquote(path)) is not None


#: The fields the gate itself checks.
GATE_HEADERS: Final = frozenset({b"host", b"x-forwarded-host"})


class RequestGate:
    """Refuses what no request may carry; `max_target_bytes` bounds path plus query. `names`: the
    header fields later readers need (lower-case), gathered in the same pass."""

    __slots__ = ("_host_is_safe", "_path_is_unsafe", "max_target_bytes", "names")

    def __init__(self, max_target_bytes: int, names: Iterable[bytes] = ()) -> None:
        self.max_target_bytes = max_target_bytes
        #: The fields `check` gathers: `names`, and the gate's own.
        self.names = frozenset(names) | GATE_HEADERS
        # Real traffic repeats a few paths and one or two Host values, so a lookup replaces the
        # scans; a flood of distinct ones only empties the memos now and then.
        self._path_is_unsafe = BoundedMemo(_has_control, max_entries=_REMEMBERED, max_length=_REMEMBERED_LENGTH)
        self._host_is_safe = BoundedMemo(is_host_and_port, max_entries=_REMEMBERED, max_length=_REMEMBERED_LENGTH)

    def check(self, scope: Scope) -> RequestHeaders:
        """Raise InvalidRequestError, with one of `GATE_CODES`, when the request in `scope` must be refused.

        Returns the request's fields named by `names` (and those the gate reads itself), gathered
        in its one pass over the headers: every later reader takes them from there.
        """
        path: str = scope["path"]
        raw_path: bytes | None = scope.get("raw_path")
        length = (len(raw_path) if raw_path is not None else len(path)) + len(scope.get("query_string", b""))
        if length > self.max_target_bytes:
            raise InvalidRequestError(f"a target of {length} bytes", code="target_too_long")
        if self._path_is_unsafe[path]:
            raise InvalidRequestError("a control character in the path", code="unsafe_path")
        headers = gather(scope, self.names)
        hosts = headers.get(b"host")
        if hosts is not None:
            if len(hosts) > 1:
                raise InvalidRequestError("Host is repeated", code="unsafe_host")
            if not self._host_is_safe[hosts[0]]:
                raise InvalidRequestError("Host is not host[:port]", code="unsafe_host")
        forwarded_hosts = headers.get(b"x-forwarded-host")
        # RFC 9110 §5.6.1 list syntax: each proxy appends one value.
        if forwarded_hosts is not None and not all(_all_hosts(value) for value in forwarded_hosts):
            raise InvalidRequestError("X-Forwarded-Host holds a value that is not host[:port]", code="unsafe_host")
        return headers


def _all_hosts(value: bytes) -> bool:
    return all(is_host_and_port(item) and item for item in (part.strip(b" \t") for part in value.split(b",")))
