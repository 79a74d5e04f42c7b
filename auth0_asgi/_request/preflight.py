"""CORS preflights on protected paths: refused like any request without a token, unless allowed.

A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) carries no
credentials by the Fetch standard. Letting it through unexamined runs any protected handler
that answers ``OPTIONS`` itself (an ``api_route`` with OPTIONS, a mounted WSGI or GraphQL app,
a proxy) for anyone, so it is opt-in. The fix a refused preflight points to is Starlette's
``CORSMiddleware`` outside this middleware, which answers preflights before they reach us.
"""

from __future__ import annotations

import logging
from typing import Final

from starlette.types import Scope

from auth0_asgi._headers import RequestHeaders
from auth0_asgi._log import fields
from auth0_asgi._rate_limit import RateLimit

__all__ = ["PREFLIGHT_HEADERS", "Preflights", "is_preflight"]

#: The fields that make an OPTIONS request a preflight: what the request gate must gather.
PREFLIGHT_HEADERS: Final = (b"origin", b"access-control-request-method")

logger = logging.getLogger("auth0_asgi")


def is_preflight(scope: Scope, headers: RequestHeaders) -> bool:
    """Whether the request in `scope` is a CORS preflight; `headers`: its `PREFLIGHT_HEADERS`."""
    return scope.get("method") == "OPTIONS" and all(name in headers for name in PREFLIGHT_HEADERS)


class Preflights:
    """Whether preflights pass (`allowed`), and the hint logged, once a minute, when one is refused."""

    __slots__ = ("_hints", "allowed")

    def __init__(self, allowed: bool) -> None:
        self.allowed = allowed
        self._hints = RateLimit()

    def refused(self, scope: Scope, code: str) -> None:
        """Log where `CORSMiddleware` belongs, at most once a minute."""
        if self._hints.allow("preflight"):
            logger.info(
                "refused a CORS preflight to %r: add Starlette's CORSMiddleware outside Auth0Middleware "
                "(it answers preflights itself), or set AUTH0_CORS_PREFLIGHT=true",
                scope["path"][:512],
                extra=fields("cors_preflight_refused", code),
            )
