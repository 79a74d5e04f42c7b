"""RFC 9470 step-up: 401 insufficient_user_authentication with acr_values and max_age; anonymous sessions."""

from __future__ import annotations

from typing import Any, Final

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth0_asgi import Auth0Middleware, Auth0Settings, ConfigurationError
from auth0_asgi.rules import any_scope, step_up
from auth0_asgi.testing import LocalIssuer, serve_issuer

from .conftest import _rsa_private, asgi_client, serve_with_uvicorn

pytestmark = pytest.mark.anyio

AUDIENCE: Final = "https://api.auth0-asgi.test"
REALM: Final = f'realm="{AUDIENCE}"'
MFA: Final = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
DESCRIPTION: Final = "A stronger or more recent authentication is required"
NS: Final = "https://example.com/"


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer(private_key=_rsa_private(0))


async def _ok(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.identity})


def _app(issuer: LocalIssuer, settings: dict[str, Any] | None = None, **options: Any) -> Auth0Middleware:
    routes = [Route("/api/{rest:path}", _ok)]
    chosen = {"dpop": "disabled", **(settings or {})}
    return Auth0Middleware(
        Starlette(routes=routes),
        settings=issuer.settings(**chosen),
        keys=issuer,
        protected_prefixes=["/api"],
        **options,
    )


def challenge(acr_values: str | None = None, max_age: int | None = None) -> str:
    extra = f', acr_values="{acr_values}"' if acr_values is not None else ""
    extra += f', max_age="{max_age}"' if max_age is not None else ""
    return f'Bearer {REALM}, error="insufficient_user_authentication", error_description="{DESCRIPTION}"{extra}'


PAYMENTS: Final = {"/api/pay": [step_up([MFA], max_age=300)]}

# the token's authentication, then: None for 200, else the challenge
ROWS: Final[list[Any]] = [
    pytest.param({"acr": MFA, "authenticated_ago": 10}, None, id="strong-and-recent"),
    pytest.param({"acr": "pwd", "authenticated_ago": 10}, challenge(MFA, 300), id="weak"),
    pytest.param({"authenticated_ago": 10}, challenge(MFA, 300), id="no-acr"),
    pytest.param({"acr": MFA, "authenticated_ago": 301}, challenge(MFA, 300), id="too-old"),
    pytest.param({"acr": MFA, "authenticated_ago": -3600}, challenge(MFA, 300), id="auth-time-in-the-future"),
    pytest.param({"acr": MFA, "auth_time": "yesterday"}, challenge(MFA, 300), id="auth-time-not-a-number"),
    pytest.param({"acr": MFA, "auth_time": None}, challenge(MFA, 300), id="no-auth-time"),
    pytest.param({"acr": [MFA], "authenticated_ago": 10}, challenge(MFA, 300), id="acr-not-a-string"),
]


@pytest.mark.parametrize(("authentication", "expected"), ROWS)
async def test_a_step_up_requirement_answers_401_naming_it(
    issuer: LocalIssuer, authentication: dict[str, Any], expected: str | None
) -> None:
    async with asgi_client(_app(issuer, rules=PAYMENTS)) as client:
        response = await client.get(
            "/api/pay", headers={"Authorization": f"Bearer {issuer.user_token(**authentication)}"}
        )
        elsewhere = await client.get("/api/other", headers={"Authorization": f"Bearer {issuer.user_token()}"})
    assert elsewhere.status_code == 200  # the requirement is the prefix's only
    if expected is None:
        assert response.status_code == 200
        return
    assert response.status_code == 401  # RFC 9470 §3: never 403, another authentication will do
    assert response.json() == {"detail": DESCRIPTION, "error": "insufficient_user_authentication"}
    assert response.headers.get_list("www-authenticate") == [expected]


@pytest.mark.parametrize(
    ("amr", "status"),
    [pytest.param(["pwd", "mfa"], 200, id="mfa"), pytest.param(["pwd"], 401, id="password-only")],
)
async def test_mfa_in_amr_is_an_alternative_to_the_acr(issuer: LocalIssuer, amr: list[str], status: int) -> None:
    rules = {"/api/pay": [step_up([MFA], mfa=True)]}
    async with asgi_client(_app(issuer, rules=rules)) as client:
        response = await client.get("/api/pay", headers={"Authorization": f"Bearer {issuer.user_token(amr=amr)}"})
    assert response.status_code == status
    if status == 401:
        assert response.headers.get_list("www-authenticate") == [challenge(MFA)]


