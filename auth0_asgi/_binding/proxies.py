"""The one peer-trust rule: whether the peer is a trusted proxy, and what its forwarding headers say.

DPoP origins, client-certificate headers and the offline issuer's loopback check all ask it;
none judges a peer another way. The rule works on IP addresses (`ipaddress`), never on strings,
because the servers it guards parse addresses too:

- The peer (the TCP client the server reports) must parse as an IP literal and lie within a
  configured proxy network. A peer that is not an IP literal (a Unix socket path, a name) is
  never trusted, and never remembered.
- A peer the server may have rewritten from a forwarding header is a client's claim, not the
  proxy's address (uvicorn's ``--proxy-headers``, on by default for 127.0.0.1, Hypercorn's
  ``ProxyFixMiddleware``, ...). Each item of ``X-Forwarded-For``, ``Forwarded: for=`` and
  ``X-Real-IP`` is parsed the way those servers parse it (any Unicode whitespace, ``:port``,
  ``[v6]:port``, quotes, IPv4-mapped IPv6, zone ids) and compared as an address: when one is
  the peer, or when one cannot be parsed at all (the server may read it differently from us),
  or when there are more than `MAX_FORWARDED_ITEMS`, the peer is taken as rewritten and nothing
  is trusted. Run the server without its own proxy handling (``uvicorn --no-proxy-headers``)
  when these headers are to be read here, or better, configure the public origins.
- Only the nearest proxy's value counts: the last item of each header, across all its lines
  (RFC 9110 §5.3: lines of one field combine in order; a proxy appends).
- One header family: RFC 7239 ``Forwarded``, or ``X-Forwarded-Proto``/``X-Forwarded-Host``.
  A request with both is ambiguous (a client may have sent the one the proxy does not write)
  and gets no origin at all.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Final, Literal, NamedTuple, TypeAlias

from starlette.types import Scope

from auth0_asgi._headers import RequestHeaders, gather
from auth0_asgi._memo import BoundedMemo

__all__ = [
    "AMBIGUOUS",
    "FORWARDING_HEADERS",
    "LOOPBACK",
    "MAX_FORWARDED_ITEMS",
    "PROXY_HEADERS",
    "Forwarded",
    "IPAddress",
    "TrustedProxies",
    "forwarded_address",
    "forwarding_lines",
    "is_direct_loopback",
    "rewritten",
]

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address


class Forwarded(NamedTuple):
    """What the nearest trusted proxy says: the scheme and host the client used (None: not said)."""

    proto: str | None
    host: str | None


#: Both header families present: no origin can be trusted.
AMBIGUOUS: Final = Forwarded("", "")
#: The headers a server may take the peer's address from.
FORWARDING_HEADERS: Final = frozenset({b"x-forwarded-for", b"forwarded", b"x-real-ip"})
#: More forwarding items than any real chain of proxies writes: the request is trusted with nothing.
MAX_FORWARDED_ITEMS: Final = 32
_X_FORWARDED: Final = (b"x-forwarded-proto", b"x-forwarded-host")
_ORIGIN_HEADERS: Final = (b"forwarded", *_X_FORWARDED)
#: Every field this module reads: what the request gate must gather for it.
PROXY_HEADERS: Final = FORWARDING_HEADERS | frozenset(_ORIGIN_HEADERS)
# The longest textual address a server can report: "[" v6 with an IPv4 tail and a zone "]:65535".
_MAX_ADDRESS_LENGTH: Final = 96
_REMEMBERED: Final = 1024


def _parse(text: str) -> IPAddress | None:
    """`text` as an IP literal, IPv4-mapped IPv6 as IPv4 and without its zone; None if it is not one."""
    host = text.partition("%")[0]  # a zone names an interface, not another host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _parse_item(item: str) -> IPAddress | None:
    """One forwarding item, as the servers read it: whitespace, quotes, brackets and port removed."""
    host = item.strip().strip('"').strip()
    if host.startswith("["):
        end = host.find("]")
        rest = host[end + 1 :]
        if end < 0 or (rest and not (rest[0] == ":" and rest[1:].isdigit())):
            return None
        host = host[1:end]
    elif host.count(":") == 1:
        host, _, port = host.partition(":")
        if not port.isdigit():
            return None
    return _parse(host)


#: Parsing an address costs a microsecond, and a proxy forwards repeat clients. Only what parses
#: is kept, and only the length an address can have.
forwarded_address: Final = BoundedMemo(
    _parse_item, max_entries=_REMEMBERED, max_length=_MAX_ADDRESS_LENGTH, remember_none=False
)


def _for_values(elements: list[str]) -> list[str]:
    """The ``for=`` value of each of an RFC 7239 ``Forwarded`` line's `elements`."""
    found = []
    for element in elements:
        for pair in element.split(";"):
            name, _, value = pair.partition("=")
            if name.strip().lower() == "for":
                found.append(value)
    return found


