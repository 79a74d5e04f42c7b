"""AUTH0_DOMAIN, AUTH0_ISSUER and AUTH0_JWKS_URL -> the trusted issuers and their key-set URLs.

A tenant with custom domains issues tokens whose `iss` is whichever domain the client used,
so AUTH0_DOMAIN may list several: each is a trusted issuer ``https://{domain}/`` with its key
set at ``https://{domain}/.well-known/jwks.json``. A domain may carry its scheme; ``http://``
only for a loopback host, so that tests can run local tenants. Key-set URLs come from here
only, never from a token.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, NamedTuple
from urllib.parse import urlsplit

from auth0_asgi._uri import is_loopback
from auth0_asgi.errors import ConfigurationError

__all__ = ["TrustedIssuer", "check_jwks_url", "resolve_domains"]

JWKS_PATH: Final = ".well-known/jwks.json"


class TrustedIssuer(NamedTuple):
    """One issuer tokens may come from: its exact `iss` and the URL of its key set."""

    issuer: str
    jwks_url: str


def check_jwks_url(url: str) -> None:
    """Raise ConfigurationError unless `url` is https://, or http:// to a loopback host."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _port = parts.port
    except ValueError:
        host = None
    if host and parts.scheme == "https":
        return
    if host and parts.scheme == "http" and is_loopback(host):
        return
    raise ConfigurationError(f"AUTH0_JWKS_URL={url!r}: must be an https:// URL (http:// only for a loopback host)")


def _domain(raw: str) -> tuple[str, str]:
    """(scheme, host[:port]) of one AUTH0_DOMAIN item."""
    _refuse_quotes("AUTH0_DOMAIN", raw)
    domain, scheme = raw.strip(), "https"
    for candidate in ("https", "http"):
        if domain.lower().startswith(f"{candidate}://"):
            domain, scheme = domain[len(candidate) + 3 :], candidate
            break
    domain = domain.rstrip("/")
    try:
        parts = urlsplit(f"{scheme}://{domain}")
        hostname, _port = parts.hostname, parts.port
    except ValueError:
        hostname = None
    if not domain or not hostname or parts.path or parts.query or parts.fragment or parts.username or " " in domain:
        raise ConfigurationError(f"AUTH0_DOMAIN={raw!r}: expected a tenant host such as 'dev-x.us.auth0.com'")
    if scheme == "http" and not is_loopback(hostname):
        raise ConfigurationError(f"AUTH0_DOMAIN={raw!r}: http:// only for a loopback host; use https://")
    return scheme, domain


def _refuse_quotes(variable: str, value: str) -> None:
    # A shell, a compose file or a Dockerfile ENV keeps quotes python-dotenv would have taken off:
    # no issuer ever matches a quoted one, and every token would be refused one 401 at a time.
    if any(quote in value for quote in "\"'`"):
        raise ConfigurationError(
            f"{variable}={value!r}: holds quotes, which your shell or compose file kept: remove them"
        )


def _check_issuer(issuer: str, base: str) -> None:
    """AUTH0_ISSUER that can never equal Auth0's `iss` for the domain: refused, saying why."""
    _refuse_quotes("AUTH0_ISSUER", issuer)
    if issuer != base and issuer.rstrip("/").lower() == base.rstrip("/").lower():
        raise ConfigurationError(
            f"AUTH0_ISSUER={issuer!r}: Auth0's issuer for this domain is exactly {base!r} (lower case, with the "
            "trailing slash): unset AUTH0_ISSUER to use it"
        )


def _split(value: str | Iterable[str]) -> tuple[str, ...]:
    """AUTH0_DOMAIN as a list: a comma-separated string, or the items given in code."""
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(item.strip() for item in items if isinstance(item, str) and item.strip())


def resolve_domains(value: str | Iterable[str], issuer: str, jwks_url: str) -> tuple[str, tuple[TrustedIssuer, ...]]:
    """AUTH0_DOMAIN (a comma list, or the items given in code) as settings keep it, and its
    trusted issuers; `issuer` and `jwks_url` override those of a single domain.

    The domains kept are the hosts, comma-joined, with ``http://`` kept for loopback ones.

    Raises ConfigurationError naming the variable: a bad domain, a non-loopback http://
    domain or key-set URL, or AUTH0_ISSUER / AUTH0_JWKS_URL together with several domains
    (each domain's issuer and key set then follow from it).
    """
    domains = _split(value)
    if not domains:
        raise ConfigurationError("AUTH0_DOMAIN='': expected a tenant host such as 'dev-x.us.auth0.com'")
    parsed = list(dict.fromkeys(_domain(raw) for raw in domains))  # the same domain twice is one
    if len(parsed) > 1:
        for variable, value in (("AUTH0_ISSUER", issuer), ("AUTH0_JWKS_URL", jwks_url)):
            if value:
                raise ConfigurationError(
                    f"{variable}={value!r}: not with several AUTH0_DOMAIN values; each domain's issuer "
                    f"is {{scheme}}://{{domain}}/ and its key set {{scheme}}://{{domain}}/{JWKS_PATH}"
                )
    issuers = []
    for scheme, domain in parsed:
        base = f"{scheme}://{domain}/"
        if issuer:
            _check_issuer(issuer, base)
        issuers.append(TrustedIssuer(issuer or base, jwks_url or base + JWKS_PATH))
    for trusted in issuers:
        check_jwks_url(trusted.jwks_url)
    kept = ",".join(domain if scheme == "https" else f"{scheme}://{domain}" for scheme, domain in parsed)
    return kept, tuple(issuers)
