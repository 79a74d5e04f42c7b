"""The demo: the tutorial's two routes, with /api/private protected by Auth0Middleware.

Run with ``uvicorn demo_app:app`` after setting AUTH0_DOMAIN and AUTH0_API_AUDIENCE (in the
environment or a `.env` file beside it).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request

from auth0_asgi import Auth0Middleware, Auth0Settings, ConfigurationError


def _settings() -> Auth0Settings:
    try:
        return Auth0Settings.from_env()
    except ConfigurationError as exc:
        # A one-line message instead of an import traceback from uvicorn.
        raise SystemExit(f"demo_app: configuration error: {exc}") from None


def create_app(settings: Auth0Settings) -> FastAPI:
    """The demo app verifying tokens against `settings`."""
    app = FastAPI(title="auth0-asgi demo")
    app.add_middleware(Auth0Middleware, settings=settings, protected_prefixes=["/api/private"])

    @app.get("/api/public")
    async def public() -> dict[str, str]:
        return {"message": "Hello, World!"}

    @app.get("/api/private")
    async def private(request: Request) -> dict[str, Any]:
        return {"message": "Access granted", "data": dict(request.user.claims)}

    return app


# The library adds no log handlers; the demo shows its refusals and httpx's key-set fetches.
logging.basicConfig(level=logging.INFO, format="%(levelname)-9s %(name)s: %(message)s")
app = create_app(_settings())
