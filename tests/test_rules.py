"""Claim rules: validity rules (401 invalid_token) and authorization rules (403 insufficient_scope),
each table row asserting the exact status, body and every WWW-Authenticate field, in process and
through the FastAPI dependency; and that the verified-token cache never skips a rule.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Annotated, Any, Final

import httpx
import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth0_asgi import Auth0Middleware, Auth0User, ConfigurationError
from auth0_asgi._tokens.frozen import frozen_object
from auth0_asgi.errors import InsufficientScopeError
from auth0_asgi.fastapi import document_security, require
from auth0_asgi.rules import (
    Rule,
    acting_for_user,
    actor_in,
    all_scopes,
    any_scope,
    claim_equals,
    claim_includes,
    claims_satisfy,
    delegation_within,
    machine_tokens_only,
    never_delegated,
    user_tokens_only,
)
from auth0_asgi.testing import LocalIssuer

from .conftest import _rsa_private, asgi_client

pytestmark = pytest.mark.anyio

REALM: Final = 'realm="https://api.auth0-asgi.test"'
DPOP_OFFER: Final = 'DPoP realm="https://api.auth0-asgi.test", algs="ES256"'
FORBIDDEN: Final = {"detail": "The access token does not grant the required scope", "error": "insufficient_scope"}


def forbidden(scopes: str | None) -> list[str]:
    scope = f', scope="{scopes}"' if scopes is not None else ""
    return [
        f'Bearer {REALM}, error="insufficient_scope", error_description="{FORBIDDEN["detail"]}"{scope}',
        f'DPoP {REALM}{scope}, algs="ES256"',  # the scope the access needs, on each scheme's challenge
    ]


def invalid(description: str) -> tuple[int, dict[str, str], list[str]]:
    return (
        401,
        {"detail": description, "error": "invalid_token"},
        [f'Bearer {REALM}, error="invalid_token", error_description="{description}"', DPOP_OFFER],
    )


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer(private_key=_rsa_private(0))


async def _claims(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.identity})


def _app(issuer: LocalIssuer, **options: Any) -> Auth0Middleware:
    routes = [Route("/api/{rest:path}", _claims)]
    settings = issuer.settings(**options.pop("settings", {}))
    return Auth0Middleware(
        Starlette(routes=routes), settings=settings, keys=issuer, protected_prefixes=["/api"], **options
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- authorization rules ----------------------------------------------------------------------

AUTHORIZATION_ROWS: Final[list[Any]] = [
    # rule, token claims, expected: None for 200, else the scope attribute (None: no attribute)
    pytest.param(any_scope("read:a", "admin"), {"scope": "admin"}, None, id="any-scope-one-of"),
    pytest.param(any_scope("read:a", "admin"), {"scope": "read:b"}, "admin read:a", id="any-scope-none"),
    pytest.param(any_scope("read:a"), {"permissions": ["read:a"]}, None, id="any-scope-from-permissions"),
    pytest.param(all_scopes("read:a", "write:a"), {"scope": "read:a write:a x"}, None, id="all-scopes"),
    pytest.param(all_scopes("read:a", "write:a"), {"scope": "read:a"}, "read:a write:a", id="all-scopes-one-short"),
    pytest.param(claim_equals("org_id", "acme"), {"org_id": "acme"}, None, id="claim-equals"),
    pytest.param(claim_equals("org_id", "acme"), {"org_id": "other"}, "", id="claim-equals-other"),
    pytest.param(claim_equals("org_id", "acme"), {}, "", id="claim-equals-absent"),
    pytest.param(claim_equals("verified", True), {"verified": 1}, "", id="claim-equals-type-matters"),
    pytest.param(claim_equals("tier", 2), {"tier": 2}, None, id="claim-equals-number"),
    pytest.param(claim_includes("roles", "admin"), {"roles": ["user", "admin"]}, None, id="includes-list"),
    pytest.param(claim_includes("roles", "admin"), {"roles": "user admin"}, None, id="includes-string"),
    pytest.param(claim_includes("roles", "admin", "ops"), {"roles": ["admin"]}, "", id="includes-one-missing"),
    pytest.param(claim_includes("roles", "admin"), {"roles": {"admin": True}}, "", id="includes-wrong-type"),
    pytest.param(claim_includes("roles", "admin"), {"roles": [["admin"]]}, "", id="includes-nested-list"),
    pytest.param(claims_satisfy(lambda c: c.get("amr") == ["mfa"]), {"amr": ["mfa"]}, None, id="predicate"),
    pytest.param(claims_satisfy(lambda c: c.get("amr") == ["mfa"]), {}, "", id="predicate-false"),
    pytest.param(claims_satisfy(lambda c: "yes"), {}, "", id="predicate-truthy-is-not-true"),  # type: ignore[arg-type,return-value]
    pytest.param(claims_satisfy(lambda c: c["missing"], name="needs-missing"), {}, "", id="predicate-raises"),
]


@pytest.mark.parametrize(("rule", "claims", "scope_attribute"), AUTHORIZATION_ROWS)
async def test_a_prefix_rule_gets_the_exact_answer(
    issuer: LocalIssuer, rule: Rule, claims: dict[str, Any], scope_attribute: str | None
) -> None:
    async with asgi_client(_app(issuer, rules={"/api/admin": [rule]})) as client:
        ruled = await client.get("/api/admin/x", headers=_bearer(issuer.token(**claims)))
        elsewhere = await client.get("/api/other", headers=_bearer(issuer.token(**claims)))
    assert elsewhere.status_code == 200  # the rule holds on its prefix only
    if scope_attribute is None:
        assert (ruled.status_code, ruled.json()) == (200, {"sub": "local-client@clients"})
        return
    assert (ruled.status_code, ruled.json()) == (403, FORBIDDEN)
    assert ruled.headers.get_list("www-authenticate") == forbidden(scope_attribute or None)


async def test_a_rule_that_raises_is_logged_with_its_name(
    issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    rule = claims_satisfy(lambda claims: claims["tenant"]["id"] == "x", name="tenant-is-x")
    async with asgi_client(_app(issuer, rules={"/api": [rule]})) as client:
        refused = await client.get("/api/x", headers=_bearer(issuer.token()))
    assert refused.status_code == 403
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["authorization rule claims_satisfy(tenant-is-x) raised KeyError: refusing"]


async def test_nested_prefix_rules_all_apply_outermost_first(issuer: LocalIssuer) -> None:
    seen: list[str] = []

    def noting(label: str) -> Rule:
        def test(claims: Any) -> bool:
            seen.append(label)
            return True

        return claims_satisfy(test, name=label)

    rules = {"/api/admin/users": [noting("inner")], "/api": [noting("outer")], "/api/admin": [noting("middle")]}
    async with asgi_client(_app(issuer, rules=rules)) as client:
        assert (await client.get("/api/admin/users/7", headers=_bearer(issuer.token()))).status_code == 200
        assert (await client.get("/api/x", headers=_bearer(issuer.token()))).status_code == 200
    assert seen == ["outer", "middle", "inner", "outer"]


async def test_rules_are_checked_on_every_request_even_when_the_token_is_cached(issuer: LocalIssuer) -> None:
    flag = {"allow": True}
    rule = claims_satisfy(lambda claims: flag["allow"], name="switch")
    token = issuer.token()
    middleware = _app(issuer, rules={"/api": [rule]})
    async with asgi_client(middleware) as client:
        first = await client.get("/api/x", headers=_bearer(token))
        flag["allow"] = False
        second = await client.get("/api/x", headers=_bearer(token))
    assert len(middleware.verifier._cache) == 1
    assert (first.status_code, second.status_code) == (200, 403)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda: all_scopes(), "all_scopes(): name at least one scope", id="all-scopes-empty"),
        pytest.param(lambda: any_scope(), "any_scope(): name at least one scope", id="any-scope-empty"),
        pytest.param(lambda: any_scope("bad scope"), "'bad scope' is not a valid scope", id="bad-scope-token"),
        pytest.param(lambda: claim_equals("", 1), "claim_equals: the claim name must be", id="empty-claim-name"),
        pytest.param(lambda: claim_includes("roles"), "claim_includes('roles'): name at least one", id="no-values"),
        pytest.param(
            lambda: _app(LocalIssuer(private_key=_rsa_private(0)), rules={"/elsewhere": [any_scope("a")]}),
            "rules['/elsewhere']: the prefix is not protected",
            id="prefix-not-protected",
        ),
        pytest.param(lambda: require(), "require(): give one or more rules", id="require-nothing"),
        pytest.param(
            lambda: require("read:a"),  # type: ignore[arg-type]
            "give one or more rules from auth0_asgi.rules",
            id="require-a-string",
        ),
    ],
)
def test_rule_configuration_errors_are_one_line(make: Any, message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        make()
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_rules_name_themselves() -> None:
    assert repr(any_scope("b", "a")) == "<Rule any_scope(a b)>"
    assert claim_equals("org_id", "acme").name == "claim_equals(org_id='acme')"
    assert claim_includes("roles", "x", "a").name == "claim_includes(roles: a x)"

    def mfa_only(claims: Any) -> bool:
        return True

    assert claims_satisfy(mfa_only).name == "claims_satisfy(test_rules_name_themselves.<locals>.mfa_only)"


# --- the FastAPI dependency -------------------------------------------------------------------


def _fastapi_app(issuer: LocalIssuer) -> FastAPI:
    app = FastAPI()

    @app.get("/api/reports")
    async def reports(
        user: Annotated[Auth0User, Depends(require(any_scope("read:reports", "admin")))],
    ) -> dict[str, str]:
        return {"sub": user.identity}

    @app.get(
        "/api/billing", dependencies=[Depends(require(all_scopes("read:billing"), claim_equals("org_id", "acme")))]
    )
    async def billing() -> dict[str, str]:
        return {"ok": "yes"}

    app.add_middleware(Auth0Middleware, settings=issuer.settings(), keys=issuer, protected_prefixes=["/api"])
    document_security(app)
    return app


async def test_the_require_dependency_answers_as_the_middleware_does(issuer: LocalIssuer) -> None:
    transport = httpx.ASGITransport(app=_fastapi_app(issuer))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        ok = await client.get("/api/reports", headers=_bearer(issuer.token(scope="admin")))
        no_scope = await client.get("/api/reports", headers=_bearer(issuer.token(scope="read:x")))
        billing_ok = await client.get(
            "/api/billing", headers=_bearer(issuer.token(scope="read:billing", org_id="acme"))
        )
        wrong_org = await client.get("/api/billing", headers=_bearer(issuer.token(scope="read:billing", org_id="x")))
        schema = (await client.get("/openapi.json")).json()
    assert (ok.status_code, ok.json()) == (200, {"sub": "local-client@clients"})
    assert (no_scope.status_code, no_scope.json()) == (403, FORBIDDEN)
    assert no_scope.headers.get_list("www-authenticate") == forbidden("admin read:reports")
    assert billing_ok.status_code == 200
    assert (wrong_org.status_code, wrong_org.json()) == (403, FORBIDDEN)
    assert wrong_org.headers.get_list("www-authenticate") == forbidden(None)
    billing = schema["paths"]["/api/billing"]["get"]
    assert billing["security"] == [{"Auth0": ["read:billing"]}, {"Auth0DPoP": ["read:billing"]}]
    reports = schema["paths"]["/api/reports"]["get"]
    assert reports["security"] == [{"Auth0": []}, {"Auth0DPoP": []}]
    assert "403" in reports["responses"]  # a rule names no scope, yet may refuse


# --- validity rules ---------------------------------------------------------------------------

TOO_OLD: Final = invalid("The access token is too old")
NOT_RFC9068: Final = invalid("The access token is not an RFC 9068 access token")
CLIENT: Final = invalid("The access token was issued to a client that is not allowed")
MISSING: Final = invalid("The access token lacks a required claim")
RFC9068_CLAIMS: Final = {"client_id": "c1", "jti": "t-1"}

VALIDITY_ROWS: Final[list[Any]] = [
    # settings, token claims, token headers, expected answer (None for 200)
    pytest.param({"max_token_age": 600}, {}, {}, None, id="age-fresh"),
    pytest.param({"max_token_age": 600}, {"iat": lambda: int(time.time()) - 900}, {}, TOO_OLD, id="age-too-old"),
    pytest.param({"max_token_age": 600}, {"iat": None}, {}, TOO_OLD, id="age-without-iat"),
    pytest.param({"max_token_age": 600}, {"iat": lambda: int(time.time()) - 590}, {}, None, id="age-within"),
    pytest.param({"token_profile": "rfc9068"}, RFC9068_CLAIMS, {"typ": "at+jwt"}, None, id="rfc9068"),
    pytest.param(
        {"token_profile": "rfc9068"}, RFC9068_CLAIMS, {"typ": "application/AT+JWT"}, None, id="rfc9068-media-type"
    ),
    pytest.param({"token_profile": "rfc9068"}, RFC9068_CLAIMS, {"typ": "JWT"}, NOT_RFC9068, id="rfc9068-typ-jwt"),
    pytest.param({"token_profile": "rfc9068"}, RFC9068_CLAIMS, {}, NOT_RFC9068, id="rfc9068-no-typ-but-jwt"),
    pytest.param(
        {"token_profile": "rfc9068"}, {"jti": "t-1"}, {"typ": "at+jwt"}, NOT_RFC9068, id="rfc9068-no-client-id"
    ),
    pytest.param(
        {"token_profile": "rfc9068"}, {"client_id": "c1"}, {"typ": "at+jwt"}, NOT_RFC9068, id="rfc9068-no-jti"
    ),
    pytest.param({"allowed_clients": ("local-client",)}, {}, {}, None, id="client-azp-allowed"),
    pytest.param({"allowed_clients": ("other",)}, {}, {}, CLIENT, id="client-azp-not-allowed"),
    pytest.param({"allowed_clients": ("c1",)}, {"azp": None, "client_id": "c1"}, {}, None, id="client-id-allowed"),
    pytest.param({"allowed_clients": ("c1",)}, {"azp": "c1", "client_id": "c2"}, {}, CLIENT, id="client-one-of-two"),
    pytest.param({"allowed_clients": ("c1",)}, {"azp": None}, {}, CLIENT, id="client-none-named"),
    pytest.param({"allowed_clients": ("1",)}, {"azp": 1}, {}, CLIENT, id="client-not-a-string"),
    pytest.param({"required_claims": ("org_id",)}, {"org_id": "acme"}, {}, None, id="required-present"),
    pytest.param({"required_claims": ("org_id",)}, {}, {}, MISSING, id="required-absent"),
    pytest.param({"required_claims": ("org_id",)}, {"org_id": None}, {}, MISSING, id="required-absent-as-none"),
]


@pytest.mark.parametrize(("settings", "claims", "headers", "expected"), VALIDITY_ROWS)
async def test_a_validity_rule_gets_the_exact_answer(
    issuer: LocalIssuer,
    settings: dict[str, Any],
    claims: dict[str, Any],
    headers: dict[str, Any],
    expected: tuple[int, dict[str, str], list[str]] | None,
) -> None:
    # A callable claim is evaluated now, not when the table was collected.
    token = issuer.token(headers=headers, **{name: v() if callable(v) else v for name, v in claims.items()})
    async with asgi_client(_app(issuer, settings=settings)) as client:
        response = await client.get("/api/x", headers=_bearer(token))
    if expected is None:
        assert response.status_code == 200, response.text
        return
    status, body, challenges = expected
    assert (response.status_code, response.json()) == (status, body)
    assert response.headers.get_list("www-authenticate") == challenges


async def test_a_cached_token_still_ages_out(issuer: LocalIssuer) -> None:
    clock = {"now": time.time()}
    from auth0_asgi import TokenVerifier

    verifier = TokenVerifier(issuer.settings(max_token_age=60), keys=issuer, now=lambda: clock["now"])
    token = issuer.token()
    assert (await verifier.verify(token))["sub"] == "local-client@clients"
    clock["now"] += 70  # beyond max_token_age + leeway, well before exp
    with pytest.raises(Exception, match="older than 60s") as too_old:
        await verifier.verify(token)
    assert type(too_old.value).__name__ == "TokenTooOldError"


async def test_a_predicate_cannot_change_the_cached_claims(issuer: LocalIssuer) -> None:
    def meddling(claims: Any) -> bool:
        claims["scope"] = "admin"
        return True

    token = issuer.token(scope="read:x")
    async with asgi_client(
        _app(issuer, rules={"/api/admin": [claims_satisfy(meddling)], "/api/all": [any_scope("admin")]})
    ) as client:
        meddled = await client.get("/api/admin/x", headers=_bearer(token))
        after = await client.get("/api/all/x", headers=_bearer(token))
    assert meddled.status_code == 403  # the predicate raised (TypeError): a refusal
    assert after.status_code == 403  # and the cached token still grants only read:x


# --- every rule reads frozen claims as it reads plain ones ---------------------------------------

# (rule, claims, passes): each checked on the claims as a verified token carries them (frozen
# objects and arrays, shared by every request with the token) and as plain JSON values.
EVERY_RULE: Final[list[Any]] = [
    pytest.param(claim_equals("roles", ["admin"]), {"roles": ["admin"]}, True, id="equals-array"),
    pytest.param(claim_equals("roles", ("admin",)), {"roles": ["admin"]}, True, id="equals-array-as-tuple"),
    pytest.param(claim_equals("roles", ["admin"]), {"roles": ["admin", "x"]}, False, id="equals-array-longer"),
    pytest.param(claim_equals("roles", ["admin"]), {"roles": "admin"}, False, id="equals-array-not-string"),
    pytest.param(
        claim_equals("org", {"id": "acme", "tier": [1]}), {"org": {"id": "acme", "tier": [1]}}, True, id="equals-object"
    ),
    pytest.param(claim_equals("org", {"id": "acme"}), {"org": {"id": "acme", "x": 1}}, False, id="equals-object-more"),
    pytest.param(
        claim_equals("org", {"flag": True}), {"org": {"flag": 1}}, False, id="equals-nested-boolean-not-number"
    ),
    pytest.param(claim_equals("tier", 2), {"tier": 2.0}, True, id="equals-one-json-number"),
    pytest.param(claim_equals("tier", 2), {"tier": True}, False, id="equals-number-not-boolean"),
    pytest.param(claim_equals("x", None), {"x": None}, True, id="equals-null"),
    pytest.param(claim_equals("x", None), {}, False, id="equals-null-not-absent"),
    pytest.param(claim_includes("roles", "admin"), {"roles": ["admin"]}, True, id="includes"),
    pytest.param(all_scopes("a"), {"scope": "a"}, True, id="all-scopes"),
    pytest.param(any_scope("a"), {"permissions": ["a"]}, True, id="any-scope"),
    pytest.param(claims_satisfy(lambda c: c["roles"] == ["admin"]), {"roles": ["admin"]}, True, id="predicate"),
    pytest.param(machine_tokens_only(), {"sub": "c@clients", "gty": "client-credentials"}, True, id="machine"),
    # A user whose id merely ends in "@clients" is no machine: Auth0 marks machines with gty.
    pytest.param(machine_tokens_only(), {"sub": "auth0|eve@clients"}, False, id="machine-by-subject-alone"),
    pytest.param(user_tokens_only(), {"sub": "auth0|eve@clients"}, True, id="user-ending-in-clients"),
    pytest.param(user_tokens_only(), {"sub": "c@clients", "gty": "client-credentials"}, False, id="user-not-machine"),
    pytest.param(never_delegated(), {"sub": "u"}, True, id="never-delegated"),
    pytest.param(actor_in("agent"), {"sub": "u", "act": {"sub": "agent"}}, True, id="actor-in"),
    pytest.param(delegation_within("agent"), {"sub": "u", "act": {"sub": "agent"}}, True, id="delegation-within"),
    pytest.param(acting_for_user(), {"sub": "auth0|u", "act": {"sub": "agent"}}, True, id="acting-for-user"),
]


@pytest.mark.parametrize(("rule", "claims", "passes"), EVERY_RULE)
@pytest.mark.parametrize("frozen", [True, False], ids=["frozen", "plain"])
def test_every_rule_compares_json_kinds_on_frozen_and_plain_claims(
    rule: Rule, claims: dict[str, Any], passes: bool, frozen: bool
) -> None:
    shaped = json.loads(json.dumps(claims), object_pairs_hook=frozen_object) if frozen else claims
    if frozen:
        assert all(type(v) is not list for v in shaped.values())  # the arrays really are frozen
    user = Auth0User(shaped)
    if passes:
        rule.enforce(user)
    else:
        with pytest.raises(InsufficientScopeError):
            rule.enforce(user)


async def test_claim_equals_with_an_array_accepts_a_real_verified_token(issuer: LocalIssuer) -> None:
    async with asgi_client(_app(issuer, rules={"/api/admin": [claim_equals("roles", ["admin"])]})) as client:
        admin = await client.get("/api/admin/x", headers=_bearer(issuer.token(roles=["admin"])))
        other = await client.get("/api/admin/x", headers=_bearer(issuer.token(roles=["user"])))
    assert (admin.status_code, admin.json()) == (200, {"sub": "local-client@clients"})
    assert (other.status_code, other.json()) == (403, FORBIDDEN)