def rewritten(lines: Iterable[tuple[bytes, bytes]], peer: IPAddress) -> bool:
    """Whether the forwarding header `lines` (name, value) may have given the server `peer`.

    True when an item names `peer`, when an item is not an address (a server may read it as one:
    fail closed) or when there are more than `MAX_FORWARDED_ITEMS` items (or `Forwarded` elements).
    """
    items: list[str] = []
    count = 0
    for name, value in lines:
        # At most one part past the limit is split off: a header of a million commas costs no more.
        parts = value.decode("latin-1").split(",", MAX_FORWARDED_ITEMS + 1)
        count += len(parts)
        if count > MAX_FORWARDED_ITEMS:
            return True
        items.extend(_for_values(parts) if name == b"forwarded" else parts)
    for item in items:
        # The memo's bound on what it keeps is not a bound on what may be looked up: an item
        # longer than any address is no address.
        address = forwarded_address[item] if len(item) <= _MAX_ADDRESS_LENGTH else None
        if address is None or address == peer:
            return True
    return False


def _forwarded_pairs(element: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in element.split(";"):
        name, _, value = item.partition("=")
        pairs[name.strip(" \t").lower()] = value.strip(" \t").strip('"')
    return pairs


def _peer_host(scope: Scope) -> object:
    client = scope.get("client")
    return client[0] if client else None


class TrustedProxies:
    """The proxies (addresses or networks) whose forwarding headers are read; none by default.

    Raises ValueError for an entry that is not an address or network.
    """

    __slots__ = ("_networks", "_proxies")

    def __init__(self, proxies: Iterable[str] = ()) -> None:
        self._networks = tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)
        # Peer text to its address when it is a proxy, False when it is another address; a
        # network check costs a microsecond, and a fleet sees few proxies. What is no address
        # (None) is not remembered.
        self._proxies = BoundedMemo(
            self._proxy_of, max_entries=_REMEMBERED, max_length=_MAX_ADDRESS_LENGTH, remember_none=False
        )

    def __bool__(self) -> bool:
        return bool(self._networks)

    def _proxy_of(self, host: str) -> IPAddress | Literal[False] | None:
        address = _parse(host)
        if address is None:
            return None
        return address if any(address in network for network in self._networks) else False

    def proxy_address(self, host: object) -> IPAddress | None:
        """The peer `host` (``scope["client"][0]``) as an address when it is one of the proxies,
        else None. Warning: a peer the server rewrote is still not to be trusted (`rewritten`;
        `trusts_peer` does both)."""
        if not isinstance(host, str) or len(host) > _MAX_ADDRESS_LENGTH:
            return None
        return self._proxies[host] or None

    def trusts_peer(self, scope: Scope, headers: RequestHeaders) -> bool:
        """Whether the request in `scope` came straight from a configured proxy; `headers`: its
        fields, `PROXY_HEADERS` among them."""
        address = self.proxy_address(_peer_host(scope))
        if address is None:
            return False
        lines = forwarding_lines(headers)
        return not (lines and rewritten(lines, address))

    def forwarded(self, scope: Scope, headers: RequestHeaders) -> Forwarded | None:
        """What the nearest proxy says, `AMBIGUOUS`, or None when the peer is not trusted."""
        if not self.trusts_peer(scope, headers):
            return None
        # Each proxy appends: the last value of each field is the nearest proxy's.
        last = {
            name: values[-1].decode("latin-1").rsplit(",", 1)[-1].strip(" \t")
            for name in _ORIGIN_HEADERS
            if (values := headers.get(name))
        }
        has_x_forwarded = any(name in last for name in _X_FORWARDED)
        if b"forwarded" in last:
            if has_x_forwarded:
                return AMBIGUOUS
            pairs = _forwarded_pairs(last[b"forwarded"])
            return Forwarded(pairs.get("proto"), pairs.get("host"))
        return Forwarded(last.get(b"x-forwarded-proto"), last.get(b"x-forwarded-host"))


#: The loopback networks, for code that serves loopback clients only (the offline issuer).
LOOPBACK: Final = TrustedProxies(("127.0.0.0/8", "::1/128"))


def is_direct_loopback(scope: Scope) -> bool:
    """Whether the request in `scope` came from this machine, and through no proxy: its peer is a
    loopback address and it carries no forwarding header at all (a server may have rewritten the
    peer from one, and a proxy on this machine forwards others' requests)."""
    if LOOPBACK.proxy_address(_peer_host(scope)) is None:
        return False
    return not gather(scope, FORWARDING_HEADERS)


def forwarding_lines(headers: RequestHeaders) -> list[tuple[bytes, bytes]]:
    """The request's `FORWARDING_HEADERS` lines, as `rewritten` reads them."""
    # Most requests carry none: three lookups say so, where building the list costs four times that.
    if b"x-forwarded-for" not in headers and b"forwarded" not in headers and b"x-real-ip" not in headers:
        return []
    return [(name, value) for name in FORWARDING_HEADERS for value in headers.get(name, ())]
