"""Several LocalIssuers as one tenant with custom domains: the settings and key sources together."""

from __future__ import annotations

from typing import Any

from auth0_asgi.errors import ConfigurationError
from auth0_asgi.settings import Auth0Settings

from ._issuer import LocalIssuer

__all__ = ["trust_issuers"]


def trust_issuers(*issuers: LocalIssuer, **tunables: Any) -> dict[str, Any]:
    """Keyword arguments for `Auth0Middleware` that trust every one of `issuers`, in process.

    ``app.add_middleware(Auth0Middleware, **trust_issuers(a, b), protected_prefixes=[...])``:
    `settings` lists each issuer (its `iss` must be ``https://{host}/``, as Auth0's are) and
    accepts any of their audiences and algorithms; `keys` maps each issuer to itself, so each
    verifies only its own tokens. `tunables` pass through to the settings.

    Raises ConfigurationError for no issuer, or one whose `iss` is not ``https://{host}/``.
    """
    if not issuers:
        raise ConfigurationError("trust_issuers(): name at least one LocalIssuer")
    domains = []
    for issuer in issuers:
        host = issuer.issuer.removeprefix("https://").removesuffix("/")
        if issuer.issuer != f"https://{host}/" or "/" in host:
            raise ConfigurationError(f"issuer={issuer.issuer!r}: several issuers must each be https://{{host}}/")
        domains.append(host)
    algorithms = sorted({name for issuer in issuers for name in issuer.settings().algorithms})
    settings = Auth0Settings(
        domain=",".join(domains),
        audience=tuple(dict.fromkeys(issuer.audience for issuer in issuers)),
        algorithms=tuple(algorithms),
        **tunables,
    )
    return {"settings": settings, "keys": {issuer.issuer: issuer for issuer in issuers}}
