"""RFC 8693 delegation (`act`) and token kinds: rules, what `request.user` says, malformed chains."""

from __future__ import annotations

from typing import Any, Final

import httpx
import jwt
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth0_asgi import Auth0Middleware, ConfigurationError
from auth0_asgi._tokens.delegation import MAX_CHAIN
from auth0_asgi.rules import (
    Rule,
    acting_for_user,
    actor_in,
    delegation_within,
    machine_tokens_only,
    never_delegated,
    user_tokens_only,
)
from auth0_asgi.testing import LocalIssuer, serve_issuer

from .conftest import _rsa_private, asgi_client, serve_with_uvicorn

pytestmark = pytest.mark.anyio

REALM: Final = 'realm="https://api.auth0-asgi.test"'
FORBIDDEN: Final = (
    f'Bearer {REALM}, error="insufficient_scope", '
    'error_description="The access token does not grant the required scope"'
)
MALFORMED: Final = (
    f'Bearer {REALM}, error="invalid_token", error_description="The access token\'s delegation claim is malformed"'
)


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer(private_key=_rsa_private(0))


async def _who(request: Request) -> JSONResponse:
    user = request.user
    return JSONResponse({"actor": user.actor, "chain": list(user.delegation_chain), "machine": user.is_machine})


def _app(issuer: LocalIssuer, rule: Rule | None = None) -> Auth0Middleware:
    return Auth0Middleware(
        Starlette(routes=[Route("/api/{rest:path}", _who)]),
        settings=issuer.settings(dpop="disabled"),
        keys=issuer,
        protected_prefixes=["/api"],
        rules={"/api": [rule]} if rule is not None else None,
    )


async def _get(app: Auth0Middleware, token: str) -> httpx.Response:
    async with asgi_client(app) as client:
        return await client.get("/api/x", headers={"Authorization": f"Bearer {token}"})


async def test_the_user_names_the_actor_and_the_chain(issuer: LocalIssuer) -> None:
    response = await _get(_app(issuer), issuer.delegated_token("agent", "gateway"))
    assert response.json() == {"actor": "agent", "chain": ["agent", "gateway"], "machine": False}
    plain = await _get(_app(issuer), issuer.token())
    assert plain.json() == {"actor": None, "chain": [], "machine": True}


# rule, token kind: True when it passes
KINDS: Final = ("machine", "user", "delegated-user", "delegated-machine", "agent-chain")
RULE_ROWS: Final[list[Any]] = [
    pytest.param(never_delegated(), {"machine", "user"}, id="never-delegated"),
    pytest.param(acting_for_user(), {"delegated-user", "agent-chain"}, id="acting-for-user"),
    pytest.param(actor_in("agent"), {"delegated-user", "delegated-machine"}, id="actor-in"),
    pytest.param(
        delegation_within("agent", "gateway"), {"machine", "user", "delegated-user", "delegated-machine"}, id="within"
    ),
    pytest.param(machine_tokens_only(), {"machine", "delegated-machine"}, id="machine-only"),
    pytest.param(user_tokens_only(), {"user", "delegated-user", "agent-chain"}, id="user-only"),
]


def _token(issuer: LocalIssuer, kind: str) -> str:
    return {
        "machine": issuer.token(),
        "user": issuer.user_token(),
        "delegated-user": issuer.delegated_token("agent"),
        "delegated-machine": issuer.delegated_token("agent", subject="svc@clients", gty="client-credentials"),
        "agent-chain": issuer.delegated_token("other-agent", "agent"),
    }[kind]


@pytest.mark.parametrize(("rule", "passing"), RULE_ROWS)
async def test_delegation_and_kind_rules(issuer: LocalIssuer, rule: Rule, passing: set[str]) -> None:
    app = _app(issuer, rule)
    for kind in KINDS:
        response = await _get(app, _token(issuer, kind))
        if kind in passing:
            assert response.status_code == 200, (rule, kind)
        else:
            assert response.status_code == 403, (rule, kind)
            assert response.headers.get_list("www-authenticate") == [FORBIDDEN]


@pytest.mark.parametrize(
    "act",
    [
        pytest.param("agent", id="string"),
        pytest.param({"client_id": "agent"}, id="no-sub"),
        pytest.param({"sub": ""}, id="empty-sub"),
        pytest.param({"sub": 7}, id="number-sub"),
        pytest.param({"sub": "a", "act": None}, id="null-inner"),
        pytest.param({"sub": "a", "act": ["b"]}, id="inner-list"),
        pytest.param({"sub": "x" * 1025}, id="huge-sub"),
        pytest.param(None, id="null"),
    ],
)
async def test_a_malformed_act_is_an_invalid_token(issuer: LocalIssuer, act: Any) -> None:
    token = issuer.token(act=act) if act is not None else _with_null_act(issuer)
    response = await _get(_app(issuer), token)
    assert response.status_code == 401
    assert response.json() == {"detail": "The access token's delegation claim is malformed", "error": "invalid_token"}
    assert response.headers.get_list("www-authenticate") == [MALFORMED]


def _with_null_act(issuer: LocalIssuer) -> str:
    claims = {**issuer.claims(), "act": None}  # token() leaves None claims out: sign it here
    return jwt.encode(claims, _rsa_private(0), algorithm="RS256", headers={"kid": issuer.kid})


async def test_a_chain_deeper_than_the_bound_is_refused_and_one_at_it_is_read(issuer: LocalIssuer) -> None:
    at_bound = await _get(_app(issuer), issuer.delegated_token(*(f"a{n}" for n in range(MAX_CHAIN))))
    beyond = await _get(_app(issuer), issuer.delegated_token(*(f"a{n}" for n in range(MAX_CHAIN + 1))))
    assert at_bound.status_code == 200
    assert len(at_bound.json()["chain"]) == MAX_CHAIN
    assert beyond.status_code == 401
    assert beyond.headers.get_list("www-authenticate") == [MALFORMED]


@pytest.mark.parametrize("make", [actor_in, delegation_within])
def test_a_subject_rule_names_subjects(make: Any) -> None:
    with pytest.raises(ConfigurationError, match="name at least one subject"):
        make()
    with pytest.raises(ConfigurationError, match="name at least one subject"):
        make("")


def test_delegation_rules_through_real_uvicorn() -> None:
    issuer = LocalIssuer(private_key=_rsa_private(0))
    with serve_issuer(issuer):
        app = Auth0Middleware(
            Starlette(routes=[Route("/api/{rest:path}", _who)]),
            settings=issuer.settings(dpop="disabled"),
            protected_prefixes=["/api"],
            rules={"/api/agents": [acting_for_user(), actor_in("agent")]},
        )
        with serve_with_uvicorn(app) as url:
            delegated = httpx.get(
                f"{url}/api/agents/x", headers={"Authorization": f"Bearer {issuer.delegated_token('agent')}"}
            )
            direct = httpx.get(f"{url}/api/agents/x", headers={"Authorization": f"Bearer {issuer.user_token()}"})
    assert delegated.status_code == 200
    assert delegated.json() == {"actor": "agent", "chain": ["agent"], "machine": False}
    assert direct.status_code == 403
    assert direct.headers.get_list("www-authenticate") == [FORBIDDEN]
