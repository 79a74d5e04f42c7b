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
    values = [value for name, value in scope["headers"] if name == b"authorization"]
    if not values:
        raise MissingTokenError()
    if len(values) > 1:
        raise InvalidRequestError("several Authorization headers")
    parts = values[0].decode("latin-1").split(maxsplit=1)
    # RFC 9110 §11.1: the scheme is case-insensitive; a request that uses another scheme
    # carries no bearer credentials at all.
    if not parts or parts[0].lower() != "bearer":
        raise MissingTokenError()
    token = parts[1].strip() if len(parts) > 1 else ""
    if not token:
        raise InvalidRequestError("empty bearer token")
    if len(token.split()) > 1:
        raise InvalidRequestError("whitespace inside the bearer token")
    return token
