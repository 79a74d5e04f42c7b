"""In-process cost of Auth0Middleware against the bare app, the raw signature check and peers.

    python bench/overhead.py            # full run, a minute or two
    python bench/overhead.py --smoke    # a few iterations: checks the harness runs, not its timings

F is the floor: one cryptography RSA-2048 PKCS1v15-SHA256 verify of a token's signing input.
P is the DPoP floor: one cryptography ECDSA P-256 verify of a proof's signing input (ES256).
Every DPoP request carries a new proof (made before timing starts), as real clients send.
Every app is driven as a raw ASGI call on one event loop (no sockets), so each row is the
app's own cost. All rows are measured interleaved, round after round, and each row reports
its median: compare the ratios, not the lone times (shared machines are noisy).

"added (F)" is the row's cost above the bare app it wraps, in units of F; "x bare" is the
row's cost over that bare app's. Key-set fetches are counted at the loopback HTTPS tenant
during the measured rounds. Peers are measured when installed (bench/requirements-peers.txt).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import apps
import jwt
from _keyserver import AUDIENCE, Tenant
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from auth0_asgi.testing import DPoPKey, client_certificate, proxy_header

Operation = Callable[[], Awaitable[Any]]

BARE_PUBLIC = "bare Starlette, /api/public"
BARE_PRIVATE = "bare Starlette, /api/private"
BARE_FASTAPI = "bare FastAPI, /api/private"
BARE_IN_SPAN = "bare Starlette in a span, /api/private"
REUSED = "ours, reused token"


DPOP_URL = "http://bench/api/private"
F_NAME = "F: RSA-2048 verify (cryptography)"
P_NAME = "P: ES256 proof verify (cryptography)"


class WithCertificate(NamedTuple):
    """A Bearer token and the RFC 9440 Client-Cert header a TLS-terminating proxy adds."""

    token: str
    client_cert: str


def http_scope(path: str, token: str | tuple[str, str] | WithCertificate | None) -> dict[str, Any]:
    """A request with a Bearer `token`, a DPoP (token, proof) pair, or a token and its certificate."""
    headers = [(b"host", b"bench"), (b"user-agent", b"bench"), (b"accept", b"*/*")]
    if isinstance(token, WithCertificate):
        headers.append((b"authorization", f"Bearer {token.token}".encode()))
        headers.append((b"client-cert", token.client_cert.encode()))
    elif isinstance(token, tuple):
        headers.append((b"authorization", f"DPoP {token[0]}".encode()))
        headers.append((b"dpop", token[1].encode()))
    elif token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "state": {},
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def asgi_call(
    app: Any, path: str, tokens: Callable[[], str | tuple[str, str] | WithCertificate | None] = lambda: None
) -> Operation:
    """One request to `app` per call; `tokens` gives each request's token. Returns the status."""

    async def call() -> int:
        status = 0

        async def send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(http_scope(path, tokens()), _receive, send)
        return status

    return call


@dataclass
class Case:
    name: str
    operation: Operation
    base: str | None = None  # the bare app row this one wraps
    expect: int | None = 200
    memory: bool = False  # also measure memory per 10k requests
    samples: list[float] | None = None
    iterations: int = 0
    fetches: int = 0
    ops: int = 0


async def per_op_us(operation: Operation, iterations: int) -> float:
    start = time.perf_counter()
    for _ in range(iterations):
        await operation()
    return (time.perf_counter() - start) / iterations * 1e6


async def memory_per(operation: Operation, requests: int) -> tuple[float, float]:
    """Peak and retained KiB (tracemalloc) over `requests` calls, scaled to 10k requests."""
    gc.collect()
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    for _ in range(requests):
        await operation()
    gc.collect()
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    scale = 10_000 / requests
    return (peak - before) / 1024 * scale, (after - before) / 1024 * scale


def cycling(tokens: list[str]) -> Callable[[], str]:
    pool = itertools.cycle(tokens)
    return lambda: next(pool)


