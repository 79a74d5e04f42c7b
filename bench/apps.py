"""The apps the benchmarks compare: ours, the bare apps, and each comparison point.

Every app answers GET /api/public and GET /api/private with the same small JSON body; only
how /api/private is protected differs. Peers are optional (bench/requirements-peers.txt):
`peer_apps()` leaves out the ones that are not installed and says which.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt
from _keyserver import AUDIENCE, Tenant
from fastapi import Depends, FastAPI, Request, Response, Security, status
from fastapi.security import HTTPBearer
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth0_asgi import Auth0Middleware, Auth0Settings
from auth0_asgi.rules import any_scope, claim_equals, step_up

ASGIApp = Any


async def _endpoint(request: Any) -> JSONResponse:
    return JSONResponse({"ok": True})


def bare_starlette() -> Starlette:
    return Starlette(routes=[Route("/api/public", _endpoint), Route("/api/private", _endpoint)])


def bare_fastapi() -> FastAPI:
    app = FastAPI()

    @app.get("/api/public")
    async def public() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/api/private")
    async def private() -> dict[str, bool]:
        return {"ok": True}

    return app


#: The acr value the step-up row requires, and its token carries.
STEP_UP_ACR = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"


def settings(tenant: Tenant, **tunables: Any) -> Auth0Settings:
    return Auth0Settings(
        domain=tenant.domain, audience=(AUDIENCE,), issuer=tenant.issuer, jwks_url=tenant.jwks_url, **tunables
    )


def ours(tenant: Tenant, app: ASGIApp | None = None, **tunables: Any) -> Auth0Middleware:
    return Auth0Middleware(
        app or bare_starlette(), settings=settings(tenant, **tunables), protected_prefixes=["/api/private"]
    )


def ours_as_resource(tenant: Tenant, **tunables: Any) -> Auth0Middleware:
    """Ours as an RFC 9728 protected resource: metadata served, every challenge naming it.
    `mcp_sdk=False`: this row is the resource's cost alone, with or without the SDK installed."""
    resourced = settings(tenant, resource_url=AUDIENCE, **tunables)
    return Auth0Middleware(bare_starlette(), settings=resourced, protected_prefixes=["/api/private"], mcp_sdk=False)


def ours_with_step_up(tenant: Tenant, **tunables: Any) -> Auth0Middleware:
    """Ours with an RFC 9470 requirement on the protected route: an acr value and a max age."""
    rules = {"/api/private": [step_up([STEP_UP_ACR], max_age=3600)]}
    return Auth0Middleware(
        bare_starlette(), settings=settings(tenant, **tunables), protected_prefixes=["/api/private"], rules=rules
    )


def ours_with_mtls(tenant: Tenant, **tunables: Any) -> Auth0Middleware:
    """Ours reading RFC 9440 Client-Cert from a loopback proxy, for certificate-bound tokens."""
    mtls = settings(tenant, mtls_header_format="rfc9440", mtls_trusted_proxies=("127.0.0.1",), **tunables)
    return Auth0Middleware(bare_starlette(), settings=mtls, protected_prefixes=["/api/private"])


def ours_with_rules(tenant: Tenant, **tunables: Any) -> Auth0Middleware:
    """Ours with two authorization rules on the protected prefix, both passed by the bench token."""
    rules = {"/api/private": [any_scope("read:messages", "admin"), claim_equals("azp", "bench")]}
    return Auth0Middleware(
        bare_starlette(), settings=settings(tenant, **tunables), protected_prefixes=["/api/private"], rules=rules
    )


class DoNothing:
    """An observer that ignores every event: what the event seam itself costs."""

    def on_event(self, event: Any) -> None:
        pass


def ours_observed(tenant: Tenant, observer: Any, app: ASGIApp | None = None, **tunables: Any) -> Auth0Middleware:
    """Ours telling `observer` of every event."""
    return Auth0Middleware(
        app or bare_starlette(),
        settings=settings(tenant, **tunables),
        protected_prefixes=["/api/private"],
        observer=observer,
    )


def in_a_span(app: ASGIApp, tracer: Any) -> ASGIApp:
    """`app` inside a recording server span per request, as an ASGI instrumentation starts one."""

    async def traced(scope: Any, receive: Any, send: Any) -> None:
        with tracer.start_as_current_span("GET /api/private"):
            await app(scope, receive, send)

    return traced


def ours_two_issuers(tenant: Tenant, **tunables: Any) -> Auth0Middleware:
    """Ours trusting two issuers (a tenant's custom domain beside it); the tokens are the first's."""
    settings = Auth0Settings(domain=f"{tenant.domain},login.bench.test", audience=(AUDIENCE,), **tunables)
    return Auth0Middleware(bare_starlette(), settings=settings, protected_prefixes=["/api/private"])


def _unauthorised() -> JSONResponse:
    return JSONResponse({"detail": "Not authenticated"}, status_code=401)


def _token_of(authorization: str | None) -> str | None:
    if not authorization or not authorization.lower().startswith("bearer "):
        return None
    return authorization[7:].strip()


