"""Property-based fuzzing of the Authorization header, the token and the path (hypothesis).

Raw ASGI calls, so bytes no HTTP client would send still reach the middleware. Invariants:
the answer is one of the contract's, its body is JSON with a fixed description, its challenge
is well-formed, nothing raises, and no request without a valid token reaches a protected
handler.
"""

from __future__ import annotations

import asyncio
import base64
import json
import posixpath
import re
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Final

import jwt
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from auth0_asgi import Auth0Middleware
from auth0_asgi.events import Event, KeySetFetched, LikelyCause, RefreshSuppressed, RequestOutcome, TokenCacheLookup
from auth0_asgi.testing import DPoPKey

from ._docs import table
from .conftest import AUDIENCE, Recorder, SigningPair, _rsa_private, make_settings, running_jwks_server, standard_claims
from .test_errors import reason_codes

CHALLENGE: Final = re.compile(
    r'Bearer realm="[^"\\]*"'
    r'(, error="(invalid_request|invalid_token)", error_description="[A-Za-z ]+")?'
    # The DPoP offer of the default mode: bare, or with the error when the scheme is unknown.
    r', DPoP realm="[^"\\]*"(, error="invalid_request", error_description="[A-Za-z ]+")?, algs="ES256"'
)
DESCRIPTIONS: Final = {
    "Not authenticated",
    "The Authorization header is malformed",
    "The access token is invalid",
    "The access token is malformed",
    "The access token is too large",
    "The access token algorithm is not allowed",
    "The access token signing key is unknown",
    "The access token signature is invalid",
    "The access token has expired",
    "The access token is not yet valid",
    "The access token issuer is not trusted",
    "The access token was not issued for this API",
}
FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class Harness:
    app: Auth0Middleware
    runner: asyncio.Runner
    reached: list[str] = field(default_factory=list)
    told: list[Event] = field(default_factory=list)

    def call(
        self, path: str, headers: list[tuple[bytes, bytes]], root_path: str = ""
    ) -> tuple[int, dict[str, str], bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode("utf-8", "surrogateescape"),
            "root_path": root_path,
            "query_string": b"",
            "headers": [(b"host", b"fuzz"), *headers],
            "server": ("127.0.0.1", 80),
            "client": ("127.0.0.1", 1),
        }
        messages: list[MutableMapping[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            messages.append(message)

        self.runner.run(self.app(scope, receive, send))
        start, body = messages[0], b"".join(m.get("body", b"") for m in messages[1:])
        response_headers: dict[str, str] = {}
        for k, v in start["headers"]:  # repeated fields joined, as RFC 9110 §5.3 allows
            name = k.decode("latin-1")
            response_headers[name] = ", ".join(filter(None, (response_headers.get(name), v.decode("latin-1"))))
        return start["status"], response_headers, body


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    key = SigningPair("rsa-1", _rsa_private(0), "RS256")
    reached: list[str] = []

    async def private(request: Request) -> PlainTextResponse:
        reached.append(request.url.path)
        return PlainTextResponse("private")

    async def anything(request: Request) -> PlainTextResponse:
        # A permissive router's view of the path: case-folded, ;params dropped, dot segments
        # and repeated slashes resolved. If it sees the private area, so must the middleware.
        path = request.scope["path"]
        kept = "/".join(segment.split(";")[0] for segment in path.casefold().split("/"))
        normal = posixpath.normpath("/" + kept.lstrip("/"))  # normpath keeps a leading "//"
        if normal == "/api/private" or normal.startswith("/api/private/"):
            reached.append(path)
        return PlainTextResponse("other")

    app = Starlette(
        routes=[
            Route("/api/private", private),
            # A literal router takes /api/private/.. to a path parameter: the original bypass.
            Route("/api/private/{item_id}", private),
            Route("/api/private/{rest:path}", private),
            Route("/{p:path}", anything),
        ]
    )
    with running_jwks_server() as server, asyncio.Runner() as runner:
        server.publish(key)
        recorder = Recorder()
        # The middleware is observed: what it tells must be fixed codes only, whatever comes in.
        middleware = Auth0Middleware(
            app,
            settings=make_settings(server),
            protected_prefixes=["/api/private"],
            realm=AUDIENCE,
            observer=recorder,
        )
        yield Harness(middleware, runner, reached, recorder.events)
        runner.run(middleware.aclose())


def _assert_contract_refusal(status: int, headers: dict[str, str], body: bytes) -> None:
    assert status in (400, 401), (status, body)
    document = json.loads(body)
    assert set(document) <= {"detail", "error"}
    assert document["detail"] in DESCRIPTIONS
    expected_error = {400: "invalid_request", 401: document.get("error")}[status]
    assert document.get("error") == expected_error
    assert document.get("error") in (None, "invalid_request", "invalid_token")
    assert headers["content-type"] == "application/json"
    assert CHALLENGE.fullmatch(headers["www-authenticate"]), headers["www-authenticate"]


authorization_values = st.one_of(
    st.binary(max_size=9000),
    st.binary(max_size=9000).map(lambda raw: b"Bearer " + raw),
    st.text(max_size=3000).map(lambda text: ("Bearer " + text).encode("utf-8")),
    st.from_regex(rb"\A[Bb][Ee][Aa][Rr][Ee][Rr][ \t]{0,3}[A-Za-z0-9._~+/=-]{0,400}[ \t]{0,2}\Z"),
)


REFUSAL_CODES: Final = set(reason_codes())
#: The diagnosis codes, as the docs list them: a likely cause told must be one of these.
LIKELY_CAUSES: Final = {code.strip("` ") for row in table("docs/refusals.md", "code") for code in row[0].split(",")}


def _assert_told_only_fixed_codes(harness: Harness, status: int) -> None:
    outcomes = [event for event in harness.told if isinstance(event, RequestOutcome)]
    assert [(event.outcome, event.status) for event in outcomes] == [("refused", status)]
    [outcome] = outcomes
    assert outcome.reason in REFUSAL_CODES
    assert outcome.error in (None, "invalid_request", "invalid_token")
    assert outcome.scheme in (None, "bearer", "dpop")  # the scheme presented, when it is one of ours
    assert (outcome.issuer, outcome.client_id, outcome.subject, outcome.token_age) == (None, None, None, None)
    for event in harness.told:
        if isinstance(event, LikelyCause):
            assert event.code in LIKELY_CAUSES
        else:
            # An unknown kid may meet the refresh cooldown; nothing else a refusal can cause.
            assert isinstance(event, RequestOutcome | TokenCacheLookup | KeySetFetched | RefreshSuppressed), event


@FUZZ
@given(values=st.lists(authorization_values, min_size=1, max_size=2))
def test_any_authorization_header_gets_a_contract_answer(harness: Harness, values: list[bytes]) -> None:
    harness.reached.clear()
    harness.told.clear()
    status, headers, body = harness.call("/api/private", [(b"authorization", value) for value in values])
    _assert_contract_refusal(status, headers, body)
    assert harness.reached == []
    _assert_told_only_fixed_codes(harness, status)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
headers_members = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["RS256", "none", "HS256", "ES256", "RS512"]) | json_values,
        "kid": st.sampled_from(["rsa-1", "", "../x"]) | json_values,
        "crit": json_values,
        "jku": st.just("http://127.0.0.1:9/keys"),
        "b64": st.booleans(),
    },
)
payloads = st.one_of(
    json_values,
    st.builds(
        lambda extra: {**standard_claims(), **extra},
        st.dictionaries(st.sampled_from(["exp", "nbf", "iat", "aud", "iss", "scope"]), json_values, max_size=3),
    ),
)


