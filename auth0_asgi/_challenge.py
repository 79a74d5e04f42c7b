"""RFC 6750 answers: the JSON body and the WWW-Authenticate header for a refusal."""

from __future__ import annotations

import json

from starlette.responses import Response

from .errors import AuthenticationError, InsufficientScopeError, SigningKeysUnavailableError

__all__ = ["challenge_response", "quote"]


def quote(value: str) -> str:
    """An RFC 9110 §5.6.4 quoted-string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _www_authenticate(error: AuthenticationError, realm: str) -> str:
    params = [f"realm={quote(realm)}"]
    # RFC 6750 §3.1: a request without credentials gets no error attribute.
    if error.error is not None:
        params.append(f"error={quote(error.error)}")
        params.append(f"error_description={quote(error.description)}")
    if isinstance(error, InsufficientScopeError):
        params.append(f"scope={quote(' '.join(error.required_scopes))}")
    return "Bearer " + ", ".join(params)


def challenge_response(error: AuthenticationError, *, realm: str) -> Response:
    """The JSON response for `error`: status, `{"detail", "error"}` body and headers."""
    body: dict[str, str] = {"detail": error.description}
    if error.error is not None:
        body["error"] = error.error
    if isinstance(error, SigningKeysUnavailableError):
        # Not a problem with the credentials, so no challenge: tell the client when to retry.
        headers = {"Retry-After": str(error.retry_after)}
    else:
        headers = {"WWW-Authenticate": _www_authenticate(error, realm)}
    content = json.dumps(body, separators=(",", ":")).encode("utf-8")
    return Response(content, status_code=error.status_code, headers=headers, media_type="application/json")
