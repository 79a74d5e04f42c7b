"""OpenTelemetryObserver through the OpenTelemetry SDK's in-memory readers: exact metric names,
units, attributes and values, and the attributes and events on the request's span."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.types import ASGIApp, Receive, Scope, Send

from auth0_asgi import JWKSCache
from auth0_asgi.otel import FETCH_BUCKETS, METER_NAME, TOKEN_AGE_BUCKETS, VERIFICATION_BUCKETS, OpenTelemetryObserver

from .conftest import (
    ISSUER,
    JWKSServer,
    TokenMaker,
    asgi_client,
    certificate_bound_request,
    protect,
    serve_with_uvicorn,
)
from .test_jwks import FakeClock

pytestmark = pytest.mark.anyio

Points = dict[frozenset[tuple[str, Any]], Any]


class Metrics:
    """The SDK's in-memory reader, and what it collected, by metric name and attribute set."""

    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(metric_readers=[self.reader])

    def collect(self) -> tuple[dict[str, Points], dict[str, str]]:
        values: dict[str, Points] = {}
        units: dict[str, str] = {}
        data = self.reader.get_metrics_data()
        assert data is not None
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                assert scope.scope.name == METER_NAME
                for metric in scope.metrics:
                    units[metric.name] = metric.unit or ""
                    values[metric.name] = {
                        frozenset((point.attributes or {}).items()): _value(point) for point in metric.data.data_points
                    }
        return values, units


def _value(point: Any) -> Any:
    if hasattr(point, "bucket_counts"):
        return ("histogram", point.count, tuple(point.explicit_bounds))
    return point.value


@pytest.fixture
def sdk() -> Iterator[Metrics]:
    metrics = Metrics()
    yield metrics
    metrics.provider.shutdown()


def _key(**attributes: Any) -> frozenset[tuple[str, Any]]:
    return frozenset((name.replace("__", "."), value) for name, value in attributes.items())


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_the_metrics_of_a_short_run(
    jwks_server: JWKSServer, make_token: TokenMaker, sdk: Metrics, anyio_backend: str
) -> None:
    observer = OpenTelemetryObserver(meter_provider=sdk.provider)
    token = make_token()
    async with asgi_client(protect(jwks_server, observer=observer)) as client:
        for headers in (
            {"Authorization": f"Bearer {token}"},
            {"Authorization": f"Bearer {token}"},
            {"Authorization": f"Bearer {token}"},
            {},
            {"Authorization": f"Bearer {make_token(exp=1_000_000)}"},
            {"Authorization": "Bearer undefined"},
        ):
            await client.get("/api/private", headers=headers)
        await client.get("/api/public")
    values, units = sdk.collect()
    assert values["auth0_asgi.requests"] == {
        _key(auth0_asgi__outcome="accepted", auth0_asgi__reason="accepted", auth0_asgi__scheme="bearer"): 3,
        _key(auth0_asgi__outcome="refused", auth0_asgi__reason="missing_token"): 1,
        _key(
            auth0_asgi__outcome="refused",
            auth0_asgi__reason="token_expired",
            auth0_asgi__scheme="bearer",
            error__type="invalid_token",
        ): 1,
        _key(
            auth0_asgi__outcome="refused",
            auth0_asgi__reason="malformed_token",
            auth0_asgi__scheme="bearer",
            error__type="invalid_token",
        ): 1,
        _key(auth0_asgi__outcome="unprotected", auth0_asgi__reason="unprotected"): 1,
    }
    # The new token and the two refused ones missed; the two reuses hit.
    assert values["auth0_asgi.token_cache.lookups"] == {
        _key(auth0_asgi__token_cache__result="hit"): 2,
        _key(auth0_asgi__token_cache__result="miss"): 3,
    }
    assert values["auth0_asgi.token_cache.hit_ratio"] == {frozenset(): pytest.approx(2 / 5)}
    assert values["auth0_asgi.token.verification.duration"] == {frozenset(): ("histogram", 1, VERIFICATION_BUCKETS)}
    assert values["auth0_asgi.token.age"] == {frozenset(): ("histogram", 1, TOKEN_AGE_BUCKETS)}
    assert values["auth0_asgi.key_set.fetch.duration"] == {
        _key(
            url__full=jwks_server.url,
            auth0_asgi__issuer=ISSUER,
            auth0_asgi__outcome="success",
            auth0_asgi__reason="ok",
            http__response__status_code=200,
        ): ("histogram", 1, FETCH_BUCKETS)
    }
    assert values["auth0_asgi.likely_causes"] == {
        _key(auth0_asgi__likely_cause="placeholder_token"): 1,
        _key(auth0_asgi__likely_cause="clock_ahead"): 1,  # expired in 1970: the diagnosis suspects the clock
    }
    assert units == {
        "auth0_asgi.requests": "{request}",
        "auth0_asgi.token_cache.lookups": "{lookup}",
        "auth0_asgi.token_cache.hit_ratio": "1",
        "auth0_asgi.token.verification.duration": "s",
        "auth0_asgi.token.age": "s",
        "auth0_asgi.key_set.fetch.duration": "s",
        "auth0_asgi.likely_causes": "{refusal}",
    }


