"""Reading the Authorization field: what is remembered between requests, and what never is."""

from __future__ import annotations

from typing import Any

import pytest

from auth0_asgi import _credentials
from auth0_asgi._credentials import BEARER, DPOP, read_credentials
from auth0_asgi.errors import InvalidRequestError, MalformedTokenError, MissingTokenError

BOTH = frozenset({BEARER, DPOP})


def _scope(*headers: tuple[bytes, bytes]) -> dict[str, Any]:
    return {"type": "http", "headers": list(headers)}


@pytest.fixture(autouse=True)
def empty_memo() -> None:
    _credentials._READ.clear()


def test_a_value_read_once_is_read_the_same_from_memory() -> None:
    value = b"Bearer abc.def.ghi"
    first = read_credentials(_scope((b"authorization", value)), BOTH)
    assert {value: (BEARER, "abc.def.ghi")} == _credentials._READ
    again = read_credentials(_scope((b"authorization", b"Bearer " + value[7:])), BOTH)
    assert again == first
    assert (first.scheme, first.token, first.proof) == (BEARER, "abc.def.ghi", None)
    assert again.token is first.token  # one text, its hash computed once, for the token cache


def test_a_remembered_value_still_needs_a_scheme_this_reader_accepts() -> None:
    value = b"DPoP abc.def.ghi"
    read_credentials(_scope((b"authorization", value), (b"dpop", b"p.r.f")), BOTH)
    assert value in _credentials._READ
    with pytest.raises(MissingTokenError):
        read_credentials(_scope((b"authorization", value), (b"dpop", b"p.r.f")), frozenset({BEARER}))
    # And what depends on the other fields is checked every time.
    with pytest.raises(InvalidRequestError, match="without a DPoP proof"):
        read_credentials(_scope((b"authorization", value)), BOTH)
    with pytest.raises(InvalidRequestError, match="with a Bearer token"):
        read_credentials(_scope((b"authorization", b"Bearer abc.def.ghi"), (b"dpop", b"p.r.f")), BOTH)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (b"Bearer", InvalidRequestError),
        (b"Bearer a b", InvalidRequestError),
        ("Bearer t\u00e9".encode("latin-1"), MalformedTokenError),
        (b"Basic dXNlcjpwYXNz", MissingTokenError),
    ],
)
def test_a_refused_value_is_never_remembered(value: bytes, error: type[Exception]) -> None:
    for _ in range(3):
        with pytest.raises(error):
            read_credentials(_scope((b"authorization", value)), BOTH)
    assert _credentials._READ == {}


def test_the_memory_is_bounded_in_count_and_length() -> None:
    long_value = b"Bearer " + b"a" * _credentials._MAX_READ_LENGTH
    assert read_credentials(_scope((b"authorization", long_value)), BOTH).token == "a" * _credentials._MAX_READ_LENGTH
    assert _credentials._READ == {}
    for n in range(_credentials._MAX_READ + 10):
        read_credentials(_scope((b"authorization", b"Bearer t%d" % n)), BOTH)
        assert len(_credentials._READ) <= _credentials._MAX_READ
    assert b"Bearer t%d" % (_credentials._MAX_READ + 9) in _credentials._READ
