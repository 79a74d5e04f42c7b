"""Checking the DPoP settings (RFC 9449): the mode, proof algorithms, origins, proxies, store URL."""

from __future__ import annotations

import ipaddress
from typing import Final

from auth0_asgi._tokens.algorithms import PROOF_ALGORITHMS as DPOP_ALGORITHMS
from auth0_asgi._tokens.confirmation import MODES, Mode
from auth0_asgi._uri import normalise_origin
from auth0_asgi.errors import ConfigurationError

__all__ = ["check_dpop_algorithms", "check_mode", "check_origins", "check_proxies", "check_replay_url"]

_REPLAY_SCHEMES: Final = ("redis://", "rediss://", "unix://")


def check_mode(mode: str, variable: str = "AUTH0_DPOP") -> Mode:
    """A proof-of-possession mode (DPoP's, and mTLS's): allowed, required or disabled."""
    canonical = mode.strip().lower()
    if canonical not in MODES:
        raise ConfigurationError(f"{variable}={mode!r}: must be one of {', '.join(MODES)}")
    return canonical


def check_dpop_algorithms(algorithms: tuple[str, ...]) -> tuple[str, ...]:
    by_upper = {name.upper(): name for name in DPOP_ALGORITHMS}
    canonical: list[str] = []
    for name in algorithms:
        known = by_upper.get(name.strip().upper())
        if known is None:
            upper = name.strip().upper()
            symmetric = upper == "NONE" or upper.startswith("HS")
            why = "a proof must be signed with a private key" if symmetric else "unknown algorithm"
            raise ConfigurationError(
                f"AUTH0_DPOP_ALGORITHMS={name!r}: {why}; allowed: {', '.join(sorted(DPOP_ALGORITHMS))}"
            )
        if known not in canonical:
            canonical.append(known)
    if not canonical:
        raise ConfigurationError("AUTH0_DPOP_ALGORITHMS='': name at least one algorithm, such as 'ES256'")
    return tuple(canonical)


def check_origins(origins: tuple[str, ...]) -> tuple[str, ...]:
    normal = []
    for origin in origins:
        value = normalise_origin(origin.strip())
        if value is None:
            raise ConfigurationError(
                f"AUTH0_DPOP_ORIGINS={origin!r}: give an origin such as 'https://api.example.com', with no path"
            )
        normal.append(value)
    return tuple(dict.fromkeys(normal))


def check_proxies(proxies: tuple[str, ...], variable: str = "AUTH0_DPOP_TRUSTED_PROXIES") -> tuple[str, ...]:
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy.strip(), strict=False)
        except ValueError:
            raise ConfigurationError(
                f"{variable}={proxy!r}: give IP addresses or networks, such as '10.0.0.0/8'"
            ) from None
    return tuple(proxy.strip() for proxy in proxies)


def check_replay_url(url: str) -> str:
    url = url.strip()
    if url and not url.lower().startswith(_REPLAY_SCHEMES):
        # Not echoed whole: the URL may hold the Redis password.
        shown = url.split("://", 1)[0] + "://..." if "://" in url else "..."
        raise ConfigurationError(f"AUTH0_DPOP_REPLAY_URL={shown!r}: must start with redis://, rediss:// or unix://")
    return url