@FUZZ
@given(header=headers_members | json_values, payload=payloads, signature=st.binary(max_size=300))
def test_any_structured_token_is_refused_as_invalid(
    harness: Harness, header: Any, payload: Any, signature: bytes
) -> None:
    harness.reached.clear()
    harness.told.clear()
    token = ".".join(_b64url(json.dumps(part).encode()) for part in (header, payload)) + "." + _b64url(signature)
    status, headers, body = harness.call("/api/private", [(b"authorization", f"Bearer {token}".encode())])
    _assert_contract_refusal(status, headers, body)
    assert status == 401
    _assert_told_only_fixed_codes(harness, status)
    assert json.loads(body)["error"] == "invalid_token"
    assert harness.reached == []


path_segments = st.sampled_from(
    [
        "api",
        "API",
        "Api",
        "private",
        "PRIVATE",
        "privateer",
        "public",
        ".",
        "..",
        "",
        "private;x=1",
        "%2F",
        "x",
        "api;v=2",
        "%2e%2e",
        "..;x",
        "api\\private",
    ]
)


# Half the paths start at a spelling of the prefix and wander off with dot segments: that is
# where a router and a normal form disagree (/api/private/.. is a path parameter to Starlette).
wandering_tails = st.tuples(
    st.sampled_from([["api", "private"], ["API", "private"], ["api", "", "private"]]),
    st.lists(st.sampled_from(["..", ".", "x", "%2e%2e", "..;x", ""]), min_size=1, max_size=4),
).map(lambda parts: parts[0] + parts[1])


