"""OpenTelemetry metrics and span attributes from the middleware's events (the `otel` extra).

``Auth0Middleware(app, observer=OpenTelemetryObserver())``, with the OpenTelemetry SDK
configured by the application (auth0-asgi needs only `opentelemetry-api`; without an SDK
every instrument is a no-op).

Metrics (meter ``auth0_asgi``; docs/observability.md has them with their attributes):

- counters: `auth0_asgi.requests` (by `auth0_asgi.outcome`, `auth0_asgi.reason`,
  `auth0_asgi.scheme`, `auth0_asgi.binding`, `error.type`, `auth0_asgi.issuer`), `auth0_asgi.token_cache.lookups`
  (`auth0_asgi.token_cache.result`: hit or miss), `auth0_asgi.key_set.stale_served`,
  `auth0_asgi.key_set.stale_dropped`, `auth0_asgi.key_set.refresh_suppressed` (by `url.full`
  and `auth0_asgi.issuer`)
  and `auth0_asgi.likely_causes` (by `auth0_asgi.likely_cause`);
- a gauge: `auth0_asgi.token_cache.hit_ratio` (hits over lookups since start);
- histograms, in seconds: `auth0_asgi.token.verification.duration`, `auth0_asgi.token.age`
  and `auth0_asgi.key_set.fetch.duration` (by `url.full`, `auth0_asgi.issuer`,
  `auth0_asgi.outcome`, `auth0_asgi.reason`, `http.response.status_code`).

An attribute with no value (no scheme, no error) is left out. `auth0_asgi.issuer` is there only
with ``observe_identity=True``; `azp` and `sub` never become metric attributes (unbounded).

Why the counters are asynchronous: an SDK counter's ``add()`` costs about 5 µs, a quarter of
the whole middleware on a reused token. The counts are kept in plain dicts on the request path
and read by the SDK at collection time (OpenTelemetry's asynchronous counters, which report a
cumulative sum). The histograms are recorded where the work they measure is done: the
verification time and the token age when a token is verified in full (its first use on this
worker), the fetch time on each fetch; a reused token records no histogram.

Spans: on the current span, if it is recording (an ASGI instrumentation's server span, say), a
refused request sets `auth0_asgi.outcome`, `auth0_asgi.reason`, and when known
`auth0_asgi.scheme` and `error.type`, and adds the event `auth0_asgi.request.refused`; with
``observe_identity=True`` an accepted request sets the same attributes plus `enduser.id` (`sub`),
`auth0_asgi.client_id` and `auth0_asgi.issuer`. An accepted request without identity leaves
its span alone: it would only say "accepted", and looking the span up is a fifth of the
observer's cost. A key-set fetch, stale keys, a suppressed refresh and a likely cause are added
as span events named like the metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Final

from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
from opentelemetry.util.types import AttributeValue

from ._version import __version__
from .events import (
    Event,
    KeySetFetched,
    LikelyCause,
    RefreshSuppressed,
    RequestOutcome,
    StaleKeysDropped,
    StaleKeysServed,
    TokenCacheLookup,
    TokenVerified,
)

__all__ = ["FETCH_BUCKETS", "METER_NAME", "TOKEN_AGE_BUCKETS", "VERIFICATION_BUCKETS", "OpenTelemetryObserver"]

METER_NAME: Final = "auth0_asgi"

# Bucket boundaries, in seconds (the SDK's default ones are for milliseconds): a full verification
# takes about 0.1 ms, or a key fetch longer; a fetch, as OpenTelemetry's HTTP durations; a
# token's age, from seconds to Auth0's default lifetime of a day.
VERIFICATION_BUCKETS: Final = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5)
FETCH_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
TOKEN_AGE_BUCKETS: Final = (1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200, 21600, 43200, 86400)

_Attributes = Mapping[str, AttributeValue]
_RequestKey = tuple[str, str, str | None, str | None, str | None, str | None]


class _Counts:
    """Counts by attribute set, kept cheaply on the request path and reported at collection."""

    __slots__ = ("_attributes", "counts")

    def __init__(self) -> None:
        self.counts: dict[Hashable, int] = {}
        self._attributes: dict[Hashable, _Attributes] = {}

    def add(self, key: Hashable, attributes: Callable[[], _Attributes]) -> None:
        """One more for `key`; `attributes` makes its attribute set, the first time only."""
        count = self.counts.get(key)
        if count is None:
            self._attributes[key] = attributes()  # before the count: a collection may run now
            self.counts[key] = 1
        else:
            self.counts[key] = count + 1

    def observe(self, options: CallbackOptions) -> Iterable[Observation]:
        # A copy first: the SDK may collect from another thread while requests go on.
        counts = self.counts.copy()
        return [Observation(count, self._attributes[key]) for key, count in counts.items()]


class OpenTelemetryObserver:
    """An `Auth0Observer` that turns the middleware's events into OpenTelemetry metrics and
    span attributes (see the module docstring for every name).

    - `meter_provider`: where the instruments are created; default the global one
      (`opentelemetry.metrics.set_meter_provider`).
    - `spans`: note refusals, the caller's identity (with ``observe_identity=True``) and the
      key-set events on the current span when it is recording; default True.

    One observer may serve several middlewares (workers are processes: each has its own).
    """

    def __init__(self, *, meter_provider: MeterProvider | None = None, spans: bool = True) -> None:
        meter = metrics.get_meter(METER_NAME, __version__, meter_provider=meter_provider)
        self._notes = _SpanNotes(spans)
        self._requests = _Counts()
        self._request_counts = self._requests.counts
        self._lookups = {True: 0, False: 0}  # hits and misses: counted on every protected request
        self._stale_served = _Counts()
        self._stale_dropped = _Counts()
        self._suppressed = _Counts()
        self._causes = _Counts()
        counters = [
            ("auth0_asgi.requests", self._requests, "{request}", "Requests the middleware saw, by outcome and reason"),
            ("auth0_asgi.key_set.stale_served", self._stale_served, "{lookup}", "Key lookups served past the TTL"),
            ("auth0_asgi.key_set.stale_dropped", self._stale_dropped, "{event}", "Key sets dropped past max_stale"),
            ("auth0_asgi.key_set.refresh_suppressed", self._suppressed, "{refresh}", "Refreshes held by the cooldown"),
            ("auth0_asgi.likely_causes", self._causes, "{refusal}", "Refusals recognised as a common mistake"),
        ]
        for name, counts, unit, description in counters:
            meter.create_observable_counter(name, callbacks=[counts.observe], unit=unit, description=description)
        meter.create_observable_counter(
            "auth0_asgi.token_cache.lookups",
            callbacks=[self._observe_lookups],
            unit="{lookup}",
            description="Verified-token cache lookups, hit or miss",
        )
        meter.create_observable_gauge(
            "auth0_asgi.token_cache.hit_ratio",
            callbacks=[self._observe_hit_ratio],
            unit="1",
            description="Share of verified-token cache lookups answered from the cache, since start",
        )
        self._verification = meter.create_histogram(
            "auth0_asgi.token.verification.duration",
            unit="s",
            description="Full verification of a new token",
            explicit_bucket_boundaries_advisory=VERIFICATION_BUCKETS,
        )
        self._token_age = meter.create_histogram(
            "auth0_asgi.token.age",
            unit="s",
            description="Age (since iat) of a token at its full verification",
            explicit_bucket_boundaries_advisory=TOKEN_AGE_BUCKETS,
        )
        self._fetch_duration = meter.create_histogram(
            "auth0_asgi.key_set.fetch.duration",
            unit="s",
            description="Key-set fetches, by outcome",
            explicit_bucket_boundaries_advisory=FETCH_BUCKETS,
        )

    def on_event(self, event: Event) -> None:
        """Count or record `event`, and note it on the current span."""
        if type(event) is RequestOutcome:  # every request: counted inline, one lookup and one store
            key: _RequestKey = (event.outcome, event.reason, event.error, event.scheme, event.binding, event.issuer)
            counts = self._request_counts
            count = counts.get(key)
            if count is not None:
                counts[key] = count + 1
            else:
                self._requests.add(key, lambda: _request_attributes(event))
            # The span is looked up only when there is something to note on it: a refusal, or
            # the caller of an accepted request; that lookup is a fifth of this observer's cost.
            if self._notes.enabled and (event.outcome == "refused" or event.subject is not None):
                self._notes.annotate(event)
        elif type(event) is TokenCacheLookup:
            self._lookups[event.hit] += 1
        elif type(event) is TokenVerified:
            self._verification.record(event.duration)
            if event.token_age is not None:
                self._token_age.record(event.token_age)
        elif type(event) is KeySetFetched:
            self._fetched(event)
        elif type(event) is StaleKeysServed:
            self._key_set_event(self._stale_served, "auth0_asgi.key_set.stale_served", event.url, event.issuer)
        elif type(event) is StaleKeysDropped:
            self._key_set_event(self._stale_dropped, "auth0_asgi.key_set.stale_dropped", event.url, event.issuer)
        elif type(event) is RefreshSuppressed:
            self._key_set_event(self._suppressed, "auth0_asgi.key_set.refresh_suppressed", event.url, event.issuer)
        elif type(event) is LikelyCause:
            cause = {"auth0_asgi.likely_cause": event.code}
            self._causes.add(event.code, lambda: cause)
            self._notes.event("auth0_asgi.likely_cause", cause)

    def _observe_lookups(self, options: CallbackOptions) -> Iterable[Observation]:
        hits, misses = self._lookups[True], self._lookups[False]
        return [
            Observation(hits, {"auth0_asgi.token_cache.result": "hit"}),
            Observation(misses, {"auth0_asgi.token_cache.result": "miss"}),
        ]

    def _observe_hit_ratio(self, options: CallbackOptions) -> Iterable[Observation]:
        hits, misses = self._lookups[True], self._lookups[False]
        return [Observation(hits / (hits + misses))] if hits + misses else []

    def _fetched(self, event: KeySetFetched) -> None:
        attributes: dict[str, AttributeValue] = {
            "url.full": event.url,
            "auth0_asgi.outcome": event.outcome,
            "auth0_asgi.reason": event.reason,
        }
        if event.status_code is not None:
            attributes["http.response.status_code"] = event.status_code
        if event.issuer is not None:
            attributes["auth0_asgi.issuer"] = event.issuer
        self._fetch_duration.record(event.duration, attributes)
        self._notes.event("auth0_asgi.key_set.fetch", attributes)

    def _key_set_event(self, counts: _Counts, name: str, url: str, issuer: str | None) -> None:
        attributes = {"url.full": url} if issuer is None else {"url.full": url, "auth0_asgi.issuer": issuer}
        counts.add((url, issuer), lambda: attributes)
        self._notes.event(name, attributes)


class _SpanNotes:
    """What the observer notes on the current span, when it is recording: the request's outcome
    and caller, and the key-set events."""

    __slots__ = ("enabled",)

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def annotate(self, event: RequestOutcome) -> None:
        span = trace.get_current_span()
        if not span.is_recording():
            return
        attributes = _request_attributes(event)
        if event.subject is not None:
            attributes["enduser.id"] = event.subject
        if event.client_id is not None:
            attributes["auth0_asgi.client_id"] = event.client_id
        span.set_attributes(attributes)
        if event.outcome == "refused":
            span.add_event("auth0_asgi.request.refused", _request_attributes(event))

    def event(self, name: str, attributes: _Attributes) -> None:
        if self.enabled:
            span = trace.get_current_span()
            if span.is_recording():
                span.add_event(name, attributes)


def _request_attributes(event: RequestOutcome) -> dict[str, AttributeValue]:
    """The attributes of a request's outcome, each only when it has a value."""
    attributes: dict[str, AttributeValue] = {"auth0_asgi.outcome": event.outcome, "auth0_asgi.reason": event.reason}
    if event.scheme is not None:
        attributes["auth0_asgi.scheme"] = event.scheme
    if event.binding is not None:
        attributes["auth0_asgi.binding"] = event.binding
    if event.error is not None:
        attributes["error.type"] = event.error
    if event.issuer is not None:
        attributes["auth0_asgi.issuer"] = event.issuer
    return attributes
