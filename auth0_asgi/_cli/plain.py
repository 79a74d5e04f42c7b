"""Plain words for the CLI: durations as people say them, and why a key set could not be had.

For someone who has never read a JWT: no bare jargon, times as "3 minutes ago", and a fetch
failure told as what to check, not as an exception's class name.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from auth0_asgi.errors import JWKSFetchError

__all__ = ["duration", "fetch_failure"]

_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60))


def duration(seconds: float) -> str:
    """``3 minutes``, ``1 hour``, ``2 days``: the largest whole unit (``0 seconds`` at least)."""
    seconds = abs(seconds)
    name, size = next(((name, size) for name, size in _UNITS if seconds >= size), ("second", 1))
    count = int(seconds // size)
    return f"{count} {name}{'' if count == 1 else 's'}"


_TRANSPORT = {
    "ConnectError": "nothing answered there: check the domain, and that this machine reaches it (network, proxy, DNS)",
    "ConnectTimeout": "the host did not answer in time: check the network path (firewall, proxy) from this machine",
    "ReadTimeout": "the host accepted the connection but sent nothing in time",
    "RemoteProtocolError": "the host closed the connection or spoke something else than HTTP",
    "UnsupportedProtocol": "the URL is not http:// or https://",
}


def fetch_failure(exc: JWKSFetchError, url: str) -> str:
    """Why the key set at `url` could not be had, and what to look at."""
    host = urlsplit(url).netloc or url
    if exc.code == "transport_error":
        name = str(exc)
        hint = _TRANSPORT.get(name, "the connection failed")
        tls = " (a TLS certificate this machine does not trust?)" if "SSL" in name or "certificate" in name else ""
        return f"could not reach {host} ({name}): {hint}{tls}"
    if exc.code == "http_status":
        status = exc.status_code
        hint = {404: "is the domain your tenant's, and the path the key set's?"}.get(status or 0, "")
        return f"{host} answered HTTP {status} instead of the key set" + (f": {hint}" if hint else "")
    if exc.code == "timeout":
        return f"{host} did not send the key set in time ({exc})"
    if exc.code == "no_usable_keys":
        return f"the key set at {url} has no key this API can use (see why, key by key, below)"
    return f"the key set at {url} could not be used: {exc}"
