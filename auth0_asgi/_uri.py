"""The RFC 3986 normal form URLs are compared in, and the syntax of an HTTP ``host[:port]``.

Pure text, no request: a DPoP proof's `htu` and the request's URL are compared in this form
(`auth0_asgi._binding.htu`), and configured origins are checked with it at start-up.

RFC 3986 §6.2.2 (syntax) and §6.2.3 (scheme) normalisation: scheme and host case-folded,
percent-encodings upper-cased and unreserved ones decoded, dot segments removed, the default
port and an empty port dropped, an empty path made ``/``. The path keeps its case and its
trailing slash. ``ws``/``wss`` read as ``http``/``https``.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final

from ._memo import BoundedMemo

__all__ = [
    "MAX_HOST_BYTES",
    "PATH_SAFE",
    "REMEMBERED_URL_LENGTH",
    "below_root",
    "full_path",
    "is_host_and_port",
    "is_loopback",
    "normal_path",
    "normalise_origin",
    "normalise_url",
    "split_origin",
]

# RFC 3986 §3.2.2 host (an IP literal in brackets, or a reg-name without percent-encoding:
# no real host needs one) and §3.2.3 port. No "/", "?", "#", "@", "\\", whitespace or controls.
_HOST_AND_PORT: Final = re.compile(rb"(?:\[[0-9A-Za-z:._~%-]+\]|[A-Za-z0-9._~!$&'()*+,;=-]*)(?::[0-9]{0,5})?")
#: Longer Host values are refused unread: a DNS name is at most 253 characters.
MAX_HOST_BYTES: Final = 300


def is_host_and_port(value: bytes) -> bool:
    """Whether `value` is an RFC 9112 §3.2 ``host[:port]``, and no longer than `MAX_HOST_BYTES`."""
    return len(value) <= MAX_HOST_BYTES and _HOST_AND_PORT.fullmatch(value) is not None


# RFC 3986 Appendix B, with the authority required.
_URI: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^?#]*)(?:\?[^#]*)?(?:#.*)?", re.DOTALL)
_HOST: Final = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9._~!$&'()*+,;=%-]+)(?::([0-9]*))?")
_PERCENT: Final = re.compile(r"%([0-9A-Fa-f]{2})")
_DEFAULT_PORTS: Final = {"http": "80", "https": "443"}
_SCHEMES: Final = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
_UNRESERVED: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Everything a path may hold as it is (RFC 3986 §3.3 pchar and "/", plus "%" of a triplet).
PATH_SAFE: Final = "/:@!$&'()*+,;=-._~%"
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


def normal_path(path: str) -> str | None:
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
    path = normal_path(parts.group(3))
    return None if path is None else (origin, path)


#: The longest URL or path remembered: real ones are far shorter; hostile ones are computed.
REMEMBERED_URL_LENGTH: Final = 1024
_split_origins: Final = BoundedMemo(_split_origin, max_entries=256, max_length=REMEMBERED_URL_LENGTH)


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


_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost."})


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine (a loopback address or localhost)."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def below_root(path: str, root_path: str) -> str | None:
    """What follows `root_path` in `path` when `path` lies under it (on a segment boundary, as
    Starlette's router reads it); None when it does not. Where root_path and path meet: here only."""
    if root_path and path.startswith(root_path) and path[len(root_path) : len(root_path) + 1] in ("", "/"):
        return path[len(root_path) :]
    return None


def full_path(path: str, root_path: str) -> str:
    """The full path a request for `path` under `root_path` was sent to: `path` itself when it
    holds the root path (servers that keep it there), else the two joined (servers that leave it out)."""
    if not root_path or below_root(path, root_path) is not None:
        return path
    return root_path.rstrip("/") + path
