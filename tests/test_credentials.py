"""Reading the Authorization field with one split: every spacing a client may send, and every refusal."""

from __future__ import annotations

import httpx
import pytest

from auth0_asgi._headers import RequestHeaders, gather
from auth0_asgi._request.credentials import BEARER, CREDENTIAL_HEADERS, DPOP, read_credentials
from auth0_asgi.errors import InvalidRequestError, MalformedTokenError, MissingTokenError
from auth0_asgi.testing import DPoPKey

from . import _inprocess as review

BOTH = frozenset({BEARER, DPOP})


def _scope(*headers: tuple[bytes, bytes]) -> RequestHeaders:
    """The credential fields of a request with `headers`, as the request gate gathers them."""
    return gather({"type": "http", "headers": list(headers)}, CREDENTIAL_HEADERS)


@pytest.mark.parametrize(
    "value",
    [b"Bearer t.o.k", b"bearer t.o.k", b"BEARER   t.o.k", b"Bearer\tt.o.k", b"  Bearer t.o.k \t ", b"Bearer t.o.k\r"],
)
def test_the_token_is_read_whatever_the_spacing_around_it(value: bytes) -> None:
    credentials = read_credentials(_scope((b"authorization", value)), BOTH)
    assert (credentials.scheme, credentials.token, credentials.proof) == (BEARER, "t.o.k", None)


@pytest.mark.parametrize(
    ("value", "error", "reason"),
    [
        (b"Bearer", InvalidRequestError, "empty token"),
        (b"Bearer \t ", InvalidRequestError, "empty token"),
        (b"Bearer a b", InvalidRequestError, "whitespace inside the token"),
        (b"Bearer a\tb c", InvalidRequestError, "whitespace inside the token"),
        (b"Bearer a\x0bb", InvalidRequestError, "whitespace inside the token"),
        ("Bearer t\u00e9".encode("latin-1"), MalformedTokenError, "not ASCII"),
        (b"Basic dXNlcjpwYXNz", MissingTokenError, "^Not authenticated$"),
        (b"", MissingTokenError, "^Not authenticated$"),
        (b"   ", MissingTokenError, "^Not authenticated$"),
    ],
)
def test_each_unusable_value_gets_its_own_refusal(value: bytes, error: type[Exception], reason: str) -> None:
    with pytest.raises(error, match=reason):
        read_credentials(_scope((b"authorization", value)), BOTH)


def test_a_scheme_this_reader_does_not_accept_carries_none_of_its_credentials() -> None:
    # Before the token is looked at: even an empty DPoP token is no credential of a Bearer-only reader.
    for value in (b"DPoP a.b.c", b"DPoP", b"DPoP a b"):
        with pytest.raises(MissingTokenError):
            read_credentials(_scope((b"authorization", value), (b"dpop", b"p.r.f")), frozenset({BEARER}))


def test_what_depends_on_the_other_fields_is_checked_after_the_token() -> None:
    with pytest.raises(InvalidRequestError, match="without a DPoP proof"):
        read_credentials(_scope((b"authorization", b"DPoP a.b.c")), BOTH)
    with pytest.raises(InvalidRequestError, match="with a Bearer token"):
        read_credentials(_scope((b"authorization", b"Bearer a.b.c"), (b"dpop", b"p.r.f")), BOTH)
    credentials = read_credentials(_scope((b"authorization", b"dpop a.b.c"), (b"dpop", b"p.r.f")), BOTH)
    assert (credentials.scheme, credentials.token, credentials.proof) == (DPOP, "a.b.c", "p.r.f")


# From the outside review (issue 18), finding 9: a DPoP token that is not ASCII.


@pytest.mark.anyio
async def test_a_dpop_token_that_is_not_ascii_is_refused_as_malformed() -> None:
    app = review.middleware(review.starlette_app())
    key = DPoPKey()
    proof = key.proof("GET", "http://testserver/api/private", access_token="x")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        response = await client.get(
            "/api/private", headers=[(b"authorization", "DPoP tök".encode("latin-1")), (b"dpop", proof.encode())]
        )
    review.assert_refused(response, (401, "invalid_token", "The access token is malformed"), "DPoP")
