"""What a token's `cnf` claim demands of the request presenting it: DPoP (RFC 9449) and mTLS (RFC 8705).

- ``jkt``: only with the DPoP scheme and a proof signed by that key (`proof_key`);
- ``x5t#S256``: only from a client holding that certificate (`certificate`, asked only then);
- both: both proofs;
- anything else in `cnf` (or a `cnf` that is no object) binds the token to something we
  cannot check: refused as a bearer token (RFC 9449 §7.2, RFC 8705 §3).

Each is checked on every request, also when the verified-token cache served the token.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal, TypeAlias

from auth0_asgi.errors import BoundTokenError, CertificateBindingError, KeyBindingError

__all__ = ["MODES", "X5T", "Mode", "check_binding", "check_confirmation"]

#: A proof-of-possession mode, DPoP's (AUTH0_DPOP) and mTLS's (AUTH0_MTLS): `allowed`, a bound
#: or an unbound token; `required`, bound tokens only; `disabled`, no binding of that kind.
Mode: TypeAlias = Literal["allowed", "required", "disabled"]
MODES: Final[tuple[Mode, ...]] = ("allowed", "required", "disabled")
X5T: Final = "x5t#S256"
_UNBOUND: Final = object()


def check_binding(claims: Mapping[str, Any], thumbprint: str) -> None:
    """Raise KeyBindingError unless the token's `cnf.jkt` is `thumbprint` (RFC 9449 §6.1).

    Other `cnf` members are allowed; the comparison takes constant time.
    """
    confirmation = claims.get("cnf")
    jkt = confirmation.get("jkt") if isinstance(confirmation, dict) else None
    if not isinstance(jkt, str):
        raise KeyBindingError("the token has no cnf.jkt")
    if not hmac.compare_digest(jkt.encode("utf-8", "surrogateescape"), thumbprint.encode("ascii")):
        raise KeyBindingError("cnf.jkt is not the proof key's thumbprint")


def check_confirmation(
    claims: Mapping[str, Any],
    proof_key: str | None,
    certificate: Callable[[], str | None] | None,
    mtls: Mode,
) -> None:
    """Raise unless the request proves what the token's `cnf` demands.

    `proof_key`: the verified DPoP proof's key thumbprint (None for the Bearer scheme);
    `certificate`: gives the client certificate's thumbprint (None: none trusted), called only
    for a certificate-bound token; `mtls`: ``allowed``, ``required`` or ``disabled``.
    """
    confirmation = claims.get("cnf", _UNBOUND)
    if confirmation is _UNBOUND:
        if proof_key is not None:
            check_binding(claims, proof_key)  # raises: a DPoP scheme needs a bound token
        if mtls == "required":
            raise CertificateBindingError("an unbound token where a certificate-bound one is required")
        return
    # A null, empty or non-object cnf binds to something unknowable: refused below. Verified
    # claims hold JSON objects as dicts; check_binding reads cnf the same way.
    bound = confirmation if isinstance(confirmation, dict) else None
    if proof_key is not None:
        check_binding(claims, proof_key)
    elif bound is None or len(bound) != 1 or X5T not in bound:
        # RFC 9449 §7.2: a key-bound token sent as a bearer token is a downgrade.
        raise BoundTokenError("cnf claim on a bearer token")
    expected = bound.get(X5T) if bound is not None else None
    if expected is None:
        if mtls == "required":
            raise CertificateBindingError("a token bound to no certificate where one is required")
        return
    if mtls == "disabled":
        raise BoundTokenError("certificate-bound token, and AUTH0_MTLS is disabled")
    presented = certificate() if certificate is not None else None
    if presented is None or not isinstance(expected, str):
        raise CertificateBindingError("no trusted client certificate" if presented is None else "x5t#S256 not a string")
    if not _same_text(expected, presented):
        raise CertificateBindingError("cnf.x5t#S256 is not the client certificate's thumbprint")


def _same_text(expected: str, presented: str) -> bool:
    """Constant-time equality; a thumbprint is ASCII, so a token's non-ASCII value never matches."""
    try:
        return hmac.compare_digest(expected, presented)
    except TypeError:  # compare_digest takes ASCII str only
        return False
