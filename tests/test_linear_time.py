"""Every parser of what a request carries runs in linear time: 64 kB costs about 8 times 8 kB.

A complexity bound, not a speed claim: each parser is timed on hostile inputs of 8 kB and of
64 kB, in the thread's CPU time, the rounds of the two sizes interleaved and the fastest of each
kept (every input distinct so that no memo answers), and the ratio must stay far from quadratic
(64) or worse; a ratio over the bound is measured twice more before it fails, so a busy
neighbour cannot fail it and a quadratic parser always does. Inputs past a length cap
are refused unread, which is linear too. The shapes are the ones that broke us (a long run of
letters before a bad character, long runs of scheme characters) and their relatives.
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any, Final

import pytest

from auth0_asgi import MalformedTokenError
from auth0_asgi._binding.htu import Origins
from auth0_asgi._binding.proxies import PROXY_HEADERS, TrustedProxies
from auth0_asgi._config.tool_scopes import check_tool_scopes
from auth0_asgi._headers import gather
from auth0_asgi._request.credentials import BEARER, CREDENTIAL_HEADERS, DPOP, read_credentials
from auth0_asgi._request.gate import RequestGate
from auth0_asgi._request.protection import ProtectionRules
from auth0_asgi._request.tool_scopes import ROUTING_HEADERS, ToolScopes
from auth0_asgi._tokens.diagnosis import diagnose, token_of
from auth0_asgi._tokens.jws import json_object, parse_compact
from auth0_asgi.dpop import ProofChecker
from auth0_asgi.errors import AuthenticationError
from auth0_asgi.mtls import ClientCertificates
from auth0_asgi.testing import LocalIssuer

SMALL: Final = 8 * 1024
LARGE: Final = 64 * 1024
#: Linear is 8; quadratic 64. The bound leaves room for a noisy machine, not for a square.
MAX_RATIO: Final = 20.0
#: Each size is measured over this many distinct inputs, the fastest of `ROUNDS` rounds kept.
INPUTS: Final = 8
ROUNDS: Final = 5


def _cpu_time(parse: Callable[[str], object], inputs: list[str]) -> float:
    # The thread's CPU time, not the wall clock: a busy neighbour takes the CPU away between
    # slices, and that wait must not count as the parser's.
    started = time.thread_time()
    for text in inputs:
        # Refusing is an answer too; what it costs is what is measured.
        with contextlib.suppress(AuthenticationError, ValueError):
            parse(text)
    return time.thread_time() - started


def _rounds(make: Callable[[int, int], str], length: int, first_variant: int) -> list[list[str]]:
    # Every round its own inputs: a round that repeated the last one's would time a memo.
    return [
        [make(length, first_variant + number * INPUTS + index) for index in range(INPUTS)] for number in range(ROUNDS)
    ]


def _ratio(make: Callable[[int, int], str], parse: Callable[[str], object], first_variant: int) -> float:
    """One measurement: the fastest 64 kB round over the fastest 8 kB round, the rounds of the
    two sizes interleaved so that a slow phase of the machine slows both alike."""
    per_size = ROUNDS * INPUTS
    small = _rounds(make, SMALL, first_variant)
    large = _rounds(make, LARGE, first_variant + per_size)
    texts = [text for rounds in (small, large) for inputs in rounds for text in inputs]
    assert len(set(texts)) == len(texts), "every input must be distinct, or a memo answers"
    assert all(abs(len(text) - SMALL) <= SMALL * 0.05 for inputs in small for text in inputs), "inputs must be ~8 kB"
    assert all(abs(len(text) - LARGE) <= LARGE * 0.05 for inputs in large for text in inputs), "inputs must be ~64 kB"
    fastest_small = fastest_large = float("inf")
    for small_inputs, large_inputs in zip(small, large, strict=True):
        fastest_small = min(fastest_small, _cpu_time(parse, small_inputs))
        fastest_large = min(fastest_large, _cpu_time(parse, large_inputs))
    return fastest_large / max(fastest_small, 1e-9)


#: A ratio over the bound is measured again with new inputs before it counts: noise does not
#: repeat itself three times, and a quadratic parser is over the bound every time.
ATTEMPTS: Final = 3


def assert_linear(make: Callable[[int, int], str], parse: Callable[[str], object]) -> float:
    """The 64 kB / 8 kB CPU time ratio of `parse` on the inputs `make(length, variant)` builds."""
    per_attempt = 2 * ROUNDS * INPUTS
    _cpu_time(parse, _rounds(make, SMALL, 10**6)[0])  # warm up memos and caches of what does not depend on the input
    ratios = []
    for attempt in range(ATTEMPTS):
        ratios.append(_ratio(make, parse, attempt * per_attempt))
        if ratios[-1] < MAX_RATIO:
            break
    ratio = min(ratios)
    print(f"64 kB / 8 kB time ratio: {ratio:.2f}")  # shown with pytest -s
    assert ratio < MAX_RATIO, f"64 kB took {ratios} x the time of 8 kB, {ATTEMPTS} times: not linear"
    return ratio


def _fill(prefix: str, unit: str, suffix: str, length: int) -> str:
    count = max(0, (length - len(prefix) - len(suffix)) // len(unit))
    return prefix + unit * count + suffix


# --- the path decision and the gate ----------------------------------------------------------

RULES: Final = ProtectionRules(
    ["/api/private", "/api/admin", "/v1/api/private"], {"/api/admin": ["admin"]}, root_paths=["/r"]
)
PATHS: Final = {
    "letters": lambda n, v: _fill(f"/{v}", "a", "", n),
    "scheme-runs": lambda n, v: _fill(f"/{v}", "a+.-", ":", n),
    "many-schemes": lambda n, v: _fill(f"/{v}", "a://", "", n),
    "segments": lambda n, v: _fill(f"/{v}", "/a", "", n),
    "dot-segments": lambda n, v: _fill(f"/api/private/{v}", "/..", "", n),
    "encoded-dots": lambda n, v: _fill(f"/api/{v}", "/%2e%2e", "", n),
    "percent-runs": lambda n, v: _fill(f"/{v}", "%25", "", n),
    "params": lambda n, v: _fill(f"/{v}", ";a", "", n),
    "backslashes": lambda n, v: _fill(f"/{v}", "\\a", "", n),
}


@pytest.mark.parametrize("shape", list(PATHS))
def test_the_path_decision_is_linear(shape: str) -> None:
    assert_linear(PATHS[shape], lambda path: RULES.decide({"path": path, "root_path": "/base"}))


@pytest.mark.parametrize("shape", list(PATHS))
def test_the_request_gate_is_linear(shape: str) -> None:
    gate = RequestGate(max_target_bytes=10**6)  # the cap lifted, so the scans themselves are timed

    def check(path: str) -> None:
        gate.check({"path": path, "raw_path": path.encode(), "query_string": b"", "headers": [(b"host", b"h")]})

    assert_linear(PATHS[shape], check)


def test_the_gate_refuses_a_long_target_before_reading_it() -> None:
    gate = RequestGate(max_target_bytes=8192)

    def check(path: str) -> None:
        gate.check({"path": path, "raw_path": path.encode(), "query_string": b"", "headers": []})

    # Refused by length alone: 64 kB costs what 8 kB does, give or take.
    assert assert_linear(lambda n, v: _fill(f"/{v}", "a", "", n), check) < 8


# --- credentials -----------------------------------------------------------------------------

CREDENTIALS: Final = {
    "long-token": lambda n, v: _fill(f"Bearer {v}", "a", "", n),
    "spaces": lambda n, v: _fill(f"Bearer {v}", " ", "x", n),
    "tabs-and-dots": lambda n, v: _fill(f"DPoP {v}", ".\t", "", n),
    "non-ascii": lambda n, v: _fill(f"Bearer {v}", "\u00e9", "", n),
}


@pytest.mark.parametrize("shape", list(CREDENTIALS))
def test_reading_the_credentials_is_linear(shape: str) -> None:
    def read(value: str) -> None:
        scope = {"headers": [(b"authorization", value.encode("latin-1")), (b"dpop", b"p")]}
        read_credentials(gather(scope, CREDENTIAL_HEADERS), frozenset({BEARER, DPOP}))

    assert_linear(CREDENTIALS[shape], read)


MCP_NAMES: Final = {
    "plain": lambda n, v: _fill(f"{v}", "a", "", n),
    "trailing-space": lambda n, v: _fill(f"{v}", "a ", " ", n),
    "inner-spaces": lambda n, v: _fill(f"{v}", " ", "x", n),
    "base64": lambda n, v: _fill(f"=?base64?{v}", "QUFB", "?=", n),
    "unterminated-base64": lambda n, v: _fill(f"=?base64?{v}", "QUFB", "?", n),
    "sentinel-runs": lambda n, v: _fill(f"{v}", "=?base64?", "", n),
}
_TOOL_SCOPES: Final = ToolScopes(check_tool_scopes({"tools/call": {"x": ["a"]}}))


@pytest.mark.parametrize("shape", list(MCP_NAMES))
def test_reading_the_mcp_routing_headers_is_linear(shape: str) -> None:
    def read(name: str) -> None:
        headers = [
            (b"mcp-method", b"tools/call"),
            (b"mcp-name", name.encode()),
            (b"mcp-protocol-version", b"2026-07-28"),
        ]
        scope = {"method": "POST", "headers": headers}
        _TOOL_SCOPES.required(scope, gather(scope, ROUTING_HEADERS))

    assert_linear(MCP_NAMES[shape], read)


CERTIFICATE_HEADERS: Final = {
    "envoy-quotes": ("envoy", lambda n, v: _fill(f"By={v};Cert=", '"a,;', "", n)),
    "envoy-elements": ("envoy", lambda n, v: _fill(f"By={v}", ",Hash=0", "", n)),
    "nginx-pem-runs": ("nginx", lambda n, v: _fill(f"{v}-----BEGIN%20CERTIFICATE-----", "QUFB%0A", "", n)),
    "rfc9440-colons": ("rfc9440", lambda n, v: _fill(f":{v}", "QUFB", "", n)),
    "traefik-commas": ("traefik", lambda n, v: _fill(f"{v}", "QUFB,", "", n)),
    "alb-begin-runs": ("alb", lambda n, v: _fill(f"{v}", "-----BEGIN CERTIFICATE-----", "", n)),
}


@pytest.mark.parametrize("shape", list(CERTIFICATE_HEADERS))
def test_reading_a_client_certificate_header_is_linear(shape: str) -> None:
    # 64 kB is past the header cap (32 kB), so that size is refused unread: the bound holds as
    # long as the cap does, and the 8 kB inputs are parsed in full.
    header_format, make = CERTIFICATE_HEADERS[shape]
    certificates = ClientCertificates(header_format, "x-client-cert", ["127.0.0.1"])

    def read(value: str) -> None:
        scope = {"client": ("127.0.0.1", 1), "headers": [(b"x-client-cert", value.encode())]}
        certificates.thumbprint(scope, gather(scope, certificates.header_names))

    assert_linear(make, read)


FORWARDING: Final[dict[str, tuple[str, Callable[[int, int], str]]]] = {
    "xff-many-items": ("x-forwarded-for", lambda n, v: _fill(f"10.{v % 250}.0.1", ", 10.0.0.2", "", n)),
    "xff-one-long-item": ("x-forwarded-for", lambda n, v: _fill(f"{v}:", "1", "", n)),
    "xff-brackets": ("x-forwarded-for", lambda n, v: _fill(f"[{v}", "[::1", "]:1", n)),
    "forwarded-many-pairs": ("forwarded", lambda n, v: _fill(f"proto=http{v}", ";by=x", ";for=10.0.0.2", n)),
    "forwarded-many-elements": ("forwarded", lambda n, v: _fill(f"for=10.{v % 250}.0.1", ",for=10.0.0.2", "", n)),
}


@pytest.mark.parametrize("shape", list(FORWARDING))
def test_the_peer_trust_rule_is_linear(shape: str) -> None:
    name, make = FORWARDING[shape]
    proxies = TrustedProxies(["127.0.0.1"])

    def trust(value: str) -> None:
        scope = {"client": ("127.0.0.1", 1), "headers": [(name.encode(), value.encode())]}
        proxies.trusts_peer(scope, gather(scope, PROXY_HEADERS))

    assert_linear(make, trust)


@pytest.mark.parametrize("shape", list(CREDENTIALS))
def test_diagnosing_a_refused_token_is_linear(shape: str) -> None:
    settings = LocalIssuer().settings()
    assert_linear(
        CREDENTIALS[shape],
        lambda value: diagnose(token_of(value.encode("latin-1")), MalformedTokenError(), settings),
    )


# --- htu -------------------------------------------------------------------------------------

HTUS: Final = {
    # The review's: a run of letters, then a character no path may hold (it doubled per letter).
    "path-then-bad-character": lambda n, v: _fill(f"https://h{v}/", "a", "<", n),
    "stray-percents": lambda n, v: _fill(f"https://h{v}/", "%", "", n),
    "triplets-then-stray": lambda n, v: _fill(f"https://h{v}/", "%41", "%", n),
    "dot-segments": lambda n, v: _fill(f"https://h{v}", "/.", "", n),
    "long-host": lambda n, v: _fill(f"https://{v}", "a", "@", n),
    "long-scheme": lambda n, v: _fill(f"h{v}", "t", "", n),
    "long-port": lambda n, v: _fill(f"https://h{v}:", "1", "x", n),
    "query-and-fragment": lambda n, v: _fill(f"https://h{v}/?", "#?", "", n),
}


@pytest.mark.parametrize("shape", list(HTUS))
def test_matching_htu_is_linear(shape: str) -> None:
    origins = Origins()
    scope: dict[str, Any] = {"type": "http", "scheme": "https", "path": "/", "raw_path": b"/", "headers": []}
    assert_linear(HTUS[shape], lambda htu: origins.matches(htu, scope, {}))


# --- proofs and tokens -----------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unsigned(payload_text: str, header: dict[str, Any] | None = None) -> str:
    header_text = json.dumps(header or {"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "EC"}})
    return f"{_b64(header_text.encode())}.{_b64(payload_text.encode())}.c2ln"


def _payload(n: int, v: int, unit: str) -> str:
    # A JSON payload whose compact JWS is about n characters long (base64url is 4/3 of it).
    budget = n * 3 // 4 - 120
    return f'{{"jti":"{v}","htm":"GET","iat":1,"htu":"' + unit * max(0, budget // len(unit)) + '"}'


JWS_SHAPES: Final = {
    "long-htu": lambda n, v: _unsigned(_payload(n, v, "a")),
    "surrogate-pairs": lambda n, v: _unsigned(_payload(n, v, "\\ud83d\\ude00")),
    "lone-surrogates": lambda n, v: _unsigned(_payload(n, v, "\\ud800")),
    "escapes": lambda n, v: _unsigned(_payload(n, v, '\\"')),
    "deep-nesting": lambda n, v: _unsigned(f'{{"v":{v},"a":' + "[" * (n * 3 // 8) + "]" * (n * 3 // 8) + "}"),
    "bad-base64": lambda n, v: _fill(f"{v}", "*", ".a.b", n),
    "many-dots": lambda n, v: _fill(f"{v}", ".", "", n),
}


@pytest.mark.parametrize("shape", list(JWS_SHAPES))
def test_checking_a_proof_is_linear(shape: str) -> None:
    checker = ProofChecker()

    def check(proof: str) -> None:
        checker.check(proof, method="GET", target_matches=lambda htu: True, access_token="t")

    assert_linear(JWS_SHAPES[shape], check)


@pytest.mark.parametrize("shape", list(JWS_SHAPES))
def test_parsing_a_token_is_linear(shape: str) -> None:
    def parse(token: str) -> None:
        parsed = parse_compact(token)
        json_object(parsed.payload, "payload")

    # The parser itself, with no length cap in front (the verifier's max_token_bytes is one).
    assert_linear(JWS_SHAPES[shape], parse)