async def test_counts_are_cumulative_across_collections(
    jwks_server: JWKSServer, make_token: TokenMaker, sdk: Metrics
) -> None:
    observer = OpenTelemetryObserver(meter_provider=sdk.provider)
    accepted = _key(auth0_asgi__outcome="accepted", auth0_asgi__reason="accepted", auth0_asgi__scheme="bearer")
    token = make_token()
    async with asgi_client(protect(jwks_server, observer=observer)) as client:
        await client.get("/api/private", headers={"Authorization": f"Bearer {token}"})
        first, _ = sdk.collect()
        await client.get("/api/private", headers={"Authorization": f"Bearer {token}"})
        second, _ = sdk.collect()
    assert (first["auth0_asgi.requests"][accepted], second["auth0_asgi.requests"][accepted]) == (1, 2)


async def test_the_key_set_metrics(jwks_server: JWKSServer, sdk: Metrics) -> None:
    clock = FakeClock()
    observer = OpenTelemetryObserver(meter_provider=sdk.provider)
    cache = JWKSCache(
        jwks_server.url, algorithms=["RS256"], observer=observer, clock=clock, cache_ttl=600, max_stale=60
    )
    try:
        await cache.get_signing_key("rsa-1")
        for kid in ("made-up-1", "made-up-2"):  # one unknown-kid refresh, then the cooldown
            with pytest.raises(Exception, match="kid"):
                await cache.get_signing_key(kid)
        jwks_server.status = 502
        clock.advance(630)
        await cache.get_signing_key("rsa-1")  # the refresh fails: served stale
        clock.advance(10)
        await cache.get_signing_key("rsa-1")  # after the retry interval, fails again: stale again
        clock.advance(60)
        with pytest.raises(Exception, match="no signing keys"):
            await cache.get_signing_key("rsa-1")
    finally:
        await cache.aclose()
    values, _ = sdk.collect()
    url = _key(url__full=jwks_server.url)
    assert values["auth0_asgi.key_set.stale_served"] == {url: 2}
    assert values["auth0_asgi.key_set.stale_dropped"] == {url: 1}
    assert values["auth0_asgi.key_set.refresh_suppressed"] == {url: 1}
    ok = _key(
        url__full=jwks_server.url,
        auth0_asgi__outcome="success",
        auth0_asgi__reason="ok",
        http__response__status_code=200,
    )
    failed = _key(
        url__full=jwks_server.url,
        auth0_asgi__outcome="failure",
        auth0_asgi__reason="http_status",
        http__response__status_code=502,
    )
    assert values["auth0_asgi.key_set.fetch.duration"] == {
        ok: ("histogram", 2, FETCH_BUCKETS),
        failed: ("histogram", 3, FETCH_BUCKETS),
    }


async def test_identity_adds_the_issuer_to_metrics_and_the_caller_to_spans_only(
    jwks_server: JWKSServer, make_token: TokenMaker, sdk: Metrics
) -> None:
    spans = InMemorySpanExporter()
    tracing = TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(spans))
    observer = OpenTelemetryObserver(meter_provider=sdk.provider)
    app = _in_a_span(protect(jwks_server, observer=observer, observe_identity=True), tracing)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        await client.get("/api/private", headers={"Authorization": f"Bearer {make_token(azp='client-42')}"})
    values, _ = sdk.collect()
    assert list(values["auth0_asgi.requests"]) == [
        _key(
            auth0_asgi__outcome="accepted",
            auth0_asgi__reason="accepted",
            auth0_asgi__scheme="bearer",
            auth0_asgi__issuer=ISSUER,
        )
    ]
    [span] = spans.get_finished_spans()
    assert span.attributes is not None
    assert dict(span.attributes) == {
        "auth0_asgi.outcome": "accepted",
        "auth0_asgi.reason": "accepted",
        "auth0_asgi.scheme": "bearer",
        "auth0_asgi.issuer": ISSUER,
        "auth0_asgi.client_id": "client-42",
        "enduser.id": "client-42@clients",
    }
    tracing.shutdown()


