"""The one trusted-proxy rule: which forwarding headers say where a request was sent.

A forwarding header is only as trustworthy as whoever wrote its last value. So:

- The peer (the TCP client the server saw) must be one of the configured proxies. A peer the
  server itself rewrote from ``X-Forwarded-For`` (uvicorn's ``--proxy-headers``, on by default
  for 127.0.0.1) is a client's address, not the proxy's: when the peer is named in
  ``X-Forwarded-For`` it is taken as rewritten and nothing is trusted. Run the server without
  its own proxy handling (``uvicorn --no-proxy-headers``, gunicorn ``--forwarded-allow-ips=""``)
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
from typing import Final, NamedTuple

from starlette.types import Scope

__all__ = ["AMBIGUOUS", "Forwarded", "TrustedProxies", "names_peer"]


class Forwarded(NamedTuple):
    """What the nearest trusted proxy says: the scheme and host the client used (None: not said)."""

    proto: str | None
    host: str | None


#: Both header families present: no origin can be trusted.
AMBIGUOUS: Final = Forwarded("", "")
_X_FORWARDED: Final = (b"x-forwarded-proto", b"x-forwarded-host")
_REMEMBERED_PEERS: Final = 1024


def _last_items(scope: Scope) -> dict[bytes, str]:
    """The last list item of each forwarding header, across all its lines."""
    last: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in (b"forwarded", b"x-forwarded-for", *_X_FORWARDED):
            last[name] = value.decode("latin-1").rsplit(",", 1)[-1].strip(" \t")
    return last


def names_peer(forwarded_for: Iterable[bytes], peer: str) -> bool:
    """Whether any ``X-Forwarded-For`` line names `peer`: then the server rewrote the peer from
    it (uvicorn's ``--proxy-headers``), and the peer is a client's claim, not a proxy."""
    for value in forwarded_for:
        items = (item.strip(" \t").strip("[]") for item in value.decode("latin-1").split(","))
        if peer in items:
            return True
    return False


def _forwarded_pairs(element: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in element.split(";"):
        name, _, value = item.partition("=")
        pairs[name.strip(" \t").lower()] = value.strip(" \t").strip('"')
    return pairs


class TrustedProxies:
    """The proxies (addresses or networks) whose forwarding headers are read; none by default."""

    __slots__ = ("_networks", "_peers")

    def __init__(self, proxies: Iterable[str] = ()) -> None:
        self._networks = tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)
        # Peer address to whether it is in a configured network: parsing an address costs a
        # microsecond, and a fleet sees few proxies. Bounded: a flood of peers only empties it.
        self._peers: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self._networks)

    def trusts_peer(self, scope: Scope) -> bool:
        """Whether the request in `scope` came straight from a configured proxy."""
        client = scope.get("client")
        if not client or not self.is_proxy(client[0]):
            return False
        forwarded_for = [value for name, value in scope["headers"] if name == b"x-forwarded-for"]
        return not names_peer(forwarded_for, str(client[0]))

    def is_proxy(self, address: object) -> bool:
        """Whether the peer `address` is one of the configured proxies. Warning: a peer named in
        ``X-Forwarded-For`` is still not to be trusted (`names_peer`; `trusts_peer` does both)."""
        known = self._peers.get(address) if isinstance(address, str) else None
        if known is None:
            known = self._in_networks(address)
            if isinstance(address, str):
                if len(self._peers) >= _REMEMBERED_PEERS:
                    self._peers.clear()
                self._peers[address] = known
        return known

    def _in_networks(self, address: object) -> bool:
        try:
            peer = ipaddress.ip_address(address)  # type: ignore[arg-type]  # whatever the server put there
        except ValueError:
            return False
        return any(peer in network for network in self._networks)

    def forwarded(self, scope: Scope) -> Forwarded | None:
        """What the nearest proxy says, `AMBIGUOUS`, or None when the peer is not trusted."""
        if not self.trusts_peer(scope):
            return None
        last = _last_items(scope)
        has_x_forwarded = any(name in last for name in _X_FORWARDED)
        if b"forwarded" in last:
            if has_x_forwarded:
                return AMBIGUOUS
            pairs = _forwarded_pairs(last[b"forwarded"])
            return Forwarded(pairs.get("proto"), pairs.get("host"))
        return Forwarded(last.get(b"x-forwarded-proto"), last.get(b"x-forwarded-host"))
