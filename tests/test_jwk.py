"""RFC 7638 thumbprints: the test vector of the RFC, and what the LocalIssuer publishes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from auth0_asgi._tokens.jwk import jwk_thumbprint, parse_jwks
from auth0_asgi.testing import LocalIssuer

from . import _inprocess as review

# RFC 7638 §3.1.
RFC_7638_KEY = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3"
    "oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZH"
    "zu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8"
    "awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}


def test_the_rfc_7638_example_thumbprint() -> None:
    assert jwk_thumbprint(RFC_7638_KEY) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_members_outside_the_required_ones_do_not_count() -> None:
    trimmed = {name: RFC_7638_KEY[name] for name in ("kty", "n", "e")}
    assert jwk_thumbprint({**trimmed, "use": "sig", "x5c": ["..."]}) == jwk_thumbprint(RFC_7638_KEY)


@pytest.mark.parametrize(
    "jwk",
    [
        pytest.param({"kty": "oct", "k": "c2VjcmV0"}, id="symmetric"),
        pytest.param({"kty": "RSA", "n": "abc"}, id="rsa-without-e"),
        pytest.param({"kty": "EC", "crv": "P-256", "x": "a", "y": 1}, id="ec-y-not-a-string"),
        pytest.param({}, id="no-kty"),
    ],
)
def test_keys_it_cannot_cover_are_refused(jwk: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="not an RSA, EC or OKP public JWK"):
        jwk_thumbprint(jwk)


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "ES384"])
def test_the_local_issuer_publishes_each_key_under_its_thumbprint(algorithm: str) -> None:
    issuer = LocalIssuer(algorithm=algorithm)
    (published,) = issuer.jwks()["keys"]
    assert published["kid"] == issuer.kid == jwk_thumbprint(published)


# From the outside review (issue 18), finding 9: a 500 on a key-set entry of the wrong shape.


@pytest.mark.parametrize("member", [{"alg": ["RS256"]}, {"crv": ["P-256"], "kty": "EC"}, {"kty": ["RSA"]}])
def test_a_key_set_entry_of_the_wrong_shape_is_skipped(member: dict[str, Any]) -> None:
    good = dict(review.ISSUER.jwks()["keys"][0])
    bad = {**good, "kid": "bad", **member}
    keys = parse_jwks(json.dumps({"keys": [bad, good]}).encode(), ["RS256", "ES256"])
    assert sorted(keys) == [good["kid"]]
