"""The strict compact-JWS parser on its own: what it hands back, and whose error it raises."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from auth0_asgi._tokens import jws as _jws
from auth0_asgi._tokens.frozen import FrozenDict
from auth0_asgi._tokens.jws import json_object, parse_compact
from auth0_asgi.errors import MalformedTokenError

from . import _inprocess as review
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


@pytest.mark.parametrize(
    "text",
    [
        '{"a":1}',
        '{"a":1} ',
        ' {"a":1}',
        '\n{"a":1}\t',
        '{"a":1}x',
        '{"a":1}{}',
        "",
        " ",
        "1",
        '"s"',
        '{"a":',
        "nul",
        '{"a":NaN}',
        '{"a":1,"a":2}',
        '{"a":1e999}',
        "\x00",
        "{}",
        "[1,[2]]",
        "1 2",
    ],
)
def test_the_direct_scan_decodes_and_refuses_as_the_decoder_does(text: str) -> None:
    def outcome(decode: Callable[[str], Any]) -> tuple[str, Any]:
        try:
            return "value", decode(text)
        except ValueError as exc:
            return type(exc).__name__, str(exc).split(":")[0]  # the reason; positions may differ

    direct = outcome(lambda t: _jws._decode(_jws._FROZEN_JSON, _jws._FROZEN_SCAN, t))
    assert direct == outcome(_jws._FROZEN_JSON.decode)
    if direct[0] == "value" and isinstance(direct[1], dict):
        assert type(direct[1]) is FrozenDict


# From the outside review (issue 18), finding 9: claims JSON cannot hold.


@pytest.mark.anyio
@pytest.mark.parametrize("claims", [{"name": "\ud800"}, {"nested": {"x": ["\udfff"]}}], ids=["lone-high", "nested-low"])
async def test_a_claim_with_a_lone_surrogate_is_malformed(claims: dict[str, Any]) -> None:
    token = review.ISSUER.token(**claims)
    response = await review.call(
        review.middleware(review.starlette_app()), "/api/private", authorization=f"Bearer {token}"
    )
    review.assert_refused(response, (401, "invalid_token", "The access token is malformed"), "Bearer")


@pytest.mark.anyio
async def test_a_surrogate_pair_escape_is_a_valid_claim() -> None:
    token = review.ISSUER.token(name="\U0001f600")
    response = await review.call(
        review.middleware(review.starlette_app()), "/api/private", authorization=f"Bearer {token}"
    )
    assert response.status_code == 200


@pytest.mark.anyio
async def test_a_non_finite_number_in_the_payload_is_malformed() -> None:
    import jwt

    from auth0_asgi.testing._keys import IssuerKey

    assert isinstance(review.ISSUER._current, IssuerKey)
    payload = json.dumps(review.ISSUER.claims()).rstrip("}") + ',"size":1e99999}'
    token = jwt.api_jws.encode(
        payload.encode(), review.ISSUER._current.private, algorithm="RS256", headers={"kid": review.ISSUER.kid}
    )
    response = await review.call(
        review.middleware(review.starlette_app()), "/api/private", authorization=f"Bearer {token}"
    )
    review.assert_refused(response, (401, "invalid_token", "The access token is malformed"), "Bearer")