def once_each(pairs: list[tuple[str, str]]) -> Callable[[], tuple[str, str]]:
    """Each (token, proof) pair once: a proof used twice would be a replay."""
    pool = iter(pairs)

    def take() -> tuple[str, str]:
        try:
            return next(pool)
        except StopIteration:
            raise SystemExit("the DPoP proof pool ran out: raise PROOFS_PER_ROW") from None

    return take


def dpop_pairs(key: DPoPKey, tokens: list[str], count: int) -> list[tuple[str, str]]:
    return [
        (token, key.proof("GET", DPOP_URL, access_token=token))
        for token in itertools.islice(itertools.cycle(tokens), count)
    ]


def start_redis() -> tuple[subprocess.Popen[bytes], str] | None:
    """A loopback redis-server for the Redis rows, if one is installed (the test extra ships one)."""
    beside = os.path.join(os.path.dirname(sys.executable), "redis-server")
    binary = beside if os.path.exists(beside) else shutil.which("redis-server")
    if binary is None:
        return None
    port = 16379 + os.getpid() % 1000
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.3)
    return process, f"redis://127.0.0.1:{port}/0"


def observer_cases(tenant: Tenant, cache_size: int, reused: Callable[[], str]) -> tuple[list[Case], list[Any]]:
    """The observer rows: a do-nothing observer, and OpenTelemetry's with its SDK (when installed,
    as the test extra does), plain and inside a recording span."""
    noop = apps.ours_observed(tenant, apps.DoNothing(), token_cache_size=cache_size)
    cases = [Case("ours, do-nothing observer, reused token", asgi_call(noop, "/api/private", reused), BARE_PRIVATE)]
    try:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider

        from auth0_asgi.otel import OpenTelemetryObserver
    except ImportError:
        print("opentelemetry-sdk not installed: the OpenTelemetry rows are left out")
        return cases, [noop]
    # As an application configures it: metrics read in memory; spans recorded and dropped (no
    # processor exports them), so that only the recording is timed.
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    tracer = TracerProvider().get_tracer("bench")
    otel = apps.ours_observed(tenant, OpenTelemetryObserver(meter_provider=meter_provider), token_cache_size=cache_size)
    in_span = apps.ours_observed(
        tenant, OpenTelemetryObserver(meter_provider=meter_provider), token_cache_size=cache_size
    )
    cases += [
        Case("ours, OTel observer, reused token", asgi_call(otel, "/api/private", reused), BARE_PRIVATE),
        Case(BARE_IN_SPAN, asgi_call(apps.in_a_span(apps.bare_starlette(), tracer), "/api/private", reused)),
        Case(
            "ours, OTel observer in a span, reused token",
            asgi_call(apps.in_a_span(in_span, tracer), "/api/private", reused),
            BARE_IN_SPAN,
        ),
    ]
    return cases, [noop, otel, in_span]


