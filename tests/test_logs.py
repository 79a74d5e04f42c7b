"""Structured logs: each line names its event and reason code as record fields (the autouse
fixture in conftest checks every line of every test; these check the values)."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

import pytest
from starlette.applications import Starlette

from auth0_asgi import Auth0Middleware, JWKSCache
from auth0_asgi.testing import LocalIssuer

from .conftest import JWKSServer, TokenMaker, _rsa_private, asgi_client, protect

pytestmark = pytest.mark.anyio


def _fields(record: logging.LogRecord) -> dict[str, object]:
    return {name: value for name, value in vars(record).items() if name.startswith("auth0_asgi_")}


async def test_a_refusal_line_names_its_reason_error_and_status(
    jwks_server: JWKSServer, make_token: TokenMaker, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="auth0_asgi"):
        async with asgi_client(protect(jwks_server)) as client:
            await client.get("/api/private", headers={"Authorization": f"Bearer {make_token(exp=1_000_000)}"})
    lines = {record.getMessage().split(" ")[0]: record for record in caplog.records}
    assert _fields(lines["refused"]) == {
        "auth0_asgi_event": "request_outcome",
        "auth0_asgi_reason": "token_expired",
        "auth0_asgi_error": "invalid_token",
        "auth0_asgi_status": 401,
    }
    assert _fields(lines["fetched"]) == {
        "auth0_asgi_event": "key_set_fetched",
        "auth0_asgi_reason": "ok",
        "auth0_asgi_url": jwks_server.url,
        "auth0_asgi_key_count": 1,
    }
    assert lines["refused"].levelno == logging.INFO
    assert lines["fetched"].levelno == logging.DEBUG


async def test_a_likely_cause_line_names_its_code(jwks_server: JWKSServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="auth0_asgi"):
        async with asgi_client(protect(jwks_server)) as client:
            await client.get("/api/private", headers={"Authorization": "Bearer undefined"})
    [cause] = [record for record in caplog.records if record.getMessage().startswith("likely cause")]
    assert _fields(cause) == {"auth0_asgi_event": "likely_cause", "auth0_asgi_reason": "placeholder_token"}


async def test_a_failed_fetch_line_names_its_reason_and_status(
    jwks_server: JWKSServer, caplog: pytest.LogCaptureFixture
) -> None:
    jwks_server.status = 503
    cache = JWKSCache(jwks_server.url, algorithms=["RS256"])
    with caplog.at_level(logging.WARNING, logger="auth0_asgi"):
        try:
            await cache.refresh()
        finally:
            await cache.aclose()
    [failed] = caplog.records
    assert failed.levelno == logging.WARNING
    assert _fields(failed) == {
        "auth0_asgi_event": "key_set_fetched",
        "auth0_asgi_reason": "http_status",
        "auth0_asgi_url": jwks_server.url,
        "auth0_asgi_status_code": 503,
    }


async def test_a_format_string_can_name_the_fields(
    jwks_server: JWKSServer, make_token: TokenMaker, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="auth0_asgi"):
        async with asgi_client(protect(jwks_server)) as client:
            await client.get("/api/private")
    formatter = logging.Formatter("%(auth0_asgi_event)s %(auth0_asgi_reason)s %(message)s")
    assert [formatter.format(record) for record in caplog.records] == [
        "request_outcome missing_token refused GET '/api/private': Not authenticated"
    ]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_start_up_says_in_one_line_what_is_protected(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="auth0_asgi")
    issuer = LocalIssuer(private_key=_rsa_private(0))
    app = Auth0Middleware(
        Starlette(),
        settings=issuer.settings(dpop="required", mtls="disabled"),
        keys=issuer,
        protected_prefixes=["/api/private", "/admin"],
    )
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    assert [message["type"] for message in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    lines = [record for record in caplog.records if _fields(record).get("auth0_asgi_event") == "protecting"]
    assert [(record.levelno, record.getMessage()) for record in lines] == [
        (
            logging.INFO,
            f"protecting /api/private, /admin for {issuer.issuer} (audience {issuer.audience}); "
            "DPoP required, mTLS disabled",
        )
    ]
    assert _fields(lines[0])["auth0_asgi_prefixes"] == ["/api/private", "/admin"]
