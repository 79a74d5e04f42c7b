"""RFC 6750 and RFC 9449 answers: the JSON body and the WWW-Authenticate fields of a refusal."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from starlette.responses import Response

from auth0_asgi.errors import (
    AuthenticationError,
    InsufficientScopeError,
    InsufficientUserAuthenticationError,
    TemporarilyUnavailableError,
)

from .credentials import DPOP

__all__ = ["Challenges", "quote"]

_EXPOSE_CHALLENGE: Final = (b"access-control-expose-headers", b"WWW-Authenticate")
_EXPOSE_RETRY_AFTER: Final = (b"access-control-expose-headers", b"Retry-After")


def quote(value: str) -> str:
    """An RFC 9110 §5.6.4 quoted-string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class Challenges:
    """How refusals are answered: one WWW-Authenticate field per accepted scheme.

    `schemes` are the accepted schemes in the order they are offered, `realm` their realm,
    `dpop_algorithms` the proof algorithms the DPoP challenge lists (RFC 9449 §7.1 `algs`) and
    `resource_metadata` the URL of the protected resource metadata every challenge names
    (RFC 9728 §5.1), if any.
    """

    realm: str
    schemes: tuple[str, ...]
    dpop_algorithms: tuple[str, ...] = ()
    resource_metadata: str = ""

    def _field(self, scheme: str, error: AuthenticationError | None, scopes: str) -> bytes:
        params = [f"realm={quote(self.realm)}"]
        # RFC 6750 §3.1: a request without credentials gets no error attribute.
        if error is not None and error.error is not None:
            params.append(f"error={quote(error.error)}")
            params.append(f"error_description={quote(error.description)}")
            if isinstance(error, InsufficientUserAuthenticationError):
                # RFC 9470 §3: what the next authentication must meet, so the client can ask for it.
                if error.acr_values:
                    params.append(f"acr_values={quote(' '.join(error.acr_values))}")
                if error.max_age is not None:
                    params.append(f"max_age={quote(str(error.max_age))}")
        if scopes:
            params.append(f"scope={quote(scopes)}")
        if self.resource_metadata:
            params.append(f"resource_metadata={quote(self.resource_metadata)}")
        if scheme == DPOP:
            params.append(f"algs={quote(' '.join(self.dpop_algorithms))}")
        return f"{scheme} {', '.join(params)}".encode("latin-1")

    def response(self, error: AuthenticationError, used_scheme: str | None, scopes: Iterable[str] = ()) -> Response:
        """The JSON response for `error`, raised for credentials presented with `used_scheme`.

        The error attributes go on the challenge of the scheme the client used; the other
        accepted schemes are offered bare. When the scheme is not known (several Authorization
        fields) every challenge carries them. Every challenge of a 401 names `scopes`, what the
        request needs (so that a client asks for them at once); of a 403, the scopes the error
        names (RFC 6750 §3: `scope` is the scope of the access request, whatever the error).
        """
        body: dict[str, str] = {"detail": error.description}
        if error.error is not None:
            body["error"] = error.error
        content = json.dumps(body, separators=(",", ":")).encode("utf-8")
        response = Response(content, status_code=error.status_code, media_type="application/json")
        if isinstance(error, TemporarilyUnavailableError):
            # Not a problem with the credentials, so no challenge: tell the client when to retry.
            response.headers["Retry-After"] = str(error.retry_after)
            response.raw_headers.append(_EXPOSE_RETRY_AFTER)
            return response
        if isinstance(error, InsufficientScopeError):
            named = " ".join(error.required_scopes)
        else:
            named = " ".join(sorted(scopes)) if error.status_code == 401 else ""
        targeted = used_scheme if used_scheme in self.schemes else None
        for scheme in self.schemes:
            carries_error = targeted is None or scheme == targeted
            field = self._field(scheme, error if carries_error else None, named)
            response.raw_headers.append((b"www-authenticate", field))
        # A browser client (an MCP client in a web page) may only read what is exposed to it.
        response.raw_headers.append(_EXPOSE_CHALLENGE)
        return response