async def build_cases(
    tenant: Tenant, cache_size: int, new_tokens: int, proofs_per_row: int, redis_url: str | None
) -> tuple[list[Case], list[Any], list[str]]:
    token = tenant.token()
    signing_input, signature_segment = token.rsplit(".", 1)
    signature = jwt.utils.base64url_decode(signature_segment)
    public_key = tenant.key.public_key()
    # More distinct tokens than the cache holds, used in turn: every request is a miss.
    fresh = cycling([tenant.token(jti=str(n)) for n in range(new_tokens)])
    # A pool of its own per new-token row: two rows drawing in turn from one pool would each
    # see only half of it, few enough distinct tokens to hit the cache.
    fresh_for_two_issuers = cycling([tenant.token(jti=f"two-{n}") for n in range(new_tokens)])

    async def floor() -> None:
        public_key.verify(signature, signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())

    # DPoP: one client key, tokens bound to it; a fresh proof for every request.
    dpop_key = DPoPKey()
    bound = tenant.token(cnf={"jkt": dpop_key.thumbprint})
    bound_fresh = [tenant.token(cnf={"jkt": dpop_key.thumbprint}, jti=f"dpop-{n}") for n in range(new_tokens)]
    proof_head, _, proof_signature = dpop_key.proof("GET", DPOP_URL, access_token=bound).rpartition(".")
    raw = jwt.utils.base64url_decode(proof_signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    proof_public = dpop_key.private_key.public_key()
    assert isinstance(proof_public, ec.EllipticCurvePublicKey)

    async def proof_floor() -> None:
        proof_public.verify(der, proof_head.encode(), ec.ECDSA(hashes.SHA256()))

    async def pyjwt_decode() -> None:
        jwt.decode(token, public_key, algorithms=["RS256"], audience=AUDIENCE, issuer=tenant.issuer)

    def reused() -> str:
        return token

    bare, bare_fastapi = apps.bare_starlette(), apps.bare_fastapi()
    ours = apps.ours(tenant, token_cache_size=cache_size)
    ours_fresh = apps.ours(tenant, token_cache_size=cache_size)
    ours_uncached = apps.ours(tenant, token_cache_size=0)
    ours_fastapi = apps.ours(tenant, app=apps.bare_fastapi(), token_cache_size=cache_size)
    two_issuers = apps.ours_two_issuers(tenant, token_cache_size=cache_size)
    two_issuers_fresh = apps.ours_two_issuers(tenant, token_cache_size=cache_size)
    ours_ruled = apps.ours_with_rules(tenant, token_cache_size=cache_size)
    ours_resource = apps.ours_as_resource(tenant, token_cache_size=cache_size)
    ours_step_up = apps.ours_with_step_up(tenant, token_cache_size=cache_size)
    ours_mtls = apps.ours_with_mtls(tenant, token_cache_size=cache_size)
    certificate = client_certificate()
    certified = WithCertificate(
        tenant.token(cnf={"x5t#S256": certificate.thumbprint}), proxy_header(certificate, "rfc9440")[1]
    )
    stepped_up = tenant.token(acr=apps.STEP_UP_ACR, auth_time=int(time.time()))
    ours_dpop = apps.ours(tenant, token_cache_size=cache_size)
    ours_dpop_fresh = apps.ours(tenant, token_cache_size=cache_size)
    closers = [
        ours,
        ours_fresh,
        ours_uncached,
        ours_fastapi,
        two_issuers,
        two_issuers_fresh,
        ours_dpop,
        ours_dpop_fresh,
        ours_ruled,
        ours_resource,
        ours_step_up,
        ours_mtls,
    ]
    base_http = apps.base_http_middleware_pyjwt(tenant)
    minimal = apps.minimal_asgi_pyjwt(tenant)
    tutorial = apps.tutorial(tenant)
    public, private, fastapi_private = BARE_PUBLIC, BARE_PRIVATE, BARE_FASTAPI
    cases = [
        Case(F_NAME, floor, expect=None),
        Case(P_NAME, proof_floor, expect=None),
        Case("PyJWT decode alone, pre-parsed key", pyjwt_decode, expect=None),
        Case(public, asgi_call(bare, "/api/public"), memory=True),
        Case(private, asgi_call(bare, "/api/private", reused)),
        Case("ours, public route", asgi_call(ours, "/api/public"), public, memory=True),
        Case(REUSED, asgi_call(ours, "/api/private", reused), private, memory=True),
        Case("ours, new token per request", asgi_call(ours_fresh, "/api/private", fresh), private, memory=True),
        Case("ours, token cache disabled", asgi_call(ours_uncached, "/api/private", reused), private),
        Case("ours, no token (401)", asgi_call(ours, "/api/private"), private, expect=401),
        Case("ours, two issuers, reused token", asgi_call(two_issuers, "/api/private", reused), private),
        Case("ours, two rules, reused token", asgi_call(ours_ruled, "/api/private", reused), private),
        Case("ours, protected resource, reused token", asgi_call(ours_resource, "/api/private", reused), private),
        Case("ours, mTLS-bound, reused token", asgi_call(ours_mtls, "/api/private", lambda: certified), private),
        Case(
            "ours, step-up check, reused token",
            asgi_call(ours_step_up, "/api/private", lambda: stepped_up),
            private,
        ),
        Case(
            "ours, two issuers, new token", asgi_call(two_issuers_fresh, "/api/private", fresh_for_two_issuers), private
        ),
        Case(
            "ours, DPoP, reused token",
            asgi_call(ours_dpop, "/api/private", once_each(dpop_pairs(dpop_key, [bound], proofs_per_row))),
            private,
        ),
        Case(
            "ours, DPoP, new token per request",
            asgi_call(ours_dpop_fresh, "/api/private", once_each(dpop_pairs(dpop_key, bound_fresh, proofs_per_row))),
            private,
        ),
        Case("minimal pure-ASGI + PyJWT decode", asgi_call(minimal, "/api/private", reused), private),
        Case("BaseHTTPMiddleware + PyJWT, protected", asgi_call(base_http, "/api/private", reused), private),
        Case("BaseHTTPMiddleware + PyJWT, public", asgi_call(base_http, "/api/public"), public),
        Case(fastapi_private, asgi_call(bare_fastapi, "/api/private", reused)),
        Case("ours on FastAPI, reused token", asgi_call(ours_fastapi, "/api/private", reused), fastapi_private),
        Case(
            "tutorial: PyJWKClient per request",
            asgi_call(tutorial, "/api/private", reused),
            fastapi_private,
        ),
    ]
    observed, observed_apps = observer_cases(tenant, cache_size, reused)
    cases += observed
    closers += observed_apps
    if redis_url is not None:
        from redis.asyncio import Redis

        from auth0_asgi.redis import RedisReplayStore

        ours_redis = apps.ours(tenant, token_cache_size=cache_size, dpop_replay_url=redis_url)
        raw_client = Redis.from_url(redis_url)
        closers.append(ours_redis)
        closers.append(RedisReplayStore(raw_client))
        counter = itertools.count()

        async def redis_round_trip() -> None:
            await raw_client.set(f"bench:{next(counter)}", b"1", nx=True, px=60_000)

        pairs = once_each(dpop_pairs(dpop_key, [bound], proofs_per_row))
        cases.append(Case("Redis SET NX PX alone (redis-py)", redis_round_trip, expect=None))
        cases.append(Case("ours, DPoP on Redis, reused token", asgi_call(ours_redis, "/api/private", pairs), private))
    peers, missing = apps.peer_apps(tenant)
    for name, app in peers.items():
        cases.append(Case(f"peer {name}", asgi_call(app, "/api/private", reused), BARE_FASTAPI))
    return cases, closers, missing


async def main(rounds: int, budget_ms: float, memory_requests: int, cache_size: int, new_tokens: int) -> None:
    tenant = Tenant()
    tenant.trust()
    redis = start_redis()
    # Every DPoP request needs a proof of its own; no row does more than one request per 40 us.
    proofs_per_row = int(rounds * budget_ms * 1000 / 40) + 200 + memory_requests
    cases, closers, missing = await build_cases(
        tenant, cache_size, new_tokens, proofs_per_row, redis[1] if redis is not None else None
    )
    by_name = {case.name: case for case in cases}
    for case in cases:  # each row must do what it claims before it is timed
        result = await case.operation()
        if case.expect is not None and result != case.expect:
            raise SystemExit(f"{case.name}: answered {result}, expected {case.expect}")
    for case in cases:  # warm-up, then aim for about `budget_ms` per row per round
        per_op = await per_op_us(case.operation, 3)
        case.iterations = max(3, min(5000, int(budget_ms * 1000 / max(per_op, 0.1))))
        case.samples = []
    for _ in range(rounds):
        for case in cases:
            fetched = tenant.requests
            assert case.samples is not None
            case.samples.append(await per_op_us(case.operation, case.iterations))
            case.fetches += tenant.requests - fetched
            case.ops += case.iterations

    medians = {case.name: statistics.median(case.samples or [0.0]) for case in cases}
    f = medians[F_NAME]
    print(f"rounds={rounds}; F = {f:.1f} us; token cache size {cache_size}; {new_tokens} distinct new tokens")
    print(f"{'case':44} {'us/op':>9} {'x F':>7} {'added (F)':>10} {'x bare':>7} {'fetches/req':>12}")
    for case in cases:
        value = medians[case.name]
        added = ratio = ""
        if case.base is not None:
            base = medians[by_name[case.base].name]
            added, ratio = f"{(value - base) / f:+.2f}", f"{value / base:.2f}"
        fetches = f"{case.fetches / case.ops:.3f}" if case.expect is not None else ""
        print(f"{case.name:44} {value:9.1f} {value / f:7.2f} {added:>10} {ratio:>7} {fetches:>12}")
    p = medians[P_NAME]
    for name in ("ours, DPoP, reused token", "ours, DPoP on Redis, reused token"):
        if name in medians:
            added = medians[name] - medians[BARE_PRIVATE]
            print(f"{name}: added {added:.1f} us = P + {(added - p) / f:+.2f} F (aim: <= P + 0.50 F)")
    samples = {case.name: case.samples or [0.0] for case in cases}
    # Issue 22's aims, read per round as well: each round's row, less the same round's bare app
    # (and P), in that round's F. A slow phase of a shared machine then moves both sides.
    print("\nadded over the bare app, the median of per-round ratios (issue 22's aims):")
    for name, less_p, aim in (
        (REUSED, False, "<= 0.15 F"),
        ("ours, new token per request", False, "<= 2.00 F"),
        ("ours, DPoP, reused token", True, "<= P + 0.50 F"),
    ):
        rounds_added = [
            (row - bare - (proof if less_p else 0.0)) / floor
            for row, bare, proof, floor in zip(
                samples[name], samples[BARE_PRIVATE], samples[P_NAME], samples[F_NAME], strict=True
            )
        ]
        added = f"{'P ' if less_p else ''}{statistics.median(rounds_added):+.2f} F"
        print(f"  {name:40} {added:>14}  (aim: {aim})")
    # Issue 20's bounds, read as the median of the per-round differences: both rows of a round
    # ran a moment apart, so the machine's drift between rounds cancels out.
    for name in ("ours, mTLS-bound, reused token", "ours, step-up check, reused token"):
        paired = [row - plain for row, plain in zip(samples[name], samples[REUSED], strict=True)]
        print(f"{name}: adds {statistics.median(paired) / f:+.2f} F over {REUSED!r} (aim: <= 0.10 F)")
    if "ours, DPoP on Redis, reused token" in medians:
        extra = medians["ours, DPoP on Redis, reused token"] - medians["ours, DPoP, reused token"]
        trip = medians["Redis SET NX PX alone (redis-py)"]
        print(f"Redis store: adds {extra:.1f} us over the in-process store; one SET NX PX round trip is {trip:.1f} us")
    if redis is None:
        print("no redis-server found: the Redis rows are left out")
    if missing:
        print(f"peers not installed (pip install -r bench/requirements-peers.txt): {', '.join(missing)}")

    print(f"\nmemory per 10k requests (tracemalloc, {memory_requests} requests measured per row)")
    print(f"{'case':40} {'peak KiB':>9} {'retained KiB':>13}")
    for case in cases:
        if case.memory:
            peak, retained = await memory_per(case.operation, memory_requests)
            print(f"{case.name:40} {peak:9.1f} {retained:13.1f}")
    for app in closers:
        await app.aclose()
    tenant.close()
    if redis is not None:
        redis[0].terminate()
        redis[0].wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a few iterations, to check the harness runs")
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--budget-ms", type=float, default=25.0, help="time per row per round")
    parser.add_argument("--memory-requests", type=int, default=10_000)
    args = parser.parse_args()
    if args.smoke:
        asyncio.run(main(rounds=2, budget_ms=1.0, memory_requests=50, cache_size=8, new_tokens=16))
    else:
        asyncio.run(main(args.rounds, args.budget_ms, args.memory_requests, cache_size=1024, new_tokens=2048))
