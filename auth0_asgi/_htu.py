"""The URL a DPoP proof's `htu` must name, and the normal form both sides are compared in.

RFC 9449 §4.3 check 9: `htu` matches the request's URI "ignoring any query and fragment
parts", after RFC 3986 §6.2.2 (syntax) and §6.2.3 (scheme) normalisation: scheme and host
case-folded, percent-encodings upper-cased and unreserved ones decoded, dot segments removed,
the default port and an empty port dropped, an empty path made ``/``. The path keeps its case
and its trailing slash. For websockets ``ws``/``wss`` read as ``http``/``https``.

Which origin the request was sent to is not the client's to say when it matters: with
configured origins the proof must name one of them, and forwarding headers are read only from
configured proxy addresses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final
from urllib.parse import quote, quote_from_bytes

from starlette.types import Scope

from ._gate import MAX_HOST_BYTES, is_host_and_port
from ._memo import BoundedMemo, total_length
from ._proxies import AMBIGUOUS, TrustedProxies

__all__ = ["Origins", "normalise_origin", "normalise_url", "split_origin"]

# RFC 3986 Appendix B, with the authority required.
_URI: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^?#]*)(?:\?[^#]*)?(?:#.*)?", re.DOTALL)
_HOST: Final = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9._~!$&'()*+,;=%-]+)(?::([0-9]*))?")
_PERCENT: Final = re.compile(r"%([0-9A-Fa-f]{2})")
_DEFAULT_PORTS: Final = {"http": "80", "https": "443"}
_SCHEMES: Final = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
_UNRESERVED: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Everything a path may hold as it is (RFC 3986 §3.3 pchar and "/", plus "%" of a triplet).
_PATH_SAFE: Final = "/:@!$&'()*+,;=-._~%"
# Linear: one character class, and a separate search for a "%" that starts no triplet. (The
# nested "(?:[...]+|%XX)*" backtracked exponentially on a long run ending in a bad character,
# and it ran on an unsigned proof's htu before the signature is checked.)
_PATH_CHARACTERS: Final = re.compile(r"[A-Za-z0-9\-._~/:@!$&'()*+,;=%]*")
_BAD_PERCENT: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _percent_normal(match: re.Match[str]) -> str:
    character = chr(int(match.group(1), 16))
    return character if character in _UNRESERVED else f"%{match.group(1).upper()}"


def _remove_dot_segments(path: str) -> str:
    # RFC 3986 §5.2.4, on a path that starts with "/".
    output: list[str] = []
    segments = path.split("/")[1:]
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "..":
            if output:
                output.pop()
            if last:
                output.append("")
        elif segment == ".":
            if last:
                output.append("")
        else:
            output.append(segment)
    return "/" + "/".join(output)


def _normal_path(path: str) -> str | None:
    if not path:
        return "/"
    if not _PATH_CHARACTERS.fullmatch(path) or ("%" in path and _BAD_PERCENT.search(path)):
        return None  # a stray "%" or a character a URI cannot hold: not a URI at all
    if "%" in path:
        path = _PERCENT.sub(_percent_normal, path)
    # Only a segment that starts with "." can be a dot segment.
    return _remove_dot_segments(path) if "/." in path else path


def split_origin(url: str) -> tuple[str, str] | None:
    """`url` normalised, as (origin, path); None when it is not an absolute http(s) URL.

    A URL with userinfo is refused: RFC 9110 §4.2.4 deprecates it, and it could hide the host.
    Memoised: a client names the same few URLs in proof after proof, and the result depends on
    the text alone; long URLs are not kept, so hostile ones cannot fill memory.
    """
    return _split_origins[url]


def _split_origin(url: str) -> tuple[str, str] | None:
    parts = _URI.fullmatch(url)
    if parts is None:
        return None
    scheme = _SCHEMES.get(parts.group(1).lower())
    authority = _HOST.fullmatch(parts.group(2).lower())
    if scheme is None or authority is None or "@" in parts.group(2):
        return None
    host, port = authority.group(1), authority.group(2) or ""
    if "%" in host:
        host = _PERCENT.sub(_percent_normal, host)
    if port:
        port = port.lstrip("0") or "0"
    origin = f"{scheme}://{host}" if port in ("", _DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"
    path = _normal_path(parts.group(3))
    return None if path is None else (origin, path)


#: The longest URL or path remembered: real ones are far shorter; hostile ones are computed.
_REMEMBERED_LENGTH: Final = 1024
_split_origins: Final = BoundedMemo(_split_origin, max_entries=256, max_length=_REMEMBERED_LENGTH)


def normalise_url(url: str) -> str | None:
    """`url` in the normal form, without query and fragment; None when it is not usable as `htu`."""
    split = split_origin(url)
    return None if split is None else split[0] + split[1]


def normalise_origin(origin: str) -> str | None:
    """A configured origin (``https://api.example.com``) normalised; None unless it is only an origin."""
    split = split_origin(origin)
    if split is None or split[1] != "/" or origin.rstrip("/").count("/") != 2 or "?" in origin or "#" in origin:
        return None
    return split[0]


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
        path = quote_from_bytes(raw.split(b"?", 1)[0], safe=_PATH_SAFE)
    else:
        path = quote(path, safe=_PATH_SAFE.replace("%", ""))
    if root_path and not path.startswith(root_path):
        path = root_path + path  # servers that leave root_path out of the path
    return _normal_path(path)


# Both depend on their arguments alone, and a client sends proof after proof to the same host
# and path: remembered, bounded (a scheme from a trusted proxy's header may be anything, and the
# host is at most MAX_HOST_BYTES).
def _checked_origin_of(scheme_and_host: tuple[str, str]) -> str | None:
    return _checked_origin(*scheme_and_host)


def _request_path_of(raw_and_root_path: tuple[bytes, str]) -> str | None:
    return _request_path(raw_and_root_path[0], "", raw_and_root_path[1])


_origins: Final = BoundedMemo(_checked_origin_of, max_entries=256, max_length=16 + MAX_HOST_BYTES, size=total_length)
_request_paths: Final = BoundedMemo(_request_path_of, max_entries=512, max_length=_REMEMBERED_LENGTH, size=total_length)


class Origins:
    """Where requests are taken to have been sent, for comparing with `htu`.

    - `origins`: the public origins proofs may name; when given, only these are accepted and no
      request header decides the origin.
    - `trusted_proxies`: addresses or networks of proxies whose `Forwarded` or
      `X-Forwarded-Proto`/`X-Forwarded-Host` give the origin, by the rule of
      `auth0_asgi._proxies`. Without either, the origin is the request's scheme and `Host`.
    """

    __slots__ = ("_origins", "_proxies")

    def __init__(self, origins: Iterable[str] = (), trusted_proxies: Iterable[str] = ()) -> None:
        self._origins = frozenset(origins)
        self._proxies = TrustedProxies(trusted_proxies)

    def _request_origin(self, scope: Scope) -> str | None:
        """The normalised origin the request was sent to, or None when no value can be trusted."""
        scheme: str = scope.get("scheme", "http")
        host = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"host"), None)
        forwarded = self._proxies.forwarded(scope) if self._proxies else None
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

    def matches(self, htu: str, scope: Scope) -> bool:
        """Whether `htu` names the request in `scope` (query and fragment ignored)."""
        claimed = _split_origins[htu]
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
        return claimed[0] == self._request_origin(scope)
