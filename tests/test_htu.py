"""The `htu` rule: RFC 3986 §6.2.2/§6.2.3 normal forms, and which origin a request was sent to."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette

from auth0_asgi import Auth0Middleware, ConfigurationError
from auth0_asgi._binding.htu import ORIGIN_HEADERS, Origins, _request_paths
from auth0_asgi._headers import gather
from auth0_asgi._uri import normalise_origin, normalise_url
from auth0_asgi.dpop import ProofChecker, _expected_ath
from auth0_asgi.errors import InvalidDPoPProofError
from auth0_asgi.testing import DPoPKey, LocalIssuer


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("http://a.example/x", "http://a.example/x"),
        ("HTTP://A.Example:80/x", "http://a.example/x"),
        ("https://a.example:443", "https://a.example/"),
        ("https://a.example:", "https://a.example/"),
        ("https://a.example:0443/x", "https://a.example/x"),
        ("https://a.example:8443/x", "https://a.example:8443/x"),
        ("http://a.example:000/x", "http://a.example:0/x"),
        ("wss://a.example/ws", "https://a.example/ws"),
        ("ws://a.example:80/ws", "http://a.example/ws"),
        ("http://a.example/%7e%41%2f%c3%a9", "http://a.example/~A%2F%C3%A9"),
        ("http://a.example/a/./b/../c", "http://a.example/a/c"),
        ("http://a.example/a/b/..", "http://a.example/a/"),
        ("http://a.example/a/b/.", "http://a.example/a/b/"),
        ("http://a.example/../../a", "http://a.example/a"),
        ("http://a.example/%2E%2E/a", "http://a.example/a"),
        ("http://a.example/X/Y/", "http://a.example/X/Y/"),
        ("http://a.example/x?q=1#f", "http://a.example/x"),
        ("http://[::1]:8000/x", "http://[::1]:8000/x"),
        ("http://%61.example/x", "http://a.example/x"),
        ("http://a.example/x;p=1:@!$&'()*+,=", "http://a.example/x;p=1:@!$&'()*+,="),
    ],
)
def test_urls_are_normalised(url: str, normal: str) -> None:
    assert normalise_url(url) == normal


@pytest.mark.parametrize(
    "url",
    [
        "/relative",
        "//a.example/x",
        "ftp://a.example/x",
        "http://user@a.example/x",
        "http://user:pw@a.example/x",
        "http:///x",
        "http://a.example:port/x",
        "http://a example/x",
        "http://a.example/%zz",
        "http://a.example/%",
        "http://a.example/a b",
        "http://a.example/\u00e9",
        "",
    ],
)
def test_what_is_not_an_absolute_http_url_is_refused(url: str) -> None:
    assert normalise_url(url) is None


@pytest.mark.parametrize(
    ("origin", "normal"),
    [
        ("https://API.example.com", "https://api.example.com"),
        ("https://api.example.com/", "https://api.example.com"),
        ("https://api.example.com:443", "https://api.example.com"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("https://api.example.com/v1", None),
        ("https://api.example.com//", None),
        ("https://api.example.com?x", None),
        ("https://api.example.com#x", None),
        ("api.example.com", None),
    ],
)
def test_configured_origins_are_origins_only(origin: str, normal: str | None) -> None:
    assert normalise_origin(origin) == normal


def _scope(**overrides: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "scheme": "http",
        "path": "/api/x",
        "raw_path": b"/api/x",
        "root_path": "",
        "headers": [(b"host", b"api.test:8000")],
        "server": ("10.0.0.5", 8000),
        "client": ("10.0.0.9", 5000),
    }
    scope.update(overrides)
    return scope


@pytest.mark.parametrize(
    ("origins", "scope", "htu", "matches"),
    [
        pytest.param(Origins(), _scope(), "http://api.test:8000/api/x", True, id="host-header"),
        pytest.param(Origins(), _scope(headers=[]), "http://10.0.0.5:8000/api/x", True, id="no-host-uses-server"),
        pytest.param(
            Origins(), _scope(headers=[], server=("s.test", None)), "http://s.test/api/x", True, id="server-no-port"
        ),
        pytest.param(
            Origins(), _scope(headers=[], server=None), "http://10.0.0.5:8000/api/x", False, id="no-host-no-server"
        ),
        pytest.param(
            Origins(), _scope(raw_path=None, path="/api/a b"), "http://api.test:8000/api/a%20b", True, id="no-raw-path"
        ),
        pytest.param(
            Origins(), _scope(raw_path=b"/api/x?y=1"), "http://api.test:8000/api/x", True, id="raw-path-query"
        ),
        pytest.param(
            Origins(), _scope(root_path="/base"), "http://api.test:8000/base/api/x", True, id="root-path-added"
        ),
        pytest.param(
            Origins(),
            _scope(root_path="/base", raw_path=b"/base/api/x"),
            "http://api.test:8000/base/api/x",
            True,
            id="root-path-already-in-path",
        ),
        pytest.param(
            Origins(), _scope(raw_path=b"/api/\xc3\xa9"), "http://api.test:8000/api/%C3%A9", True, id="raw-non-ascii"
        ),
        pytest.param(Origins(), _scope(), "http://evil/api/x", False, id="other-host"),
        pytest.param(Origins(), _scope(), "not a url", False, id="garbage-htu"),
        pytest.param(
            Origins(trusted_proxies=["10.0.0.0/24"]),
            _scope(headers=[(b"host", b"api.test:8000"), (b"x-forwarded-host", b"pub.example")]),
            "http://pub.example/api/x",
            True,
            id="trusted-proxy",
        ),
        pytest.param(
            Origins(trusted_proxies=["10.0.0.0/24"]),
            _scope(client=("unix-socket", 0), headers=[(b"host", b"h"), (b"x-forwarded-host", b"pub.example")]),
            "http://pub.example/api/x",
            False,
            id="peer-not-an-ip",
        ),
        pytest.param(
            Origins(trusted_proxies=["10.0.0.0/24"]),
            _scope(client=None, headers=[(b"host", b"h"), (b"x-forwarded-host", b"pub.example")]),
            "http://pub.example/api/x",
            False,
            id="no-peer",
        ),
        pytest.param(
            Origins(trusted_proxies=["192.168.0.0/16"]),
            _scope(headers=[(b"host", b"h"), (b"x-forwarded-host", b"pub.example")]),
            "http://pub.example/api/x",
            False,
            id="peer-outside-the-proxies",
        ),
        pytest.param(
            Origins(["https://pub.example"]),
            _scope(raw_path=b"/api/%7Ex"),
            "https://pub.example/api/~x",
            True,
            id="configured-origin-path-normalised",
        ),
        pytest.param(
            Origins(["https://pub.example"]),
            _scope(raw_path=b"/api/%zz"),
            "https://pub.example/api/%25zz",
            False,
            id="configured-origin-broken-request-path",
        ),
    ],
)
def test_which_origin_the_request_was_sent_to(origins: Origins, scope: dict[str, Any], htu: str, matches: bool) -> None:
    assert origins.matches(htu, scope, gather(scope, ORIGIN_HEADERS)) is matches


def test_the_proof_checker_refuses_unknown_or_no_algorithms() -> None:
    with pytest.raises(ConfigurationError, match="AUTH0_DPOP_ALGORITHMS='HS256'"):
        ProofChecker(algorithms=["HS256"])
    with pytest.raises(ConfigurationError, match="AUTH0_DPOP_ALGORITHMS=''"):
        ProofChecker(algorithms=[])


def test_the_test_kit_makes_keys_for_every_proof_algorithm() -> None:
    assert DPoPKey("PS256").public_jwk["kty"] == "RSA"
    assert DPoPKey("EdDSA").public_jwk["crv"] == "Ed25519"
    with pytest.raises(ConfigurationError, match="algorithm='HS256'"):
        DPoPKey("HS256")


def test_a_replay_url_without_the_redis_extra_is_a_one_line_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What a worker without `pip install "auth0-asgi[redis]"` sees: the import of redis fails.
    monkeypatch.setitem(__import__("sys").modules, "redis.asyncio", None)
    monkeypatch.delitem(__import__("sys").modules, "auth0_asgi.redis", raising=False)
    issuer = LocalIssuer()
    with pytest.raises(ConfigurationError, match=r'needs redis: pip install "auth0-asgi\[redis\]"'):
        Auth0Middleware(Starlette(), settings=issuer.settings(dpop_replay_url="redis://127.0.0.1:1/0"), keys=issuer)


def test_long_urls_are_normalised_without_being_memoised() -> None:
    long_path = "/" + "a" * 3000
    assert normalise_url("HTTP://A.example" + long_path + "/./b") == "http://a.example" + long_path + "/b"


def test_a_long_proof_header_is_checked_every_time_rather_than_kept() -> None:
    key = DPoPKey()
    checker = ProofChecker()
    for _ in range(2):
        proof = key.proof("GET", "http://a.example/x", headers={"pad": "p" * 3000})
        checked = checker.check(proof, method="GET", target_matches=lambda htu: True, access_token=None)
        assert checked.thumbprint == key.thumbprint
    assert len(checker._headers) == 0
    checker.check(
        key.proof("GET", "http://a.example/x"), method="GET", target_matches=lambda htu: True, access_token=None
    )
    assert len(checker._headers) == 1


def test_the_header_memo_is_bounded_and_a_forgotten_header_is_checked_again() -> None:
    checker = ProofChecker()
    checker._headers.max_entries = 2
    keys = [DPoPKey() for _ in range(3)]
    for key in (keys[0], keys[1], keys[0], keys[2], keys[1]):
        proof = key.proof("GET", "http://a.example/x")
        checked = checker.check(proof, method="GET", target_matches=lambda htu: True, access_token=None)
        assert checked.thumbprint == key.thumbprint
        assert len(checker._headers) <= 2
    kept = {entry.key()[1] for entry in checker._headers.values()}
    assert kept == {keys[2].thumbprint, keys[1].thumbprint}  # full at keys[2]: emptied, then refilled


def test_the_token_hash_memo_is_bounded_and_never_confuses_two_tokens() -> None:
    key = DPoPKey()
    checker = ProofChecker()

    def check(proof_for: str, presented: str) -> None:
        proof = key.proof("GET", "http://a.example/x", access_token=proof_for)
        checker.check(proof, method="GET", target_matches=lambda htu: True, access_token=presented)

    check("token-a", "token-a")
    check("token-a", "token-a")  # from memory now
    with pytest.raises(InvalidDPoPProofError, match="ath is not the hash"):
        check("token-a", "token-b")  # token-a's hash is remembered; token-b's is its own
    with pytest.raises(InvalidDPoPProofError, match="ath is not the hash"):
        check("token-b", "token-a")
    for n in range(1100):
        check(f"t{n}", f"t{n}")
        assert len(_expected_ath) <= _expected_ath.max_entries
    kept = dict(_expected_ath)
    check("x" * 5000, "x" * 5000)  # longer than any real token: hashed, never kept
    assert dict(_expected_ath) == kept


def test_the_request_side_of_htu_is_remembered_only_for_short_paths() -> None:
    origins = Origins()
    long_path = "/" + "a" * 3000

    def scope(path: str) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "headers": [(b"host", b"a.example")],
        }

    _request_paths.clear()
    headers = {b"host": [b"a.example"]}
    assert origins.matches("http://a.example" + long_path, scope(long_path), headers)
    assert len(_request_paths) == 0
    assert origins.matches("http://a.example/short", scope("/short"), headers)
    assert not origins.matches("http://a.example/short", scope("/other"), headers)
    assert len(_request_paths) == 2
