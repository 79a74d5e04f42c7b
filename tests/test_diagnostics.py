"""The log explains the mistakes Auth0 users make; the client's answer stays the fixed one.

Each row sends one mistaken credential (made by a LocalIssuer helper, or a front-end slip) and
asserts the exact client answer, the one diagnosis line logged (its code and its words), and that
neither the token nor anything unescaped reaches the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth0_asgi import Auth0Middleware
from auth0_asgi._rate_limit import RateLimit
from auth0_asgi._tokens.diagnosis import diagnose
from auth0_asgi.errors import InvalidTokenError, MalformedTokenError
from auth0_asgi.testing import LocalIssuer

from .conftest import _rsa_private, asgi_client

pytestmark = pytest.mark.anyio

TENANT: Final = "https://dev-x.us.auth0.com/"

MALFORMED: Final = (401, "invalid_token", "The access token is malformed")
UNTRUSTED: Final = (401, "invalid_token", "The access token issuer is not trusted")
WRONG_AUDIENCE: Final = (401, "invalid_token", "The access token was not issued for this API")
ALGORITHM: Final = (401, "invalid_token", "The access token algorithm is not allowed")
EXPIRED: Final = (401, "invalid_token", "The access token has expired")
IMMATURE: Final = (401, "invalid_token", "The access token is not yet valid")


#: The causes that mean this server (or its tenant's API settings) is misconfigured.
SERVER_SIDE: Final = {
    "issuer_spelling",
    "issuer_region",
    "issuer_unknown",
    "symmetric_api",
    "clock_ahead",
    "clock_behind",
}


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer(issuer=TENANT, private_key=_rsa_private(0))


ROWS: Final[list[Any]] = [
    # the Authorization value, the fixed answer, the diagnosis code, words it must contain
    pytest.param(
        lambda i: "Bearer undefined", MALFORMED, "placeholder_token", "'undefined' as its token", id="undefined"
    ),
    pytest.param(lambda i: "Bearer null", MALFORMED, "placeholder_token", "an unset variable", id="null"),
    pytest.param(lambda i: f'Bearer "{i.token()}"', MALFORMED, "quoted_token", "wrapped in quotes", id="quoted"),
    pytest.param(lambda i: f"Bearer '{i.token()}'", MALFORMED, "quoted_token", "wrapped in quotes", id="single-quoted"),
    pytest.param(
        lambda i: f"Bearer {i.jwe_token()}",
        MALFORMED,
        "encrypted_token",
        "audience='https://api.auth0-asgi.test'",
        id="jwe",
    ),
    pytest.param(lambda i: f"Bearer {i.opaque_token()}", MALFORMED, "opaque_token", "names no API", id="opaque"),
    pytest.param(lambda i: f"Bearer {i.id_token()}", WRONG_AUDIENCE, "id_token", "this is an ID token", id="id-token"),
    pytest.param(
        lambda i: f"Bearer {i.issuer_variant_token('no-trailing-slash')}",
        UNTRUSTED,
        "issuer_spelling",
        "AUTH0_DOMAIN/AUTH0_ISSUER is 'https://dev-x.us.auth0.com/' but the token says 'https://dev-x.us.auth0.com'",
        id="issuer-no-slash",
    ),
    pytest.param(
        lambda i: f"Bearer {i.issuer_variant_token('http')}",
        UNTRUSTED,
        "issuer_spelling",
        "'http://dev-x",
        id="issuer-http",
    ),
    pytest.param(
        lambda i: f"Bearer {i.issuer_variant_token('uppercase')}",
        UNTRUSTED,
        "issuer_spelling",
        "'https://DEV-X",
        id="issuer-case",
    ),
    pytest.param(
        lambda i: f"Bearer {i.issuer_variant_token('region')}",
        UNTRUSTED,
        "issuer_region",
        "another region",
        id="issuer-region",
    ),
    pytest.param(
        lambda i: f"Bearer {i.issuer_variant_token('custom-domain')}",
        UNTRUSTED,
        "issuer_unknown",
        "custom domain, add it to AUTH0_DOMAIN",
        id="issuer-custom-domain",
    ),
    pytest.param(lambda i: f"Bearer {i.hs256_token()}", ALGORITHM, "symmetric_api", "choose RS256", id="hs256"),
    pytest.param(
        lambda i: f"Bearer {i.clock_behind_token()}",
        IMMATURE,
        "clock_behind",
        "this server's clock is behind",
        id="clock-behind",
    ),
    pytest.param(
        lambda i: f"Bearer {i.clock_ahead_token()}", EXPIRED, "clock_ahead", "clock may be ahead", id="clock-ahead"
    ),
]


def _app(issuer: LocalIssuer) -> Auth0Middleware:
    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse({})

    return Auth0Middleware(Starlette(routes=[Route("/api", endpoint)]), settings=issuer.settings(), keys=issuer)


@pytest.mark.parametrize(("authorization", "answer", "code", "words"), ROWS)
async def test_a_mistake_is_explained_in_the_log_and_the_answer_is_unchanged(
    issuer: LocalIssuer,
    caplog: pytest.LogCaptureFixture,
    authorization: Callable[[LocalIssuer], str],
    answer: tuple[int, str, str],
    code: str,
    words: str,
) -> None:
    caplog.set_level(logging.INFO, logger="auth0_asgi")
    value = authorization(issuer)
    async with asgi_client(_app(issuer)) as client:
        response = await client.get("/api", headers={"Authorization": value})
    status, error, description = answer
    assert (response.status_code, response.json()) == (status, {"detail": description, "error": error})
    assert response.headers.get_list("www-authenticate")[0] == (
        f'Bearer realm="https://api.auth0-asgi.test", error="{error}", error_description="{description}"'
    )
    causes = [r.getMessage() for r in caplog.records if r.getMessage().startswith("likely cause")]
    assert len(causes) == 1, causes
    assert causes[0].startswith(f"likely cause ({code}): ")
    assert words in causes[0]
    token = value.split(None, 1)[1].strip("\"'")
    if code != "placeholder_token":  # a placeholder's text is what the line must show
        assert all(token not in record.getMessage() for record in caplog.records)
    # A cause that means this server is misconfigured is a WARNING: Python shows it by default.
    expected = logging.WARNING if code in SERVER_SIDE else logging.INFO
    assert [r.levelno for r in caplog.records if r.getMessage().startswith("likely cause")] == [expected]
    assert all(r.levelno == logging.INFO for r in caplog.records if not r.getMessage().startswith("likely cause"))


async def test_ordinary_refusals_get_no_diagnosis(issuer: LocalIssuer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="auth0_asgi")
    async with asgi_client(_app(issuer)) as client:
        for token in (issuer.expired_token(), issuer.tampered_token(), "a.b.c"):
            assert (await client.get("/api", headers={"Authorization": f"Bearer {token}"})).status_code == 401
        assert (await client.get("/api")).status_code == 401
    assert [r for r in caplog.records if r.getMessage().startswith("likely cause")] == []


async def test_a_token_for_another_api_is_the_server_s_cause_until_a_token_passes(
    issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="auth0_asgi")
    wrong = {"Authorization": f"Bearer {issuer.wrong_audience_token()}"}
    async with asgi_client(_app(issuer)) as client:
        # Nothing has passed yet: every token for another API may mean AUTH0_API_AUDIENCE is wrong.
        assert (await client.get("/api", headers=wrong)).status_code == 401
        assert (await client.get("/api", headers={"Authorization": f"Bearer {issuer.token()}"})).status_code == 200
        # A token passed: this one is a client's mistake.
        assert (await client.get("/api", headers=wrong)).status_code == 401
    causes = [(r.levelno, r.getMessage()) for r in caplog.records if r.getMessage().startswith("likely cause")]
    assert [level for level, _ in causes] == [logging.WARNING, logging.INFO]
    assert all(message.startswith("likely cause (audience_other_api): the token is for ") for _, message in causes)
    assert "set AUTH0_API_AUDIENCE to the API identifier the clients request" in causes[0][1]


async def test_the_same_mistake_is_logged_once_a_minute(issuer: LocalIssuer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="auth0_asgi")
    async with asgi_client(_app(issuer)) as client:
        for _ in range(5):
            await client.get("/api", headers={"Authorization": "Bearer undefined"})
        await client.get("/api", headers={"Authorization": f"Bearer {issuer.jwe_token()}"})
    codes = [r.getMessage().split(")")[0] for r in caplog.records if r.getMessage().startswith("likely cause")]
    assert codes == ["likely cause (placeholder_token", "likely cause (encrypted_token"]


def test_the_rate_limit_opens_again_after_its_interval() -> None:
    now = {"t": 0.0}
    limit = RateLimit(60, clock=lambda: now["t"])
    assert [limit.allow("a"), limit.allow("a"), limit.allow("b")] == [True, False, True]
    now["t"] = 59.9
    assert limit.allow("a") is False
    now["t"] = 60.0
    assert limit.allow("a") is True


def test_quoted_values_are_escaped_and_cut_short(issuer: LocalIssuer) -> None:
    # A hostile iss with a newline and a long tail: the log line stays one short line.
    token = issuer.token(iss="https://dev-x.us.auth0.com\n" + "x" * 500)
    diagnosis = diagnose(token, InvalidTokenError(), issuer.settings())
    assert diagnosis is None  # InvalidTokenError itself names no issuer problem
    from auth0_asgi.errors import InvalidIssuerError

    explained = diagnose(token, InvalidIssuerError(), issuer.settings())
    assert explained is not None
    assert "\n" not in explained.message
    assert len(explained.message) < 400
    assert "\\n" in explained.message
    assert "..." in explained.message


def test_a_garbage_token_gets_no_diagnosis_and_no_error(issuer: LocalIssuer) -> None:
    for token in ("", ".", "a.b", "a.b.c", "%%%.%%%.%%%", "eyJ.eyJ.x", "a" * 10):
        assert diagnose(token, MalformedTokenError(), issuer.settings()) is None


async def test_a_token_of_the_demo_on_another_port_names_auth0_demo_url(caplog: pytest.LogCaptureFixture) -> None:
    # Issue 31: offline, the hint said "add it to AUTH0_DOMAIN", which would switch offline mode off.
    caplog.set_level(logging.INFO, logger="auth0_asgi")
    demo = LocalIssuer(issuer="http://127.0.0.1:8000/", private_key=_rsa_private(1))
    elsewhere = LocalIssuer(issuer="http://127.0.0.1:8765/", private_key=_rsa_private(1))
    async with asgi_client(_app(demo)) as client:
        response = await client.get("/api", headers={"Authorization": f"Bearer {elsewhere.token()}"})
    assert (response.status_code, response.json()) == (401, {"detail": UNTRUSTED[2], "error": "invalid_token"})
    causes = [(r.levelno, r.getMessage()) for r in caplog.records if r.getMessage().startswith("likely cause")]
    assert causes == [
        (
            logging.INFO,
            "likely cause (issuer_local): the token's issuer 'http://127.0.0.1:8765/' is a local issuer other than "
            "this one ('http://127.0.0.1:8000/'): mint tokens for this demo with auth0-asgi token (--demo URL where "
            "it runs), or set AUTH0_DEMO_URL to the URL clients use before starting it",
        )
    ]
