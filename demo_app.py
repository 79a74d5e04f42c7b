"""The demo: the tutorial's routes, with /api/private protected by Auth0Middleware.

Run with ``uvicorn demo_app:app``.

- With AUTH0_DOMAIN and AUTH0_API_AUDIENCE set (in the environment or a `.env` file beside
  it), tokens come from your Auth0 tenant.
- With no AUTH0_* variable set at all (the demo's own AUTH0_DEMO_* aside), or with
  AUTH0_DEMO_OFFLINE=true, the demo runs offline: a local issuer built into it
  (`auth0_asgi.testing.LocalIssuer`) answers ``POST /oauth/token`` like a tenant, to loopback
  clients only (AUTH0_DEMO_ALLOW_REMOTE=true for any), and its keys verify the tokens, so the
  whole flow works with no account and no network. Only the configuration read at start-up
  chooses this; no request can. Its signing key lives in a file (AUTH0_DEMO_KEY_FILE, default
  ``~/.cache/auth0-asgi/demo-signing-key.pem``), so all the workers of ``uvicorn demo_app:app
  --workers N`` accept each other's tokens, and tokens survive a restart. Delete the file for
  a new key.
- Any other configuration without AUTH0_DOMAIN (a typo such as AUTH0_DOMIAN, or an audience
  alone) stops the demo with one line naming what is missing: a server meant for a tenant
  never quietly becomes one that mints tokens.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import Depends, FastAPI
from starlette.config import Config
from starlette.routing import Route

from auth0_asgi import Auth0Middleware, Auth0Settings, Auth0User, ConfigurationError
from auth0_asgi.fastapi import Claims, document_security, require_scopes
from auth0_asgi.settings import read_variables
from auth0_asgi.testing import (
    ISSUER_PATHS,
    LocalIssuer,
    demo_issuer_url,
    demo_key_path,
    issuer_app,
    load_or_create_private_key,
    tenant_without_domain,
)

logger = logging.getLogger("demo_app")

#: What the offline issuer grants, so that /api/private-scoped can be tried too.
OFFLINE_SCOPES: Final = ("read:messages",)


def create_app(
    settings: Auth0Settings,
    *,
    issuer: LocalIssuer | None = None,
    protected_prefixes: Sequence[str] = ("/api/private",),
    allow_remote_tokens: bool = False,
) -> FastAPI:
    """The demo app verifying tokens against `settings`, on `protected_prefixes`.

    With `issuer`, its keys verify the tokens (no key set is fetched) and its token, JWKS and
    discovery endpoints are served beside the API; its token endpoint answers loopback
    clients only unless `allow_remote_tokens`.
    """
    app = FastAPI(title="auth0-asgi demo")
    app.add_middleware(Auth0Middleware, settings=settings, protected_prefixes=protected_prefixes, keys=issuer)

    @app.get("/api/public")
    async def public() -> dict[str, str]:
        return {"message": "Hello, World!"}

    @app.get("/api/private")
    async def private(claims: Claims) -> dict[str, Any]:
        return {"message": "Access granted", "data": dict(claims)}

    @app.get("/api/private-scoped")
    async def private_scoped(user: Annotated[Auth0User, Depends(require_scopes("read:messages"))]) -> dict[str, str]:
        return {"message": "Access granted: the token grants read:messages", "caller": user.identity}

    if issuer is not None:
        endpoints = issuer_app(issuer, allow_remote=allow_remote_tokens)
        app.router.routes.extend(Route(path, endpoints, include_in_schema=False) for path in ISSUER_PATHS)
    document_security(app)
    return app


def _config() -> Config:
    # The variables as Auth0Settings.from_env reads them: the environment over .env (python-dotenv's rules).
    return Config(environ=read_variables())


def _switch(name: str) -> bool:
    try:
        return _config()(name, cast=bool, default=False)
    except ValueError:
        raise SystemExit(f"demo_app: configuration error: {name}: must be true or false") from None


def _runs_offline() -> bool:
    """Whether the configuration asks for the offline issuer; SystemExit for a partial tenant one.

    Fails closed: only no AUTH0_* variable at all, or AUTH0_DEMO_OFFLINE=true, means offline.
    """
    config = _config()
    domain = bool(config("AUTH0_DOMAIN", default="").strip())
    if _switch("AUTH0_DEMO_OFFLINE"):
        if domain:
            raise SystemExit("demo_app: configuration error: AUTH0_DEMO_OFFLINE and AUTH0_DOMAIN: set one of them")
        return True
    half_configured = tenant_without_domain(read_variables())
    if not half_configured:
        return not domain
    raise SystemExit(
        f"demo_app: configuration error: {half_configured}: set AUTH0_DOMAIN and AUTH0_API_AUDIENCE for your "
        "tenant, or AUTH0_DEMO_OFFLINE=true for the offline issuer"
    )


def _demo_key_file() -> Path:
    """Where the offline issuer keeps its key: shared by every worker, kept across restarts."""
    configured = _config()("AUTH0_DEMO_KEY_FILE", default="")
    return demo_key_path({**os.environ, "AUTH0_DEMO_KEY_FILE": configured})


def _demo_issuer_url() -> str:
    """The offline issuer's iss: the URL the demo is reached at (AUTH0_DEMO_URL, environment or .env)."""
    try:
        return demo_issuer_url({"AUTH0_DEMO_URL": _config()("AUTH0_DEMO_URL", default="")})
    except ConfigurationError as exc:
        raise SystemExit(f"demo_app: configuration error: {exc}") from None