def minimal_asgi_pyjwt(tenant: Tenant) -> ASGIApp:
    """The least a pure-ASGI middleware around PyJWT `decode` can do: the issue's ~6-7 F point."""
    inner = bare_starlette()
    key = tenant.key.public_key()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/private"):
            authorization = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            token = _token_of(authorization)
            try:
                if token is None:
                    raise jwt.InvalidTokenError
                jwt.decode(token, key, algorithms=["RS256"], audience=AUDIENCE, issuer=tenant.issuer)
            except jwt.InvalidTokenError:
                await _unauthorised()(scope, receive, send)
                return
        await inner(scope, receive, send)

    return app


def base_http_middleware_pyjwt(tenant: Tenant) -> ASGIApp:
    """BaseHTTPMiddleware + PyJWT `decode` with a key parsed once: the common hand-rolled way."""
    key = tenant.key.public_key()

    class JWTMiddleware(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Any) -> Any:
            if request.url.path.startswith("/api/private"):
                token = _token_of(request.headers.get("authorization"))
                try:
                    if token is None:
                        raise jwt.InvalidTokenError
                    request.state.claims = jwt.decode(
                        token, key, algorithms=["RS256"], audience=AUDIENCE, issuer=tenant.issuer
                    )
                except jwt.InvalidTokenError:
                    return _unauthorised()
            return await call_next(request)

    return JWTMiddleware(bare_starlette())


def tutorial(tenant: Tenant) -> FastAPI:
    """The seed tutorial's code: a new PyJWKClient (one key-set download) per request."""
    app = FastAPI()
    token_auth_scheme = HTTPBearer()

    class VerifyToken:
        def __init__(self, token: str) -> None:
            self.token = token
            self.jwks_client = jwt.PyJWKClient(tenant.jwks_url)

        def verify(self) -> dict[str, Any]:
            try:
                signing_key = self.jwks_client.get_signing_key_from_jwt(self.token).key
                return jwt.decode(
                    self.token, signing_key, algorithms=["RS256"], audience=AUDIENCE, issuer=tenant.issuer
                )
            except Exception as e:
                return {"status": "error", "message": str(e)}

    @app.get("/api/public")
    async def public() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/api/private")
    def private(response: Response, token: Any = Depends(token_auth_scheme)) -> Any:  # noqa: B008
        result = VerifyToken(token.credentials).verify()
        if result.get("status") == "error":
            response.status_code = status.HTTP_401_UNAUTHORIZED
            return result
        return {"ok": True}

    return app


def _fastapi_auth0(tenant: Tenant) -> FastAPI:
    from fastapi_auth0 import Auth0, Auth0User

    auth = Auth0(domain=tenant.domain, api_audience=AUDIENCE, scopes={})
    app = bare_fastapi_with_public()

    @app.get("/api/private")
    async def private(user: Auth0User = Security(auth.get_user)) -> dict[str, bool]:  # noqa: B008
        return {"ok": True}

    return app


def _auth0_api_python(tenant: Tenant) -> FastAPI:
    from auth0_api_python import ApiClient, ApiClientOptions

    client = ApiClient(ApiClientOptions(domain=tenant.domain, audience=AUDIENCE, dpop_enabled=False))
    app = bare_fastapi_with_public()

    async def claims(request: Request) -> dict[str, Any]:
        token = _token_of(request.headers.get("authorization"))
        try:
            if token is None:
                raise ValueError("no token")
            return await client.verify_access_token(access_token=token)
        except Exception as exc:
            from fastapi import HTTPException

            raise HTTPException(401, "Not authenticated") from exc

    @app.get("/api/private")
    async def private(_: dict[str, Any] = Depends(claims)) -> dict[str, bool]:  # noqa: B008
        return {"ok": True}

    return app


def _fastapi_cloudauth(tenant: Tenant) -> FastAPI:
    from fastapi_cloudauth.auth0 import Auth0

    auth = Auth0(domain=tenant.domain, customAPI=AUDIENCE)
    app = bare_fastapi_with_public()

    @app.get("/api/private", dependencies=[Depends(auth)])
    async def private() -> dict[str, bool]:
        return {"ok": True}

    return app


def bare_fastapi_with_public() -> FastAPI:
    app = FastAPI()

    @app.get("/api/public")
    async def public() -> dict[str, bool]:
        return {"ok": True}

    return app


PEERS: dict[str, Callable[[Tenant], FastAPI]] = {
    "fastapi-auth0": _fastapi_auth0,
    "auth0-api-python": _auth0_api_python,
    "fastapi-cloudauth": _fastapi_cloudauth,
}


def peer_apps(tenant: Tenant) -> tuple[dict[str, FastAPI], list[str]]:
    """The peers that are installed, built against `tenant`; and the names of those that are not."""
    built, missing = {}, []
    for name, build in PEERS.items():
        try:
            built[name] = build(tenant)
        except ImportError:
            missing.append(name)
    return built, missing
