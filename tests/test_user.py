"""Auth0User and granted_scopes."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from auth0_asgi import Auth0User, granted_scopes
from auth0_asgi.rules import claim_equals
from auth0_asgi.testing import DPoPKey

from . import _inprocess as review


@pytest.mark.parametrize(
    ("claims", "scopes"),
    [
        ({"scope": "a b  c"}, {"a", "b", "c"}),
        ({"permissions": ["p", "q"]}, {"p", "q"}),
        ({"scope": "a", "permissions": ["a", "b"]}, {"a", "b"}),
        ({"scope": ["a"], "permissions": "b"}, set()),
        ({"permissions": ["ok", 3, None]}, {"ok"}),
        ({}, set()),
    ],
)
def test_granted_scopes(claims: dict[str, Any], scopes: set[str]) -> None:
    assert granted_scopes(claims) == scopes


def test_user_exposes_claims_and_identity() -> None:
    user = Auth0User({"sub": "auth0|123", "scope": "read"})
    assert user.is_authenticated
    assert user.identity == user.display_name == "auth0|123"
    assert user.claims["scope"] == "read"
    assert user.scopes == {"read"}
    assert repr(user) == "Auth0User(identity='auth0|123')"


def test_user_without_a_string_subject_has_an_empty_identity() -> None:
    assert Auth0User({"sub": 42}).identity == ""


# From the outside review (issue 18), finding 5: one shared, mutable user per token.


@pytest.mark.anyio
async def test_a_handler_that_pops_cnf_does_not_turn_a_bound_token_into_a_bearer_token() -> None:
    async def redacting(request: Request) -> Response:
        try:
            request.user.claims.pop("cnf", None)
        except TypeError:
            return PlainTextResponse("read-only")
        return PlainTextResponse("popped")

    app = review.middleware(Starlette(routes=[Route("/api/private", redacting)]))
    key = DPoPKey()
    token = review.ISSUER.dpop_token(key)
    proof = key.proof("GET", "http://testserver/api/private", access_token=token)
    first = await review.call(app, "/api/private", authorization=f"DPoP {token}", dpop=proof)
    assert (first.status_code, first.text) == (200, "read-only")
    second = await review.call(app, "/api/private", authorization=f"Bearer {token}")
    review.assert_refused(
        second,
        (401, "invalid_token", "The access token is bound to a key and cannot be used as a bearer token"),
        "Bearer",
    )


@pytest.mark.anyio
async def test_a_handler_that_writes_a_claim_does_not_satisfy_a_rule_for_later_requests() -> None:
    async def writing(request: Request) -> Response:
        for write in (
            lambda: request.user.claims.__setitem__("org_id", "acme"),
            lambda: setattr(request.user, "claims", {}),
        ):
            try:
                write()
            except (TypeError, AttributeError):
                continue
            return PlainTextResponse("written")
        return PlainTextResponse("read-only")

    routes = [Route("/open", writing), Route("/api/admin", writing)]
    app = review.middleware(Starlette(routes=routes), rules={"/api/admin": [claim_equals("org_id", "acme")]})
    token = review.ISSUER.token()
    first = await review.call(app, "/open", authorization=f"Bearer {token}")
    assert (first.status_code, first.text) == (200, "read-only")
    refused = await review.call(app, "/api/admin", authorization=f"Bearer {token}")
    assert refused.status_code == 403


# From the outside review (issue 18), finding 9: scopes split on any whitespace.


@pytest.mark.anyio
@pytest.mark.parametrize("scope", ["x\tread:messages", "x\u00a0read:messages", "x\nread:messages"])
async def test_scopes_are_split_on_single_spaces_only(scope: str) -> None:
    app = review.middleware(review.starlette_app(), required_scopes={"/api/private": ["read:messages"]})
    response = await review.call(app, "/api/private", authorization=f"Bearer {review.ISSUER.token(scope=scope)}")
    assert response.status_code == 403
