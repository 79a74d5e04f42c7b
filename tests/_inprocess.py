"""Small in-process apps for the outside review's pinned examples (issue 18), and the exact refusals they get."""

from __future__ import annotations

from typing import Any, Final

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth0_asgi import Auth0Middleware
from auth0_asgi.testing import LocalIssuer

ISSUER: Final = LocalIssuer(scopes=("read:messages",))
REALM: Final = ISSUER.audience


def challenge(error: str | None = None, description: str | None = None, *, on: str = "both") -> list[str]:
    """The WWW-Authenticate fields of a refusal, error attributes on the `on` scheme's challenge."""
    extra = f', error="{error}", error_description="{description}"' if error else ""
    bearer = f'Bearer realm="{REALM}"' + (extra if on in ("both", "Bearer") else "")
    dpop = f'DPoP realm="{REALM}"' + (extra if on in ("both", "DPoP") else "") + ', algs="ES256"'
    return [bearer, dpop]


UNSAFE_PATH: Final = (400, "invalid_request", "The request path is not acceptable")
UNSAFE_HOST: Final = (400, "invalid_request", "The Host header is not acceptable")


async def handler(request: Request) -> JSONResponse:
    user = request.user
    return JSONResponse({"reached": request.url.path, "identity": user.identity if user.is_authenticated else None})


def middleware(app: Any, **options: Any) -> Auth0Middleware:
    return Auth0Middleware(app, settings=ISSUER.settings(), keys=ISSUER, **options)


def starlette_app() -> Starlette:
    return Starlette(routes=[Route("/api/private", handler), Route("/api/admin", handler), Route("/", handler)])


async def call(app: Any, path: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        return await client.get(path, headers=headers)


def assert_refused(response: httpx.Response, expected: tuple[int, str, str], on: str = "both") -> None:
    status, error, description = expected
    assert response.status_code == status, response.text
    assert response.json() == {"detail": description, "error": error}
    assert response.headers.get_list("www-authenticate") == challenge(error, description, on=on)