@FUZZ
@given(
    segments=st.lists(path_segments, min_size=1, max_size=6) | wandering_tails,
    root=st.sampled_from(["", "/app", "/api"]),
)
# Found by this test: a ".." removes "api\\private" whole where "\\" is no separator, and
# "..;x" is a plain segment where ;params are kept; each had only been read the other way.
@example(segments=["api", "api\\private", "..;x", "private"], root="")
@example(segments=["api", "..;x", "..", "private"], root="")
def test_no_path_without_a_token_reaches_the_private_area(harness: Harness, segments: list[str], root: str) -> None:
    harness.reached.clear()
    path = root + "/" + "/".join(segments)
    status, headers, body = harness.call(path, [], root_path=root)
    if harness.reached:
        pytest.fail(f"{path!r} (root_path {root!r}) reached the private area without a token")
    if status != 200:
        _assert_contract_refusal(status, headers, body)


# --- the DPoP header --------------------------------------------------------------------------

_DPOP_KEY: Final = DPoPKey()
_BOUND_TOKEN: Final = jwt.encode(
    standard_claims(cnf={"jkt": _DPOP_KEY.thumbprint}),
    _rsa_private(0),
    algorithm="RS256",
    headers={"kid": "rsa-1"},
)
_DPOP_DESCRIPTIONS: Final = {
    "The DPoP proof is invalid",
    "The DPoP proof was already used",
    "The Authorization header is malformed",
}
proof_header_members = st.fixed_dictionaries(
    {},
    optional={
        "typ": st.sampled_from(["dpop+jwt", "JWT", "DPOP+JWT", ""]) | json_values,
        "alg": st.sampled_from(["ES256", "ES384", "RS256", "none", "HS256", "EdDSA"]) | json_values,
        "jwk": st.just(dict(_DPOP_KEY.public_jwk))
        | st.dictionaries(st.sampled_from(["kty", "crv", "x", "y", "n", "e", "d", "alg"]), json_values, max_size=5)
        | json_values,
        "crit": json_values,
        "jku": st.just("http://127.0.0.1:1/jwks"),
    },
)
proof_claims = st.fixed_dictionaries(
    {},
    optional={
        "jti": st.text(max_size=300) | json_values,
        "htm": st.sampled_from(["GET", "get", "POST"]) | json_values,
        "htu": st.sampled_from(["http://fuzz/api/private", "http://fuzz/api/private/", "/api/private"])
        | st.text(max_size=40),
        "iat": st.integers() | st.floats() | json_values,
        "ath": st.text(max_size=50) | json_values,
    },
)
structured_proofs = st.builds(
    lambda header, claims, signature: (
        ".".join(_b64url(json.dumps(part).encode()) for part in (header, claims)) + "." + _b64url(signature)
    ),
    proof_header_members,
    proof_claims,
    st.binary(max_size=140),
)
dpop_values = st.one_of(st.binary(max_size=2000), structured_proofs.map(str.encode))


@FUZZ
@given(values=st.lists(dpop_values, min_size=0, max_size=3))
def test_any_dpop_header_gets_a_contract_answer_and_never_passes(harness: Harness, values: list[bytes]) -> None:
    harness.reached.clear()
    headers = [(b"authorization", f"DPoP {_BOUND_TOKEN}".encode()), *((b"dpop", value) for value in values)]
    status, response_headers, body = harness.call("/api/private", headers)
    document = json.loads(body)
    assert document["detail"] in _DPOP_DESCRIPTIONS
    expected = (400, "invalid_request") if not values else (401, "invalid_dpop_proof")
    assert (status, document["error"]) == expected
    assert response_headers["content-type"] == "application/json"
    dpop_challenge = response_headers["www-authenticate"].split(", DPoP ", 1)[1]
    assert dpop_challenge.startswith(f'realm="{AUDIENCE}", error="{expected[1]}"')
    assert harness.reached == []
