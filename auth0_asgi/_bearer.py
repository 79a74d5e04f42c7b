"""Reading the bearer token out of a request's headers (RFC 6750 §2.1)."""

from __future__ import annotations

from starlette.types import Scope

from .errors import InvalidRequestError, MissingTokenError

__all__ = ["bearer_token"]


def bearer_token(scope: Scope) -> str:
    """The bearer token of the request in `scope`.

    Raises MissingTokenError when there is no Authorization header or it uses another scheme,
    InvalidRequestError when it is repeated, empty or has whitespace inside the token.
    """
    value: bytes | None = None
    for name, header_value in scope["headers"]:
        if name == b"authorization":
            if value is not None:
                raise InvalidRequestError("several Authorization headers")
            value = header_value
    if value is None:
        raise MissingTokenError()
    # Split as bytes: ASCII whitespace is what separates HTTP fields, and it is cheaper than
    # decoding first. RFC 9110 §11.1: the scheme is case-insensitive; a request that uses
    # another scheme carries no bearer credentials at all.
    parts = value.split(None, 1)
    if not parts or parts[0].lower() != b"bearer":
        raise MissingTokenError()
    token = parts[1].strip() if len(parts) > 1 else b""
    if not token:
        raise InvalidRequestError("empty bearer token")
    if len(token.split(None, 1)) > 1:
        raise InvalidRequestError("whitespace inside the bearer token")
    return token.decode("latin-1")