def _in_a_span(app: ASGIApp, tracing: TracerProvider) -> ASGIApp:
    """`app` inside a server span per request, as an ASGI instrumentation would start one."""
    tracer = tracing.get_tracer("test")

    async def traced(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        with tracer.start_as_current_span(f"GET {scope['path']}"):
            await app(scope, receive, send)

    return traced


def test_spans_through_real_uvicorn(jwks_server: JWKSServer, make_token: TokenMaker) -> None:
    spans = InMemorySpanExporter()
    tracing = TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(spans))
    app = _in_a_span(protect(jwks_server, observer=OpenTelemetryObserver()), tracing)
    with serve_with_uvicorn(app) as base_url, httpx.Client(base_url=base_url) as client:
        accepted = client.get("/api/private", headers={"Authorization": f"Bearer {make_token()}"})
        refused = client.get("/api/private", headers={"Authorization": f"Bearer {make_token(aud='x')}"})
        public = client.get("/api/public")
    assert (accepted.status_code, refused.status_code, public.status_code) == (200, 401, 200)
    first, second, third = sorted(spans.get_finished_spans(), key=lambda span: span.start_time or 0)
    assert dict(first.attributes or {}) == {}  # accepted, with no identity to note: left alone
    # The first request fetched the key set: an event on its span.
    assert [(event.name, dict(event.attributes or {})) for event in first.events] == [
        (
            "auth0_asgi.key_set.fetch",
            {
                "url.full": jwks_server.url,
                "auth0_asgi.issuer": ISSUER,
                "auth0_asgi.outcome": "success",
                "auth0_asgi.reason": "ok",
                "http.response.status_code": 200,
            },
        )
    ]
    refusal = {
        "auth0_asgi.outcome": "refused",
        "auth0_asgi.reason": "wrong_audience",
        "auth0_asgi.scheme": "bearer",
        "error.type": "invalid_token",
    }
    assert dict(second.attributes or {}) == refusal
    assert [(event.name, dict(event.attributes or {})) for event in second.events] == [
        ("auth0_asgi.likely_cause", {"auth0_asgi.likely_cause": "id_token"}),  # aud "x" looks like a client id
        ("auth0_asgi.request.refused", refusal),
    ]
    assert (dict(third.attributes or {}), list(third.events)) == ({}, [])
    tracing.shutdown()


async def test_spans_can_be_left_alone(jwks_server: JWKSServer, make_token: TokenMaker, sdk: Metrics) -> None:
    spans = InMemorySpanExporter()
    tracing = TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(spans))
    observer = OpenTelemetryObserver(meter_provider=sdk.provider, spans=False)
    app = _in_a_span(protect(jwks_server, observer=observer), tracing)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        await client.get("/api/private")
    [span] = spans.get_finished_spans()
    assert (dict(span.attributes or {}), list(span.events)) == ({}, [])
    values, _ = sdk.collect()
    assert sum(values["auth0_asgi.requests"].values()) == 1
    tracing.shutdown()


async def test_with_no_sdk_the_observer_costs_nothing_but_works(
    jwks_server: JWKSServer, make_token: TokenMaker
) -> None:
    # The global meter provider is the API's no-op until an application sets one.
    async with asgi_client(protect(jwks_server, observer=OpenTelemetryObserver())) as client:
        response = await client.get("/api/private", headers={"Authorization": f"Bearer {make_token()}"})
    assert response.status_code == 200


async def test_a_certificate_bound_token_is_counted_as_bearer_bound_by_mtls(sdk: Metrics) -> None:
    # Issue 30: the scheme was re-derived from the claims, so every mTLS-bound request was counted
    # as DPoP. Now the scheme is what the request presented, the binding what the token proved.
    assert await certificate_bound_request(OpenTelemetryObserver(meter_provider=sdk.provider)) == 200
    values, _ = sdk.collect()
    assert values["auth0_asgi.requests"] == {
        _key(
            auth0_asgi__outcome="accepted",
            auth0_asgi__reason="accepted",
            auth0_asgi__scheme="bearer",
            auth0_asgi__binding="mtls",
        ): 1,
    }
