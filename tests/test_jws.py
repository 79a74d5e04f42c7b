"""The strict compact-JWS parser on its own: what it hands back, and whose error it raises."""

from __future__ import annotations

import pytest

from auth0_asgi._jws import json_object, parse_compact
from auth0_asgi.errors import MalformedTokenError

from .conftest import b64url, forge


class ProofError(Exception):
    """Stands for another caller's error type (DPoP proofs will bring one)."""


def test_a_token_is_taken_apart_without_verifying_anything() -> None:
    token = forge({"alg": "RS256", "kid": "k"}, {"sub": "x"}, b"\x01\x02")
    parsed = parse_compact(token)
    assert parsed.header == {"alg": "RS256", "kid": "k"}
    assert parsed.payload == b'{"sub": "x"}'
    assert parsed.signature == b"\x01\x02"
    assert parsed.signing_input == token.rsplit(".", 1)[0].encode()


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        pytest.param("a.b", "not three base64url segments", id="two-segments"),
        pytest.param("e30AA.e30.", "segment is not canonical base64url", id="length-mod-4-is-1"),
        pytest.param(f"{b64url(b'[1]')}.e30.", "header is not a JSON object", id="header-array"),
        pytest.param(f"{b64url(b'{1')}.e30.", "header is not strict UTF-8 JSON", id="header-not-json"),
    ],
)
def test_defects_raise_the_callers_error(token: str, reason: str) -> None:
    with pytest.raises(ProofError, match=f"^{reason}$"):
        parse_compact(token, ProofError)
    with pytest.raises(MalformedTokenError):
        parse_compact(token)


def test_json_objects_refuse_duplicates_at_any_depth() -> None:
    with pytest.raises(ProofError, match="payload is not strict UTF-8 JSON"):
        json_object(b'{"a": {"b": 1, "b": 2}}', "payload", ProofError)
    assert json_object(b'{"a": {"b": 1}}', "payload") == {"a": {"b": 1}}
