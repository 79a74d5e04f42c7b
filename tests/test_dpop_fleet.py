"""DPoP across a fleet and around the edges: replays on one worker and across two uvicorn servers
sharing a real Redis, Redis going away and coming back, the mode matrix, the origin rule
(Host and X-Forwarded-Host spoofing, configured origins, trusted proxies), root_path, websockets,
and the verified-token cache never weakening the proof or binding checks.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, Final

import httpx
import pytest
import redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from auth0_asgi import Auth0Middleware, Auth0Settings
from auth0_asgi.testing import DPoPKey, LocalIssuer

from .conftest import JWKSServer, RedisServer, _rsa_private, asgi_client, serve_with_uvicorn

REALM: Final = "https://api.auth0-asgi.test"
BEARER: Final = f'Bearer realm="{REALM}"'
DPOP: Final = f'DPoP realm="{REALM}", algs="ES256"'
REPLAYED: Final = {"detail": "The DPoP proof was already used", "error": "invalid_dpop_proof"}
REPLAYED_CHALLENGE: Final = [
    BEARER,
    f'DPoP realm="{REALM}", error="invalid_dpop_proof", error_description="The DPoP proof was already used", '
    'algs="ES256"',
]
BAD_PROOF: Final = {"detail": "The DPoP proof is invalid", "error": "invalid_dpop_proof"}
BAD_PROOF_CHALLENGE: Final = [
    BEARER,
    f'DPoP realm="{REALM}", error="invalid_dpop_proof", error_description="The DPoP proof is invalid", algs="ES256"',
]


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer(private_key=_rsa_private(0))


async def _me(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.identity, "jkt": request.user.proof_key_thumbprint})


async def _ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"jkt": websocket.user.proof_key_thumbprint})
    await websocket.close()


def _app() -> Starlette:
    return Starlette(routes=[Route("/api/private", _me, methods=["GET", "POST"]), WebSocketRoute("/api/ws", _ws)])


def _middleware(issuer: LocalIssuer, **settings: Any) -> Auth0Middleware:
    return Auth0Middleware(_app(), settings=issuer.settings(**settings), keys=issuer, protected_prefixes=["/api"])


def _dpop_headers(key: DPoPKey, token: str, url: str, method: str = "GET", **claims: Any) -> dict[str, str]:
    return {"Authorization": f"DPoP {token}", "DPoP": key.proof(method, url, access_token=token, **claims)}


# --- replays ----------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])  # the in-process store on both
async def test_a_replayed_proof_is_refused_on_the_same_worker(issuer: LocalIssuer, anyio_backend: str) -> None:
    key = DPoPKey()
    token = issuer.dpop_token(key)
    headers = _dpop_headers(key, token, "http://testserver/api/private")
    async with asgi_client(_middleware(issuer)) as client:
        first = await client.get("/api/private", headers=headers)
        again = await client.get("/api/private", headers=headers)
        fresh = await client.get("/api/private", headers=_dpop_headers(key, token, "http://testserver/api/private"))
    assert (first.status_code, first.json()) == (200, {"sub": "local-client@clients", "jkt": key.thumbprint})
    assert (again.status_code, again.json()) == (401, REPLAYED)
    assert again.headers.get_list("www-authenticate") == REPLAYED_CHALLENGE
    assert fresh.status_code == 200  # the same token with a new proof: a new jti


@pytest.mark.anyio
async def test_a_refused_request_spends_no_jti(issuer: LocalIssuer) -> None:
    # The replay record comes last: a proof refused for another reason (here a missing scope)
    # can still be used once the request is right, and a wrong token never burns a proof.
    key = DPoPKey()
    token = issuer.dpop_token(key, scope="read:x")
    headers = _dpop_headers(key, token, "http://testserver/api/private")
    scoped = Auth0Middleware(
        _app(),
        settings=issuer.settings(),
        keys=issuer,
        protected_prefixes=["/api"],
        required_scopes={"/api": ["write:x"]},
    )
    async with asgi_client(scoped) as client:
        assert (await client.get("/api/private", headers=headers)).status_code == 403
    async with asgi_client(_middleware(issuer)) as client:
        assert (await client.get("/api/private", headers=headers)).status_code == 200


def test_replay_protection_on_redis_holds_across_two_uvicorn_servers(issuer: LocalIssuer, redis_url: str) -> None:
    key = DPoPKey()
    token = issuer.dpop_token(key)
    with contextlib.ExitStack() as stack:
        urls = [stack.enter_context(serve_with_uvicorn(_middleware(issuer, dpop_replay_url=redis_url))) for _ in "ab"]
        proof = _dpop_headers(key, token, f"{urls[0]}/api/private")
        first = httpx.get(f"{urls[0]}/api/private", headers=proof)
        # The same proof names server A; sent to B with A's Host, as a proxy in front of both would.
        replayed = httpx.get(f"{urls[1]}/api/private", headers={**proof, "Host": urls[0].removeprefix("http://")})
        again_on_a = httpx.get(f"{urls[0]}/api/private", headers=proof)
    assert first.status_code == 200
    assert (replayed.status_code, replayed.json()) == (401, REPLAYED)
    assert replayed.headers.get_list("www-authenticate") == REPLAYED_CHALLENGE
    assert again_on_a.status_code == 401


def test_without_a_shared_store_each_worker_remembers_only_its_own_proofs(issuer: LocalIssuer) -> None:
    # What the start-up log line warns about: the per-process default does not see another
    # worker's proofs. (The assertion documents the limit; the fix is AUTH0_DPOP_REPLAY_URL.)
    key = DPoPKey()
    token = issuer.dpop_token(key)
    with serve_with_uvicorn(_middleware(issuer)) as a, serve_with_uvicorn(_middleware(issuer)) as b:
        proof = _dpop_headers(key, token, f"{a}/api/private")
        assert httpx.get(f"{a}/api/private", headers=proof).status_code == 200
        crossed = httpx.get(f"{b}/api/private", headers={**proof, "Host": a.removeprefix("http://")})
        assert crossed.status_code == 200
        assert httpx.get(f"{a}/api/private", headers=proof).status_code == 401


@contextlib.contextmanager
def _on_redis(issuer: LocalIssuer, server: RedisServer) -> Iterator[tuple[Callable[..., httpx.Response], str]]:
    """A uvicorn server whose replay store is `server`; yields a sender of fresh DPoP requests and
    the URL they go to, after one has gone through (so the store's connection is open)."""
    key = DPoPKey()
    token = issuer.dpop_token(key)
    with serve_with_uvicorn(_middleware(issuer, dpop_replay_url=server.url)) as url:
        target = f"{url}/api/private"

        def send(**options: Any) -> httpx.Response:
            return httpx.get(target, headers=_dpop_headers(key, token, target), **options)

        assert send().status_code == 200
        yield send, target


def test_redis_stopped_mid_run_gives_503_and_recovers_on_restart(
    issuer: LocalIssuer, own_redis_server: RedisServer
) -> None:
    with _on_redis(issuer, own_redis_server) as (send, target):
        own_redis_server.stop()
        down = send(timeout=10)
        bearer = httpx.get(target, headers={"Authorization": f"Bearer {issuer.token()}"})
        own_redis_server.start()
        recovered = send()
    assert down.status_code == 503
    assert down.json() == {
        "detail": "DPoP replay protection is temporarily unavailable",
        "error": "temporarily_unavailable",
    }
    assert down.headers["retry-after"] == "1"
    assert "www-authenticate" not in down.headers
    assert bearer.status_code == 200  # Bearer requests never touch the replay store
    assert recovered.status_code == 200


def test_the_start_up_log_says_when_replay_protection_is_per_process(
    issuer: LocalIssuer, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="auth0_asgi")
    with serve_with_uvicorn(_middleware(issuer)):
        pass
    with serve_with_uvicorn(_middleware(issuer, dpop_replay_url=redis_url)):
        pass
    with serve_with_uvicorn(_middleware(issuer, dpop="disabled")):
        pass
    per_process = [record for record in caplog.records if "replay protection is per process" in record.getMessage()]
    assert len(per_process) == 1


@pytest.mark.anyio
async def test_a_proof_past_its_window_is_refused_as_too_old(issuer: LocalIssuer) -> None:
    key = DPoPKey()
    token = issuer.dpop_token(key)
    headers = _dpop_headers(key, token, "http://testserver/api/private", iat=int(time.time()) - 2)
    async with asgi_client(_middleware(issuer, dpop_max_age=1.0)) as client:
        late = await client.get("/api/private", headers=headers)
    assert (late.status_code, late.json()) == (401, BAD_PROOF)


# --- modes ------------------------------------------------------------------------------------

MODE_ROWS: Final[list[Any]] = [
    # mode, what is sent, status, WWW-Authenticate fields
    pytest.param("allowed", "nothing", 401, [BEARER, DPOP], id="allowed-nothing"),
    pytest.param("allowed", "bearer", 200, [], id="allowed-bearer"),
    pytest.param("allowed", "dpop", 200, [], id="allowed-dpop"),
    pytest.param("required", "nothing", 401, [DPOP], id="required-nothing"),
    pytest.param("required", "bearer", 401, [DPOP], id="required-bearer-is-no-credentials"),
    pytest.param("required", "dpop", 200, [], id="required-dpop"),
    pytest.param("disabled", "nothing", 401, [BEARER], id="disabled-nothing"),
    pytest.param("disabled", "bearer", 200, [], id="disabled-bearer"),
    pytest.param("disabled", "dpop", 401, [BEARER], id="disabled-dpop-is-no-credentials"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("mode", "sent", "status", "challenges"), MODE_ROWS)
async def test_mode_matrix(issuer: LocalIssuer, mode: str, sent: str, status: int, challenges: list[str]) -> None:
    key = DPoPKey()
    headers = {
        "nothing": {},
        "bearer": {"Authorization": f"Bearer {issuer.token()}"},
        "dpop": _dpop_headers(key, issuer.dpop_token(key), "http://testserver/api/private"),
    }[sent]
    async with asgi_client(_middleware(issuer, dpop=mode)) as client:
        response = await client.get("/api/private", headers=headers)
    assert response.status_code == status
    assert response.headers.get_list("www-authenticate") == challenges
    if status == 401:
        assert response.json() == {"detail": "Not authenticated"}


@pytest.mark.anyio
async def test_the_challenge_lists_every_allowed_proof_algorithm(issuer: LocalIssuer) -> None:
    async with asgi_client(_middleware(issuer, dpop_algorithms=("ES256", "EdDSA", "PS256"))) as client:
        response = await client.get("/api/private")
    assert response.headers.get_list("www-authenticate") == [BEARER, f'DPoP realm="{REALM}", algs="ES256 EdDSA PS256"']


# --- the cache never weakens the proof -------------------------------------------------------


@pytest.mark.anyio
async def test_a_bound_token_stays_refused_as_bearer_after_it_was_cached_via_dpop(issuer: LocalIssuer) -> None:
    key = DPoPKey()
    token = issuer.dpop_token(key)
    middleware = _middleware(issuer)
    async with asgi_client(middleware) as client:
        dpop = await client.get("/api/private", headers=_dpop_headers(key, token, "http://testserver/api/private"))
        assert len(middleware.verifier._cache) == 1  # the token is now cached
        as_bearer = await client.get("/api/private", headers={"Authorization": f"Bearer {token}"})
        other_key = DPoPKey()
        wrong_key = await client.get(
            "/api/private", headers=_dpop_headers(other_key, token, "http://testserver/api/private")
        )
        garbage = await client.get("/api/private", headers={"Authorization": f"DPoP {token}", "DPoP": "x.y.z"})
    assert dpop.status_code == 200
    assert (as_bearer.status_code, as_bearer.json()["error"]) == (401, "invalid_token")
    assert as_bearer.json()["detail"] == "The access token is bound to a key and cannot be used as a bearer token"
    assert (wrong_key.status_code, wrong_key.json()["detail"]) == (
        401,
        "The access token is not bound to the DPoP proof key",
    )
    assert (garbage.status_code, garbage.json()) == (401, BAD_PROOF)


@pytest.mark.anyio
async def test_a_garbage_proof_never_causes_a_key_fetch(jwks_server: JWKSServer) -> None:
    # The token names an unknown kid, which would make the cache refetch: the proof is refused first.
    settings = Auth0Settings(
        domain="tenant.example.test", audience=("https://api.example.test",), jwks_url=jwks_server.url
    )
    middleware = Auth0Middleware(_app(), settings=settings, protected_prefixes=["/api"])
    unknown = LocalIssuer(issuer=settings.issuer, audience="https://api.example.test", private_key=_rsa_private(0))
    key = DPoPKey()
    token = unknown.dpop_token(key)
    async with asgi_client(middleware) as client:
        for proof in ("garbage", "a.b.c", key.proof("GET", "http://elsewhere/api/private", access_token=token)):
            response = await client.get("/api/private", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
            assert (response.status_code, response.json()) == (401, BAD_PROOF)
    assert jwks_server.count == 0


# --- origins ----------------------------------------------------------------------------------


def _get(url: str, key: DPoPKey, token: str, htu: str, **headers: str) -> httpx.Response:
    return httpx.get(url, headers={**_dpop_headers(key, token, htu), **headers})


def test_without_configured_origins_the_host_header_names_the_origin(issuer: LocalIssuer) -> None:
    key = DPoPKey()
    token = issuer.dpop_token(key)
    with serve_with_uvicorn(_middleware(issuer)) as url:
        spoofed = _get(f"{url}/api/private", key, token, "http://api.example.com/api/private", Host="api.example.com")
        forwarded = _get(
            f"{url}/api/private",
            key,
            token,
            "https://api.example.com/api/private",
            **{"X-Forwarded-Host": "api.example.com", "X-Forwarded-Proto": "https"},
        )
    # A proof for whatever Host the client sent passes (the client signed it for that URL)...
    assert spoofed.status_code == 200
    # ...but forwarding headers from an untrusted peer are never read.
    assert (forwarded.status_code, forwarded.json()) == (401, BAD_PROOF)


def test_configured_origins_decide_and_no_header_can_change_them(issuer: LocalIssuer) -> None:
    key = DPoPKey()
    token = issuer.dpop_token(key)
    middleware = _middleware(issuer, dpop_origins=("https://API.example.com:443",))
    with serve_with_uvicorn(middleware) as url:
        target = f"{url}/api/private"
        public = _get(target, key, token, "https://api.example.com/api/private")
        spoofed_host = _get(target, key, token, "https://evil.example/api/private", Host="evil.example")
        local = _get(target, key, token, f"{url}/api/private")
        forwarded = _get(target, key, token, "https://evil.example/api/private", **{"X-Forwarded-Host": "evil.example"})
        other_path = _get(target, key, token, "https://api.example.com/api/other")
    assert public.status_code == 200
    for refused in (spoofed_host, local, forwarded, other_path):
        assert (refused.status_code, refused.json()) == (401, BAD_PROOF)


@pytest.mark.parametrize(
    ("headers", "htu", "status"),
    [
        pytest.param(
            {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com"},
            "https://api.example.com/api/private",
            200,
            id="x-forwarded",
        ),
        pytest.param(
            {"X-Forwarded-Host": "evil.example, api.example.com"},
            "http://api.example.com/api/private",
            200,
            id="x-forwarded-last-value-is-the-proxys",
        ),
        pytest.param(
            {"X-Forwarded-Host": "evil.example, api.example.com"},
            "http://evil.example/api/private",
            401,
            id="x-forwarded-earlier-value-is-the-clients",
        ),
        pytest.param(
            {"Forwarded": 'for=1.2.3.4;proto=http;host="evil.example", for=5.6.7.8;proto=https;host=api.example.com'},
            "https://api.example.com/api/private",
            200,
            id="forwarded-last-element",
        ),
        # One family or the other: with both, a client may have sent the one the proxy does not
        # write, so neither is trusted (the review found the client's Forwarded preferred).
        pytest.param(
            {"Forwarded": "proto=https;host=api.example.com", "X-Forwarded-Host": "evil.example"},
            "https://api.example.com/api/private",
            401,
            id="both-families-are-ambiguous",
        ),
        pytest.param(
            {"Forwarded": "proto=https;host=api.example.com", "X-Forwarded-Host": "evil.example"},
            "http://evil.example/api/private",
            401,
            id="both-families-are-ambiguous-either-way",
        ),
    ],
)
def test_forwarding_headers_are_read_from_trusted_proxies_only(
    issuer: LocalIssuer, headers: dict[str, str], htu: str, status: int
) -> None:
    key = DPoPKey()
    token = issuer.dpop_token(key)
    with serve_with_uvicorn(_middleware(issuer, dpop_trusted_proxies=("127.0.0.0/8",))) as url:
        response = _get(f"{url}/api/private", key, token, htu, **headers)
    assert response.status_code == status
    if status == 401:
        assert response.json() == BAD_PROOF


def test_htu_includes_the_root_path(issuer: LocalIssuer) -> None:
    key = DPoPKey()
    token = issuer.dpop_token(key)
    with serve_with_uvicorn(_middleware(issuer), root_path="/base") as url:
        with_root = _get(f"{url}/api/private", key, token, f"{url}/base/api/private")
        without_root = _get(f"{url}/api/private", key, token, f"{url}/api/private")
    assert with_root.status_code == 200
    assert (without_root.status_code, without_root.json()) == (401, BAD_PROOF)


# --- websockets -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_websocket_handshake_with_dpop_is_accepted_once(issuer: LocalIssuer) -> None:
    key = DPoPKey()
    token = issuer.dpop_token(key)
    with serve_with_uvicorn(_middleware(issuer)) as url:
        ws_url = url.replace("http://", "ws://") + "/api/ws"
        # ws:// reads as http:// (the handshake is an HTTP GET to that URL).
        headers = _dpop_headers(key, token, ws_url)
        async with connect(ws_url, additional_headers=headers) as websocket:
            assert await websocket.recv() == f'{{"jkt":"{key.thumbprint}"}}'
        with pytest.raises(InvalidStatus) as replayed:
            async with connect(ws_url, additional_headers=headers):
                pass  # pragma: no cover - the handshake is refused
        http_spelling = _dpop_headers(key, token, url + "/api/ws")
        async with connect(ws_url, additional_headers=http_spelling) as websocket:
            assert await websocket.recv() == f'{{"jkt":"{key.thumbprint}"}}'
    assert replayed.value.response.status_code == 401
    assert replayed.value.response.headers.get_all("WWW-Authenticate") == REPLAYED_CHALLENGE


def _command_calls(client: Any) -> dict[str, int]:
    """Redis's own count of each command it ran (INFO commandstats)."""
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


def test_the_redis_store_costs_one_set_per_proof_and_nothing_else(
    issuer: LocalIssuer, own_redis_server: RedisServer
) -> None:
    with _on_redis(issuer, own_redis_server) as (send, target):
        # One side connection, opened (and its own set-up commands run) before counting starts.
        side = redis.Redis.from_url(own_redis_server.url)
        try:
            before = _command_calls(side)
            statuses = [send().status_code for _ in range(20)]
            bearer = httpx.get(target, headers={"Authorization": f"Bearer {issuer.token()}"})
            after = _command_calls(side)
        finally:
            side.close()
    assert statuses == [200] * 20
    assert bearer.status_code == 200
    spent = {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name, 0)}
    # The second INFO is the only other command Redis saw: no reads, no reconnects.
    assert spent == {"set": 20, "info": 1}


@pytest.mark.anyio
async def test_a_replay_store_passed_in_is_left_open_for_its_owner(issuer: LocalIssuer, redis_url: str) -> None:
    from auth0_asgi.redis import RedisReplayStore

    store = RedisReplayStore.from_url(redis_url, prefix=f"owner-{time.monotonic_ns()}:")
    key = DPoPKey()
    token = issuer.dpop_token(key)
    try:
        middleware = Auth0Middleware(_app(), settings=issuer.settings(), keys=issuer, replay_store=store)
        async with asgi_client(middleware) as client:  # closes the middleware afterwards
            ok = await client.get("/api/private", headers=_dpop_headers(key, token, "http://testserver/api/private"))
        assert ok.status_code == 200
        assert await store.first_use("still-open", time.time() + 60) is True
    finally:
        await store.aclose()


# --- the trusted-proxy rule under uvicorn's own proxy handling ----------------------------------


def _through(url: str, key: DPoPKey, token: str, htu: str, headers: list[tuple[str, str]]) -> httpx.Response:
    pairs = [*_dpop_headers(key, token, htu).items(), *headers]
    return httpx.get(url, headers=[(name.encode(), value.encode("latin-1")) for name, value in pairs])


@pytest.mark.parametrize(
    ("uvicorn_options", "headers", "htu", "status"),
    [
        pytest.param(
            {"proxy_headers": False},
            [("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-Host", "api.example.com")],
            "http://api.example.com/api/private",
            200,
            id="no-proxy-headers-the-peer-is-the-proxy",
        ),
        pytest.param(
            {"proxy_headers": False},
            [("X-Forwarded-Host", "evil.example"), ("X-Forwarded-Host", "api.example.com")],
            "http://api.example.com/api/private",
            200,
            id="the-last-line-is-the-nearest-proxys",
        ),
        pytest.param(
            {"proxy_headers": False},
            [("X-Forwarded-Host", "evil.example"), ("X-Forwarded-Host", "api.example.com")],
            "http://evil.example/api/private",
            401,
            id="the-first-line-is-the-clients",
        ),
        # uvicorn's default: it trusts 127.0.0.1 and rewrites the peer to the client's address, so
        # the proxy is hidden and nothing it wrote is read: the Host header names the origin.
        pytest.param(
            {},
            [("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-Host", "api.example.com")],
            "http://api.example.com/api/private",
            401,
            id="uvicorn-rewrote-the-peer-so-no-proxy-is-trusted",
        ),
        # A client that names a trusted proxy in X-Forwarded-For, to a uvicorn trusting everyone:
        # the peer uvicorn reports is taken from that header, so it is not trusted.
        pytest.param(
            {"forwarded_allow_ips": "*"},
            [("X-Forwarded-For", "127.0.0.1"), ("X-Forwarded-Host", "evil.example")],
            "http://evil.example/api/private",
            401,
            id="a-spoofed-peer-is-not-trusted",
        ),
        pytest.param(
            {"forwarded_allow_ips": "*"},
            [("X-Forwarded-For", "127.0.0.1"), ("X-Forwarded-Proto", "https")],
            "https://127.0.0.1/api/private",
            401,
            id="a-spoofed-peer-changes-no-origin",
        ),
        # uvicorn parses the item ("127.0.0.1" with a port, or after a non-breaking space): so must we.
        pytest.param(
            {"forwarded_allow_ips": "*"},
            [("X-Forwarded-For", "127.0.0.1:1"), ("X-Forwarded-Host", "evil.example")],
            "http://evil.example/api/private",
            401,
            id="a-spoofed-peer-with-a-port-is-not-trusted",
        ),
        pytest.param(
            {"forwarded_allow_ips": "*"},
            [("X-Forwarded-For", "127.0.0.1\xa0"), ("X-Forwarded-Host", "evil.example")],
            "http://evil.example/api/private",
            401,
            id="a-spoofed-peer-with-unicode-whitespace-is-not-trusted",
        ),
    ],
)
def test_forwarding_headers_under_uvicorns_proxy_handling(
    issuer: LocalIssuer, uvicorn_options: dict[str, Any], headers: list[tuple[str, str]], htu: str, status: int
) -> None:
    key = DPoPKey()
    token = issuer.dpop_token(key)
    app = _middleware(issuer, dpop_trusted_proxies=("127.0.0.1",))
    with serve_with_uvicorn(app, **uvicorn_options) as url:
        response = _through(f"{url}/api/private", key, token, htu, headers)
    assert response.status_code == status, response.text
    if status == 401:
        assert response.json() == BAD_PROOF


def test_under_uvicorns_proxy_handling_the_host_header_still_names_the_origin(issuer: LocalIssuer) -> None:
    key = DPoPKey()
    token = issuer.dpop_token(key)
    app = _middleware(issuer, dpop_trusted_proxies=("127.0.0.1",))
    with serve_with_uvicorn(app) as url:
        port = url.rsplit(":", 1)[1]
        # uvicorn took the scheme from X-Forwarded-Proto (it trusts 127.0.0.1): https, with our Host.
        response = _through(
            f"{url}/api/private",
            key,
            token,
            f"https://127.0.0.1:{port}/api/private",
            [("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-Proto", "https")],
        )
    assert response.status_code == 200, response.text
