"""The app the memory-bound test floods (tests/test_memory_bounds.py), run by uvicorn in a process of its own.

Every memo a request without a valid token can reach is on its path: the gate's (path, Host),
the path decision, DPoP's proof headers, htu, request paths, origins and `ath`, the JWS header
memo, and the peer-trust rule's (the peer and each forwarding item, as DPoP's trusted proxies).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from auth0_asgi import Auth0Middleware
from auth0_asgi.testing import LocalIssuer

#: The documentation range: the flood's peers and forwarding items lie inside it.
TRUSTED_PROXIES = "2001:db8::/32"

ISSUER = LocalIssuer()


async def _private(request: Request) -> PlainTextResponse:
    return PlainTextResponse("private")


app = Auth0Middleware(
    Starlette(routes=[Route("/api/private/{rest:path}", _private)]),
    settings=ISSUER.settings(dpop_trusted_proxies=[TRUSTED_PROXIES]),
    keys=ISSUER,
    protected_prefixes=["/api/private"],
)