async def test_the_environment_sets_requirements_with_namespaced_claims(issuer: LocalIssuer) -> None:
    environ = {
        **issuer.environ(),
        "AUTH0_DPOP": "disabled",
        "AUTH0_STEP_UP": '{"/api/pay": {"max_age": 60, "mfa": true}}',
        "AUTH0_ACR_CLAIM": NS + "acr",
        "AUTH0_AMR_CLAIM": NS + "amr",
        "AUTH0_AUTH_TIME_CLAIM": NS + "auth_time",
    }
    settings = Auth0Settings.from_env(environ, env_file=None)
    app = Auth0Middleware(Starlette(routes=[Route("/api/{rest:path}", _ok)]), settings=settings, keys=issuer)
    namespaced = issuer.user_token(amr=["mfa"], authenticated_ago=5, namespace=NS)
    plain = issuer.user_token(amr=["mfa"], authenticated_ago=5)  # the reserved names: not read
    async with asgi_client(app) as client:
        accepted = await client.get("/api/pay", headers={"Authorization": f"Bearer {namespaced}"})
        refused = await client.get("/api/pay", headers={"Authorization": f"Bearer {plain}"})
    assert accepted.status_code == 200
    assert refused.status_code == 401
    assert refused.headers.get_list("www-authenticate") == [challenge(max_age=60)]


async def test_scopes_are_checked_before_the_step_up_and_named_with_it(issuer: LocalIssuer) -> None:
    rules = {"/api/pay": [any_scope("pay"), step_up([MFA])]}
    async with asgi_client(_app(issuer, rules=rules, required_scopes={"/api/pay": ["read"]})) as client:
        no_scope = await client.get("/api/pay", headers={"Authorization": f"Bearer {issuer.user_token(scope='read')}"})
        weak = await client.get("/api/pay", headers={"Authorization": f"Bearer {issuer.user_token(scope='read pay')}"})
    assert no_scope.status_code == 403  # a token that can never do: no step-up would help
    assert weak.status_code == 401
    assert weak.headers.get_list("www-authenticate") == [
        challenge(MFA).replace(f'acr_values="{MFA}"', f'acr_values="{MFA}", scope="read"')
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({}, "name acr_values, max_age or mfa", id="nothing"),
        pytest.param({"acr_values": ["a b"]}, "without spaces", id="space"),
        pytest.param({"acr_values": ['a"b']}, "without spaces", id="quote"),
        pytest.param({"max_age": -1}, "whole seconds", id="negative-age"),
        pytest.param({"max_age": 1.5}, "whole seconds", id="fractional-age"),
        pytest.param({"max_age": 5, "acr_claim": ""}, "claim name", id="claim-name"),
    ],
)
def test_a_requirement_of_nothing_or_of_bad_values_is_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        step_up(**kwargs)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param('{"/api": {"max_age": 5, "other": 1}}', id="unknown-key"),
        pytest.param('{"/api": {"acr_values": "x"}}', id="acr-values-string"),
        pytest.param('{"/api": {"mfa": "yes"}}', id="mfa-string"),
        pytest.param('["/api"]', id="not-an-object"),
    ],
)
def test_a_bad_step_up_variable_is_refused(issuer: LocalIssuer, value: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^AUTH0_STEP_UP"):
        Auth0Settings.from_env({**issuer.environ(), "AUTH0_STEP_UP": value}, env_file=None)


ANONYMOUS: Final = f'Bearer {REALM}, error="insufficient_user_authentication", error_description="{DESCRIPTION}"'


async def test_an_anonymous_session_is_refused_except_where_a_prefix_allows_it(issuer: LocalIssuer) -> None:
    app = _app(issuer, anonymous_prefixes=["/api/guest"])
    token = issuer.anonymous_token()
    async with asgi_client(app) as client:
        guest = await client.get("/api/guest/cart", headers={"Authorization": f"Bearer {token}"})
        private = await client.get("/api/orders", headers={"Authorization": f"Bearer {token}"})
        # One reading lies outside the allowing prefix: when unsure, refuse.
        around = await client.get("/api/guest/../orders", headers={"Authorization": f"Bearer {token}"})
    assert guest.status_code == 200
    for refused in (private, around):
        assert refused.status_code == 401
        assert refused.json() == {"detail": DESCRIPTION, "error": "insufficient_user_authentication"}
        assert refused.headers.get_list("www-authenticate") == [ANONYMOUS]


def test_an_anonymous_prefix_must_be_protected(issuer: LocalIssuer) -> None:
    with pytest.raises(ConfigurationError, match=r"^anonymous_prefixes\['/open'\]: the prefix is not protected"):
        _app(issuer, anonymous_prefixes=["/open"])


def test_step_up_through_real_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    issuer = LocalIssuer(private_key=_rsa_private(0))
    with serve_issuer(issuer):
        settings = issuer.settings(dpop="disabled", step_up={"/api/pay": {"acr_values": [MFA], "max_age": 120}})
        app = Auth0Middleware(Starlette(routes=[Route("/api/{rest:path}", _ok)]), settings=settings)
        with serve_with_uvicorn(app) as url:
            weak = httpx.get(f"{url}/api/pay", headers={"Authorization": f"Bearer {issuer.user_token(acr='pwd')}"})
            strong = httpx.get(f"{url}/api/pay", headers={"Authorization": f"Bearer {issuer.user_token(acr=MFA)}"})
    assert (weak.status_code, strong.status_code) == (401, 200)
    assert weak.headers.get_list("www-authenticate") == [challenge(MFA, 120)]
    assert strong.json() == {"sub": "auth0|local-user"}
