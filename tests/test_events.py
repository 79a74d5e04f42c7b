"""The event seam: what an observer is told, exactly, for each outcome; and that it can break nothing."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, MutableMapping
from typing import Any, Final

import httpx
import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette

from auth0_asgi import Auth0Middleware, JWKSCache
from auth0_asgi.events import (
    TOKEN_CACHE_HIT,
    TOKEN_CACHE_MISS,
    UNPROTECTED,
    Event,
    KeySetFetched,
    LikelyCause,
    RefreshSuppressed,
    RequestOutcome,
    StaleKeysDropped,
    StaleKeysServed,
    TokenVerified,
)
from auth0_asgi.fastapi import CurrentUser, require_scopes
from auth0_asgi.redis import RedisReplayStore
from auth0_asgi.rules import claim_equals
from auth0_asgi.testing import DPoPKey, LocalIssuer

from .conftest import (
    ISSUER,
    JWKSServer,
    Recorder,
    TokenMaker,
    _rsa_private,
    asgi_client,
    certificate_bound_request,
    demo_routes,
    protect,
)
from .test_jwks import FakeClock

pytestmark = pytest.mark.anyio


def _timeless(event: Event) -> Event:
    """`event` with its measured times zeroed, once they were checked to be plausible."""
    for name in ("duration", "token_age", "stale_for"):
        value = getattr(event, name, None)
        if value is not None:
            assert 0 <= value < 5, (name, event)
            event = event._replace(**{name: 0.0})  # type: ignore[arg-type]  # a time field, by name
    return event


def _seen(recorder: Recorder) -> list[Event]:
    seen = [_timeless(event) for event in recorder.events]
    recorder.events.clear()
    return seen


# --- what one request tells ---------------------------------------------------------------------


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_new_token_then_the_same_token_again(
    jwks_server: JWKSServer, make_token: TokenMaker, anyio_backend: str
) -> None:
    recorder = Recorder()
    token = make_token()
    async with asgi_client(protect(jwks_server, observer=recorder)) as client:
        first = await client.get("/api/private", headers={"Authorization": f"Bearer {token}"})
        first_events = _seen(recorder)
        again = await client.get("/api/private", headers={"Authorization": f"Bearer {token}"})
        again_events = _seen(recorder)
        public = await client.get("/api/public")
    assert (first.status_code, again.status_code, public.status_code) == (200, 200, 200)
    accepted = RequestOutcome("accepted", "accepted", None, None, "bearer", 0.0, 0.0)
    assert first_events == [
        TOKEN_CACHE_MISS,
        KeySetFetched(jwks_server.url, "success", "ok", 0.0, 1, 200, ISSUER),  # the cache knows its issuer
        TokenVerified(0.0, 0.0),
        accepted,
    ]
    assert again_events == [TOKEN_CACHE_HIT, accepted]
    assert recorder.events == [UNPROTECTED]


async def test_the_token_age_is_measured_from_iat(jwks_server: JWKSServer, make_token: TokenMaker) -> None:
    recorder = Recorder()
    token = make_token(iat=int(time.time()) - 120)
    async with asgi_client(protect(jwks_server, observer=recorder)) as client:
        await client.get("/api/private", headers={"Authorization": f"Bearer {token}"})
        await client.get("/api/private", headers={"Authorization": f"Bearer {make_token(iat=None)}"})
    verified = recorder.of(TokenVerified)
    outcomes = recorder.of(RequestOutcome)
    assert 119 <= verified[0].token_age < 123
    assert 119 <= outcomes[0].token_age < 123
    assert (verified[1].token_age, outcomes[1].token_age) == (None, None)


def _refused(reason: str, error: str | None, status: int, scheme: str | None = "bearer") -> RequestOutcome:
    return RequestOutcome("refused", reason, error, status, scheme, 0.0)


REFUSALS: Final[dict[str, tuple[Callable[[TokenMaker], dict[str, str]], RequestOutcome]]] = {
    "no credentials": (lambda make: {}, _refused("missing_token", None, 401, None)),
    "another scheme": (lambda make: {"Authorization": "Basic eDp5"}, _refused("missing_token", None, 401, None)),
    "empty bearer": (
        lambda make: {"Authorization": "Bearer "},
        _refused("malformed_request", "invalid_request", 400),
    ),
    "expired": (
        lambda make: {"Authorization": f"Bearer {make(exp=1_000_000)}"},
        _refused("token_expired", "invalid_token", 401),
    ),
    "wrong audience": (
        lambda make: {"Authorization": f"Bearer {make(aud='https://other.example')}"},
        _refused("wrong_audience", "invalid_token", 401),
    ),
    "untrusted issuer": (
        lambda make: {"Authorization": f"Bearer {make(iss='https://evil.example/')}"},
        _refused("untrusted_issuer", "invalid_token", 401),
    ),
    "bad signature": (
        lambda make: {"Authorization": f"Bearer {make()[:-4]}AAAA"},
        _refused("invalid_signature", "invalid_token", 401),
    ),
    "placeholder": (
        lambda make: {"Authorization": "Bearer undefined"},
        _refused("malformed_token", "invalid_token", 401),
    ),
    "missing scope": (
        lambda make: {"Authorization": f"Bearer {make(scope='other')}"},
        _refused("insufficient_scope", "insufficient_scope", 403),
    ),
    "rule not met": (
        lambda make: {"Authorization": f"Bearer {make(scope='admin', org_id='other')}"},
        _refused("rule_not_met", "insufficient_scope", 403),
    ),
    "bound token as bearer": (
        lambda make: {"Authorization": f"Bearer {make(cnf={'jkt': 'x' * 43})}"},
        _refused("bound_token_as_bearer", "invalid_token", 401),
    ),
    "dpop without proof": (
        lambda make: {"Authorization": f"DPoP {make()}"},
        _refused("malformed_request", "invalid_request", 400, "dpop"),
    ),
}


@pytest.mark.parametrize(("request_headers", "expected"), REFUSALS.values(), ids=REFUSALS.keys())
async def test_each_refusal_is_told_with_its_reason_code(
    jwks_server: JWKSServer,
    make_token: TokenMaker,
    request_headers: Callable[[TokenMaker], dict[str, str]],
    expected: RequestOutcome,
) -> None:
    recorder = Recorder()
    app = protect(
        jwks_server,
        observer=recorder,
        required_scopes={"/api/admin": ["admin"], "/api/private": ["read:messages"]},
        rules={"/api/admin": [claim_equals("org_id", "acme")]},
    )
    path = "/api/admin/x" if expected.reason == "rule_not_met" else "/api/private"
    async with asgi_client(app) as client:
        response = await client.get(path, headers=request_headers(make_token))
    assert response.status_code == expected.status
    outcomes = [_timeless(event) for event in recorder.of(RequestOutcome)]
    assert outcomes == [expected]


async def test_no_event_carries_the_token_or_a_claim_value(jwks_server: JWKSServer, make_token: TokenMaker) -> None:
    # Every refusal and acceptance above, with a marker claim: only iss, azp and sub may show,
    # and only when asked for.
    recorder = Recorder()
    marker = "s3cret-marker"
    tokens = [
        make_token(org=marker),
        make_token(org=marker, exp=1_000_000),
        make_token(org=marker, scope="none"),
        make_token(org=marker, aud=marker),
        make_token(org=marker, azp=marker + "-client"),
    ]
    async with asgi_client(protect(jwks_server, observer=recorder)) as client:
        for token in tokens:
            await client.get("/api/private", headers={"Authorization": f"Bearer {token}"})
            await client.get("/api/private", headers={"Authorization": f"Bearer {token}"})
        await client.get("/api/private", headers={"Authorization": f"Bearer {marker}"})
    assert len(recorder.of(RequestOutcome)) == 11
    for event in recorder.events:
        text = repr(event)
        assert marker not in text
        assert not any(token in text or token.split(".")[1] in text for token in tokens)
        assert "client-42@clients" not in text
        if isinstance(event, RequestOutcome):  # a key set names its configured issuer; a caller, never
            assert ISSUER not in text


async def test_identity_is_told_only_when_asked_for(jwks_server: JWKSServer, make_token: TokenMaker) -> None:
    recorder = Recorder()
    token = make_token(azp="client-42")
    async with asgi_client(protect(jwks_server, observer=recorder, observe_identity=True)) as client:
        await client.get("/api/private", headers={"Authorization": f"Bearer {token}"})
        await client.get("/api/private", headers={"Authorization": f"Bearer {make_token(client_id='c-7')}"})
        await client.get("/api/private", headers={"Authorization": f"Bearer {make_token(azp=['not', 'a', 'str'])}"})
    identities = [(event.issuer, event.client_id, event.subject) for event in recorder.of(RequestOutcome)]
    assert identities == [
        (ISSUER, "client-42", "client-42@clients"),
        (ISSUER, "c-7", "client-42@clients"),
        (ISSUER, None, "client-42@clients"),
    ]


async def test_a_refusal_by_the_app_is_the_one_outcome_told() -> None:
    issuer = LocalIssuer(private_key=_rsa_private(0))
    api = FastAPI()

    @api.get("/api/private/messages", dependencies=[Depends(require_scopes("write:messages"))])
    async def messages() -> dict[str, str]:
        return {}

    recorder = Recorder()
    api.add_middleware(Auth0Middleware, settings=issuer.settings(), keys=issuer, observer=recorder)
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        token = issuer.token(scope="read:messages")
        refused = await client.get("/api/private/messages", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403
    # The middleware had let it in; the dependency refused: one outcome, the refusal, untimed.
    assert recorder.of(RequestOutcome) == [
        RequestOutcome("refused", "insufficient_scope", "insufficient_scope", 403, "bearer")
    ]


async def test_a_caller_the_app_authenticates_outside_the_prefixes_is_told_as_accepted() -> None:
    issuer = LocalIssuer(private_key=_rsa_private(0))
    api = FastAPI()

    @api.get("/api/me")
    async def me(user: CurrentUser) -> dict[str, str]:
        return {"sub": user.identity}

    @api.get("/api/scoped", dependencies=[Depends(require_scopes("write:messages"))])
    async def scoped() -> dict[str, str]:
        return {}

    recorder = Recorder()
    api.add_middleware(
        Auth0Middleware, settings=issuer.settings(), keys=issuer, protected_prefixes=["/x"], observer=recorder
    )
    transport = httpx.ASGITransport(app=api)
    headers = {"Authorization": f"Bearer {issuer.token(scope='read:messages')}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        me_answer = await client.get("/api/me", headers=headers)
        scoped_answer = await client.get("/api/scoped", headers=headers)
        anonymous = await client.get("/api/me")
    assert (me_answer.status_code, scoped_answer.status_code, anonymous.status_code) == (200, 403, 401)
    assert [_timeless(event) for event in recorder.of(RequestOutcome)] == [
        RequestOutcome("accepted", "accepted", None, None, "bearer", 0.0, 0.0),
        RequestOutcome("refused", "insufficient_scope", "insufficient_scope", 403, "bearer"),
        RequestOutcome("refused", "missing_token", None, 401, None),
    ]


async def test_a_websocket_refused_before_accept_is_told_as_403(jwks_server: JWKSServer) -> None:
    recorder = Recorder()
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    app = protect(jwks_server, observer=recorder)
    scope = {"type": "websocket", "path": "/api/private", "headers": [], "query_string": b"", "root_path": ""}
    await app(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]
    assert [_timeless(event) for event in recorder.events] == [_refused("missing_token", None, 403, None)]


async def test_a_likely_cause_is_told_each_time_and_logged_once_a_minute(
    jwks_server: JWKSServer, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    with caplog.at_level(logging.INFO, logger="auth0_asgi"):
        async with asgi_client(protect(jwks_server, observer=recorder)) as client:
            for _ in range(3):
                await client.get("/api/private", headers={"Authorization": "Bearer undefined"})
    assert recorder.of(LikelyCause) == [LikelyCause("placeholder_token")] * 3
    assert caplog.text.count("likely cause (placeholder_token)") == 1


async def test_a_likely_cause_is_told_with_info_logging_off(
    jwks_server: JWKSServer, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    with caplog.at_level(logging.WARNING, logger="auth0_asgi"):
        async with asgi_client(protect(jwks_server, observer=recorder)) as client:
            await client.get("/api/private", headers={"Authorization": "Bearer undefined"})
    assert recorder.of(LikelyCause) == [LikelyCause("placeholder_token")]
    assert "likely cause" not in caplog.text


# --- DPoP and the replay store -----------------------------------------------------------------


def _dpop_app(issuer: LocalIssuer, recorder: Recorder, **options: Any) -> Auth0Middleware:
    return Auth0Middleware(
        Starlette(routes=demo_routes()),
        settings=issuer.settings(),
        keys=issuer,
        protected_prefixes=["/api/private"],
        observer=recorder,
        **options,
    )


async def test_a_replayed_proof_is_told_as_dpop_proof_replayed() -> None:
    issuer = LocalIssuer(private_key=_rsa_private(0))
    key, recorder = DPoPKey(), Recorder()
    token = issuer.dpop_token(key)
    headers = {
        "Authorization": f"DPoP {token}",
        "DPoP": key.proof("GET", "http://testserver/api/private", access_token=token),
    }
    async with asgi_client(_dpop_app(issuer, recorder)) as client:
        first = await client.get("/api/private", headers=headers)
        again = await client.get("/api/private", headers=headers)
    assert (first.status_code, again.status_code) == (200, 401)
    assert [_timeless(event) for event in recorder.of(RequestOutcome)] == [
        RequestOutcome("accepted", "accepted", None, None, "dpop", 0.0, 0.0, binding="dpop"),
        _refused("dpop_proof_replayed", "invalid_dpop_proof", 401, "dpop"),
    ]


async def test_a_certificate_bound_token_is_told_with_the_scheme_the_request_used() -> None:
    # The scheme comes from the request's credentials, never from the claims: a token with `cnf`
    # (here x5t#S256, bound to a client certificate) sent as Bearer is a bearer request, and the
    # binding it proved is the certificate (issue 30).
    recorder = Recorder()
    assert await certificate_bound_request(recorder) == 200
    assert [_timeless(event) for event in recorder.of(RequestOutcome)] == [
        RequestOutcome("accepted", "accepted", None, None, "bearer", 0.0, 0.0, binding="mtls"),
    ]


async def test_an_unreachable_replay_store_is_told_as_replay_store_unavailable() -> None:
    with socket.socket() as closed:  # a port nothing listens on: the connection is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    issuer = LocalIssuer(private_key=_rsa_private(0))
    key, recorder = DPoPKey(), Recorder()
    token = issuer.dpop_token(key)
    store = RedisReplayStore.from_url(f"redis://127.0.0.1:{port}/0")
    headers = {
        "Authorization": f"DPoP {token}",
        "DPoP": key.proof("GET", "http://testserver/api/private", access_token=token),
    }
    try:
        async with asgi_client(_dpop_app(issuer, recorder, replay_store=store)) as client:
            response = await client.get("/api/private", headers=headers)
    finally:
        await store.aclose()
    assert (response.status_code, response.headers["retry-after"]) == (503, "1")
    assert [_timeless(event) for event in recorder.of(RequestOutcome)] == [
        _refused("replay_store_unavailable", "temporarily_unavailable", 503, "dpop")
    ]


# --- the key cache -------------------------------------------------------------------------------


async def test_a_failed_fetch_is_told_with_its_reason_and_status(jwks_server: JWKSServer) -> None:
    recorder = Recorder()
    cache = JWKSCache(jwks_server.url, algorithms=["RS256"], observer=recorder, retry_interval=0)
    try:
        jwks_server.status = 500
        await cache.refresh()
        jwks_server.status, jwks_server.body = 200, b'{"keys": []}'
        await cache.refresh()
        jwks_server.body = b"not json"
        await cache.refresh()
    finally:
        await cache.aclose()
    assert [_timeless(event) for event in recorder.events] == [
        KeySetFetched(jwks_server.url, "failure", "http_status", 0.0, None, 500),
        KeySetFetched(jwks_server.url, "failure", "no_usable_keys", 0.0, None, None),
        KeySetFetched(jwks_server.url, "failure", "invalid_document", 0.0, None, None),
    ]


async def test_an_unreachable_key_server_is_told_as_a_transport_error() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/.well-known/jwks.json"
    recorder = Recorder()
    cache = JWKSCache(url, algorithms=["RS256"], observer=recorder)
    try:
        await cache.refresh()
    finally:
        await cache.aclose()
    assert [_timeless(event) for event in recorder.events] == [
        KeySetFetched(url, "failure", "transport_error", 0.0, None, None)
    ]


async def test_a_hung_key_server_is_told_as_a_timeout(jwks_server: JWKSServer) -> None:
    recorder = Recorder()
    jwks_server.hang = True
    cache = JWKSCache(jwks_server.url, algorithms=["RS256"], observer=recorder, fetch_timeout=0.2)
    try:
        await cache.refresh()
    finally:
        await cache.aclose()
    [fetched] = recorder.events
    assert isinstance(fetched, KeySetFetched)
    assert (fetched.outcome, fetched.reason, fetched.status_code) == ("failure", "timeout", None)
    assert 0.2 <= fetched.duration < 2


async def test_stale_keys_served_then_dropped_are_told(jwks_server: JWKSServer) -> None:
    clock, recorder = FakeClock(), Recorder()
    cache = JWKSCache(
        jwks_server.url, algorithms=["RS256"], observer=recorder, clock=clock, cache_ttl=600, max_stale=3600
    )
    try:
        await cache.get_signing_key("rsa-1")
        jwks_server.status = 500
        clock.advance(700)
        await cache.get_signing_key("rsa-1")  # the refresh fails: stale keys served
        clock.advance(10)
        await cache.get_signing_key("rsa-1")  # after the retry interval, fails again
        clock.advance(3600)
        with pytest.raises(Exception, match="no signing keys"):
            await cache.get_signing_key("rsa-1")
    finally:
        await cache.aclose()
    events = [event for event in recorder.events if not isinstance(event, KeySetFetched)]
    assert events == [
        StaleKeysServed(jwks_server.url, 100.0),
        StaleKeysServed(jwks_server.url, 110.0),
        StaleKeysDropped(jwks_server.url, 3600.0),
    ]
    assert [event.outcome for event in recorder.of(KeySetFetched)] == ["success", "failure", "failure", "failure"]


async def test_an_unknown_kid_refresh_held_back_by_the_cooldown_is_told(jwks_server: JWKSServer) -> None:
    clock, recorder = FakeClock(), Recorder()
    cache = JWKSCache(jwks_server.url, algorithms=["RS256"], observer=recorder, clock=clock, refresh_cooldown=30)
    try:
        for kid in ("made-up-1", "made-up-2", "made-up-3"):
            with pytest.raises(Exception, match="kid"):
                await cache.get_signing_key(kid)
            clock.advance(1)
    finally:
        await cache.aclose()
    # made-up-1 meets the first fetch, made-up-2 gets its one unknown-kid refresh, made-up-3 none.
    assert [_timeless(event) for event in recorder.events] == [
        KeySetFetched(jwks_server.url, "success", "ok", 0.0, 1, 200),
        KeySetFetched(jwks_server.url, "success", "ok", 0.0, 1, 200),
        RefreshSuppressed(jwks_server.url),
    ]


# --- an observer that breaks --------------------------------------------------------------------


class Broken:
    def on_event(self, event: Event) -> None:
        raise RuntimeError("observer bug")


async def test_an_observer_that_raises_changes_no_answer_and_is_logged_once(
    jwks_server: JWKSServer, make_token: TokenMaker, caplog: pytest.LogCaptureFixture
) -> None:
    token = make_token()
    with caplog.at_level(logging.WARNING, logger="auth0_asgi"):
        async with asgi_client(protect(jwks_server, observer=Broken())) as client:
            answers = [
                await client.get("/api/private", headers={"Authorization": f"Bearer {token}"}),
                await client.get("/api/private", headers={"Authorization": f"Bearer {token}"}),
                await client.get("/api/private"),
                await client.get("/api/public"),
            ]
    assert [answer.status_code for answer in answers] == [200, 200, 401, 200]
    assert answers[2].json() == {"detail": "Not authenticated"}
    failures = [record for record in caplog.records if record.getMessage().startswith("observer Broken raised")]
    assert len(failures) == 1
    assert failures[0].getMessage() == "observer Broken raised RuntimeError on TokenCacheLookup; ignored"
    assert failures[0].exc_info is not None


async def test_an_observer_that_raises_in_a_key_fetch_keeps_the_keys(jwks_server: JWKSServer) -> None:
    cache = JWKSCache(jwks_server.url, algorithms=["RS256"], observer=Broken())
    try:
        assert (await cache.get_signing_key("rsa-1")).kid == "rsa-1"
    finally:
        await cache.aclose()
    assert jwks_server.count == 1