def _offline_banner(issuer: LocalIssuer, key_file: Path) -> str:
    request = {
        "grant_type": "client_credentials",
        "client_id": "demo-client",
        "client_secret": "demo-secret",  # the offline issuer takes any non-empty secret
        "audience": issuer.audience,
    }
    body = json.dumps(request, separators=(",", ":"))
    return (
        "OFFLINE MODE: AUTH0_DOMAIN is not set, so tokens come from a local issuer inside this demo, not from "
        "Auth0, for loopback clients only. Set AUTH0_DOMAIN and AUTH0_API_AUDIENCE (environment or .env) to use "
        "your tenant.\n"
        f"    Signing key: {key_file} (shared by this demo's workers; delete it for a new key).\n"
        "    Get a token (with --host or --port, set AUTH0_DEMO_URL to the URL clients use):\n"
        f"    curl -s -X POST {issuer.issuer}oauth/token -H 'content-type: application/json' -d '{body}'"
    )


def _protected_prefixes() -> tuple[str, ...]:
    """AUTH0_PROTECTED_PREFIXES, a comma list, so prefixes can be tried without editing code."""
    text = _config()("AUTH0_PROTECTED_PREFIXES", default="/api/private")
    return tuple(prefix.strip() for prefix in text.split(",") if prefix.strip())


def _checked(app: FastAPI) -> FastAPI:
    # FastAPI builds its middleware on the first request; build it now, so that a bad prefix
    # stops the demo at start-up with one line rather than failing every request.
    try:
        app.middleware_stack = app.build_middleware_stack()
    except ConfigurationError as exc:
        # The middleware names the settings' variables; the prefixes are the demo's own.
        where = "AUTH0_PROTECTED_PREFIXES: " if str(exc).startswith(("protected prefix", "protected_prefixes")) else ""
        raise SystemExit(f"demo_app: configuration error: {where}{exc}") from None
    return app


def _offline_settings(issuer: LocalIssuer) -> Auth0Settings:
    try:
        return Auth0Settings.from_env({**os.environ, **issuer.environ()})
    except ConfigurationError as exc:
        raise SystemExit(f"demo_app: configuration error: {exc}") from None


def _load() -> FastAPI:
    prefixes = _protected_prefixes()
    if _runs_offline():
        key_file = _demo_key_file()
        try:
            issuer = LocalIssuer(
                issuer=_demo_issuer_url(), scopes=OFFLINE_SCOPES, private_key=load_or_create_private_key(key_file)
            )
        except (ConfigurationError, OSError) as exc:
            raise SystemExit(f"demo_app: the offline signing key: {exc}") from None
        logger.warning("%s", _offline_banner(issuer, key_file))
        # The issuer names the tenant; every other AUTH0_* setting (DPoP, tunables) still applies.
        settings = _offline_settings(issuer)
        remote = _switch("AUTH0_DEMO_ALLOW_REMOTE")
        return _checked(create_app(settings, issuer=issuer, protected_prefixes=prefixes, allow_remote_tokens=remote))
    try:
        settings = Auth0Settings.from_env()
    except ConfigurationError as exc:
        # A one-line message instead of an import traceback from uvicorn.
        raise SystemExit(f"demo_app: configuration error: {exc}") from None
    return _checked(create_app(settings, protected_prefixes=prefixes))


# The library adds no log handlers; the demo shows its refusals and httpx's key-set fetches.
logging.basicConfig(level=logging.INFO, format="%(levelname)-9s %(name)s: %(message)s")
app = _load()
