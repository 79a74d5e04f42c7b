"""The app bench/e2e.py serves with uvicorn: the bare routes behind Auth0Middleware."""

from __future__ import annotations

import os

from _keyserver import AUDIENCE
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth0_asgi import Auth0Middleware, Auth0Settings


async def endpoint(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


settings = Auth0Settings(
    domain=os.environ["BENCH_DOMAIN"],
    audience=(AUDIENCE,),
    issuer=os.environ["BENCH_ISSUER"],
    jwks_url=os.environ["BENCH_JWKS_URL"],
)
app = Auth0Middleware(
    Starlette(routes=[Route("/api/public", endpoint), Route("/api/private", endpoint)]),
    settings=settings,
    protected_prefixes=["/api/private"],
)
