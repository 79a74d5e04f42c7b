"""Reading the credentials out of a request's headers: the Authorization field (RFC 6750 §2.1,
RFC 9449 §7.1) and, with the DPoP scheme, the `DPoP` proof field (RFC 9449 §4.1)."""

from __future__ import annotations

from typing import Final, NamedTuple

from auth0_asgi._headers import RequestHeaders
from auth0_asgi.errors import InvalidDPoPProofError, InvalidRequestError, MalformedTokenError, MissingTokenError

__all__ = [
    "BEARER",
    "CREDENTIAL_HEADERS",
    "DPOP",
    "Credentials",
    "authorization_scheme",
    "read_credentials",
    "scheme_label",
]

BEARER: Final = "Bearer"
DPOP: Final = "DPoP"
# RFC 9110 §11.1: the scheme is case-insensitive.
_SCHEMES: Final = {b"bearer": BEARER, b"dpop": DPOP}


# A NamedTuple's own constructor is a Python function; every protected request builds one of
# each of these, so they are made with tuple's constructor directly (a third less time).
_new_tuple: Final = tuple.__new__


class Credentials(NamedTuple):
    """What a request presents: its scheme (`BEARER` or `DPOP`), its token and, with DPoP, its proof."""

    scheme: str
    token: str
    proof: str | None


#: The fields credentials are read from.
CREDENTIAL_HEADERS: Final = frozenset({b"authorization", b"dpop"})


def _scheme(value: bytes) -> str | None:
    parts = value.split(None, 1)
    return _SCHEMES.get(parts[0].lower()) if parts else None


def authorization_scheme(headers: RequestHeaders) -> str | None:
    """The scheme of the request's only Authorization field, if it is one we know; else None."""
    authorization = headers.get(b"authorization", ())
    return _scheme(authorization[0]) if len(authorization) == 1 else None


def scheme_label(scheme: str | None) -> str | None:
    """What events and metrics call `scheme` (`authorization_scheme`'s): ``bearer``, ``dpop`` or None."""
    return scheme.lower() if scheme is not None else None


def read_credentials(headers: RequestHeaders, schemes: frozenset[str]) -> Credentials:
    """The credentials a request presents in `headers` (`CREDENTIAL_HEADERS` gathered), with one of `schemes`.

    Raises MissingTokenError when there is no Authorization field or it uses a scheme not in
    `schemes` (such a request carries none of our credentials); InvalidRequestError when the
    field is repeated, its token empty or split by whitespace, a DPoP token comes without a
    proof or a Bearer token with one; MalformedTokenError when the token is not ASCII;
    InvalidDPoPProofError when there are several proofs.
    """
    authorization = headers.get(b"authorization", ())
    proofs = headers.get(b"dpop", ())
    if len(authorization) > 1:
        raise InvalidRequestError("several Authorization headers")
    if not authorization:
        raise MissingTokenError()
    # One split as bytes (ASCII whitespace separates HTTP fields, and it is cheaper than
    # decoding first): the scheme, the token, and anything after whitespace inside it.
    parts = authorization[0].split(None, 2)
    scheme = _SCHEMES.get(parts[0].lower()) if parts else None
    if scheme is None or scheme not in schemes:
        raise MissingTokenError()
    if len(parts) == 1:
        raise InvalidRequestError("empty token")
    if len(parts) > 2:
        raise InvalidRequestError("whitespace inside the token")
    if not parts[1].isascii():
        # RFC 6750 §2.1 b64token, RFC 9449 §7.1: ASCII only. Refused here, before a DPoP
        # proof's ath hashes it or anything else reads it.
        raise MalformedTokenError("the token is not ASCII")
    token = parts[1].decode("latin-1")
    if scheme == BEARER:
        if proofs and DPOP in schemes:
            # A proof beside a bearer token means the client meant DPoP: ambiguous, so refused.
            raise InvalidRequestError("a DPoP proof with a Bearer token")
        return _new_tuple(Credentials, (BEARER, token, None))
    if not proofs:
        raise InvalidRequestError("the DPoP scheme without a DPoP proof")
    if len(proofs) > 1:
        raise InvalidDPoPProofError("several DPoP headers")  # RFC 9449 §4.3 check 1
    return _new_tuple(Credentials, (DPOP, token, proofs[0].decode("latin-1")))
