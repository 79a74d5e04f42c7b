"""The URL a DPoP proof's `htu` must name: the request's own, in `auth0_asgi._uri`'s normal form.

RFC 9449 §4.3 check 9: `htu` matches the request's URI "ignoring any query and fragment
parts", both sides normalised (RFC 3986 §6.2.2, §6.2.3).

Which origin the request was sent to is not the client's to say when it matters: with
configured origins the proof must name one of them, and forwarding headers are read only from
configured proxy addresses.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final
from urllib.parse import quote, quote_from_bytes

from starlette.types import Scope

from auth0_asgi._headers import RequestHeaders
from auth0_asgi._memo import BoundedMemo, total_length
from auth0_asgi._uri import (
    MAX_HOST_BYTES,
    PATH_SAFE,
    REMEMBERED_URL_LENGTH,
    full_path,
    is_host_and_port,
    normal_path,
    normalise_origin,
    split_origin,
)

from .proxies import AMBIGUOUS, PROXY_HEADERS, TrustedProxies

__all__ = ["ORIGIN_HEADERS", "Origins"]

#: Every field the origin is read from: what the request gate must gather for it.
ORIGIN_HEADERS: Final = PROXY_HEADERS | {b"host"}


def _checked_origin(scheme: str, host: str) -> str | None:
    # Validated alone and never joined to the path: "h#" or "h/api" must not change the path.
    if not is_host_and_port(host.encode("latin-1")):
        return None
    return normalise_origin(f"{scheme}://{host}")


def _request_path(raw: bytes | None, path: str, root_path: str) -> str | None:
    """The normal form of the path the request was sent to: `raw` (its raw path and maybe a
    query), else `path`, under `root_path`."""
    # The request side is what the client sent: bytes a URI cannot hold are percent-encoded,
    # so they compare equal to a proof that encoded them.
    if raw is not None:
        path = quote_from_bytes(raw.split(b"?", 1)[0], safe=PATH_SAFE)
    else:
        path = quote(path, safe=PATH_SAFE.replace("%", ""))
    return normal_path(full_path(path, root_path))


# Both depend on their arguments alone, and a client sends proof after proof to the same host
# and path: remembered, bounded (a scheme from a trusted proxy's header may be anything, and the
# host is at most MAX_HOST_BYTES).
def _checked_origin_of(scheme_and_host: tuple[str, str]) -> str | None:
    return _checked_origin(*scheme_and_host)


def _request_path_of(raw_and_root_path: tuple[bytes, str]) -> str | None:
    return _request_path(raw_and_root_path[0], "", raw_and_root_path[1])


_origins: Final = BoundedMemo(_checked_origin_of, max_entries=256, max_length=16 + MAX_HOST_BYTES, size=total_length)
_request_paths: Final = BoundedMemo(
    _request_path_of, max_entries=512, max_length=REMEMBERED_URL_LENGTH, size=total_length
)


class Origins:
    """Where requests are taken to have been sent, for comparing with `htu`.

    - `origins`: the public origins proofs may name; when given, only these are accepted and no
      request header decides the origin.
    - `trusted_proxies`: addresses or networks of proxies whose `Forwarded` or
      `X-Forwarded-Proto`/`X-Forwarded-Host` give the origin, by the rule of
      `auth0_asgi._binding.proxies`. Without either, the origin is the request's scheme and `Host`.
    """

    __slots__ = ("_origins", "_proxies")

    def __init__(self, origins: Iterable[str] = (), trusted_proxies: Iterable[str] = ()) -> None:
        self._origins = frozenset(origins)
        self._proxies = TrustedProxies(trusted_proxies)

    def _request_origin(self, scope: Scope, headers: RequestHeaders) -> str | None:
        """The normalised origin the request was sent to, or None when no value can be trusted."""
        scheme: str = scope.get("scheme", "http")
        hosts = headers.get(b"host")
        host = hosts[0].decode("latin-1") if hosts else None
        forwarded = self._proxies.forwarded(scope, headers) if self._proxies else None
        if forwarded is AMBIGUOUS:
            return None
        if forwarded is not None:
            scheme, host = forwarded.proto or scheme, forwarded.host or host
        if host is None:
            server = scope.get("server")
            host = f"{server[0]}:{server[1]}" if server and server[1] is not None else (server or ("",))[0]
        if len(host) > MAX_HOST_BYTES:
            return None  # no host[:port] is this long
        return _origins[scheme, host]

    def matches(self, htu: str, scope: Scope, headers: RequestHeaders) -> bool:
        """Whether `htu` names the request in `scope` (query and fragment ignored); `headers`: its
        fields, `ORIGIN_HEADERS` among them."""
        claimed = split_origin(htu)
        if claimed is None:
            return False
        raw: bytes | None = scope.get("raw_path")
        root_path: str = scope.get("root_path", "")
        if raw is not None:
            request_path = _request_paths[raw, root_path]
        else:
            request_path = _request_path(None, scope["path"], root_path)
        if claimed[1] != request_path:
            return False
        if self._origins:
            return claimed[0] in self._origins
        return claimed[0] == self._request_origin(scope, headers)
