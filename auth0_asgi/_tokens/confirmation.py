"""What a token's `cnf` claim demands of the request presenting it, as one table of bindings.

Each row of `BINDINGS` is one proof-of-possession method: the `cnf` member naming what the token
is bound to (RFC 7800 §3.1), how to read what the request presented for it, and the refusal
when the two differ. Today: DPoP (RFC 9449, ``jkt``: the key of the request's verified proof)
and mTLS (RFC 8705, ``x5t#S256``: the client certificate). A new method is one reader of what
the request presents and one row here. The rules, the same for every row:

- a method the request announces by its scheme (DPoP) binds: the token must carry that member,
  naming exactly what the request proved (other members may sit beside it);
- a token whose `cnf` names anything else, or only what the request did not announce, is bound
  to what a bearer request cannot show: refused as a downgrade (RFC 9449 §7.2, RFC 8705 §3),
  unless every member is one the request proves without announcing it (a certificate), which is
  then checked, and refused if the method is disabled;
- a method set to ``required`` refuses a token that lacks its member.

Each is checked on every request, also when the verified-token cache served the token.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal, NamedTuple, TypeAlias

from auth0_asgi.errors import BoundTokenError, CertificateBindingError, InvalidTokenError, KeyBindingError

__all__ = [
    "BINDINGS",
    "BINDINGS_BY_LABEL",
    "MODES",
    "X5T",
    "Binding",
    "Evidence",
    "Mode",
    "check_binding",
    "check_confirmation",
    "proved",
]

#: A proof-of-possession mode, DPoP's (AUTH0_DPOP) and mTLS's (AUTH0_MTLS): `allowed`, a bound
#: or an unbound token; `required`, bound tokens only; `disabled`, no binding of that kind.
Mode: TypeAlias = Literal["allowed", "required", "disabled"]
MODES: Final[tuple[Mode, ...]] = ("allowed", "required", "disabled")
JKT: Final = "jkt"
X5T: Final = "x5t#S256"
_UNBOUND: Final = object()


class Evidence(NamedTuple):
    """What a request presented beyond its token.

    `proof_key`: the RFC 7638 thumbprint of its verified DPoP proof's key (None: the Bearer
    scheme). `certificate`: gives its client certificate's RFC 8705 thumbprint (None: none that
    can be trusted), called only for a token bound to a certificate.
    """

    proof_key: str | None
    certificate: Callable[[], str | None] | None


class Binding(NamedTuple):
    """One proof-of-possession method: a row of `BINDINGS`."""

    #: The `cnf` member that binds a token to it.
    member: str
    #: What events, metrics and settings call it (``dpop``: AUTH0_DPOP, ``mtls``: AUTH0_MTLS).
    label: str
    #: True when the request says it uses the method (its scheme): then the token must be bound.
    announced: bool
    #: What the request presented for it; None when nothing.
    presented: Callable[[Evidence], str | None]
    #: The refusal when the request does not prove what the token names.
    error: type[InvalidTokenError]
    #: What the token is bound to, and what a request without it lacks, in a refusal's reason.
    thing: str
    absent: str


def _proof_key(evidence: Evidence) -> str | None:
    return evidence.proof_key


def _certificate(evidence: Evidence) -> str | None:
    return evidence.certificate() if evidence.certificate is not None else None


#: Every method, in the order they are checked.
BINDINGS: Final = (
    Binding(JKT, "dpop", True, _proof_key, KeyBindingError, "proof key", "no DPoP proof"),
    Binding(
        X5T, "mtls", False, _certificate, CertificateBindingError, "client certificate", "no trusted client certificate"
    ),
)
_BY_MEMBER: Final = {binding.member: binding for binding in BINDINGS}
BINDINGS_BY_LABEL: Final = {binding.label: binding for binding in BINDINGS}
# The rows as check_confirmation walks them, their fields unpacked once: it runs on every request
# with a bound token, where a NamedTuple's attribute reads add up (bench/overhead.py's mTLS row).
_ANNOUNCED: Final = tuple((row, row.presented) for row in BINDINGS if row.announced)
_UNANNOUNCED: Final = tuple((row, row.member, row.label, row.presented) for row in BINDINGS if not row.announced)
_UNANNOUNCED_MEMBERS: Final = frozenset(member for _, member, _, _ in _UNANNOUNCED)


def check_binding(claims: Mapping[str, Any], thumbprint: str) -> None:
    """Raise KeyBindingError unless the token's `cnf.jkt` is `thumbprint` (RFC 9449 §6.1).

    Other `cnf` members are allowed; the comparison takes constant time.
    """
    confirmation = claims.get("cnf")
    _check(_BY_MEMBER[JKT], confirmation if isinstance(confirmation, dict) else None, thumbprint)


def check_confirmation(claims: Mapping[str, Any], evidence: Evidence, modes: Mapping[str, Mode]) -> None:
    """Raise unless the request's `evidence` proves what the token's `cnf` demands.

    `modes`: each method's mode by its label (a label not given is ``allowed``). Raises the
    row's `error` (KeyBindingError, CertificateBindingError) when what was presented is missing
    or differs; BoundTokenError for a bound token presented as a bearer token, or with its
    method disabled.
    """
    confirmation = claims.get("cnf", _UNBOUND)
    # A null, empty or non-object cnf binds to something unknowable. Verified claims hold JSON
    # objects as dicts.
    bound = confirmation if isinstance(confirmation, dict) else None
    announced = False
    for row, presented_by in _ANNOUNCED:
        presented = presented_by(evidence)
        if presented is not None:
            announced = True
            _check(row, bound, presented)
    if confirmation is not _UNBOUND and not announced and (not bound or not bound.keys() <= _UNANNOUNCED_MEMBERS):
        raise BoundTokenError("cnf claim on a bearer token")  # RFC 9449 §7.2: a downgrade
    for row, member, label, presented_by in _UNANNOUNCED:
        if bound is None or member not in bound:
            if modes.get(label) == "required":
                held = "an unbound token" if confirmation is _UNBOUND else f"a token bound to no {row.thing}"
                raise row.error(f"{held} where a {row.thing}-bound one is required")
            continue
        if modes.get(label) == "disabled":
            raise BoundTokenError(f"{row.thing}-bound token, and AUTH0_{label.upper()} is disabled")
        _check(row, bound, presented_by(evidence))


def proved(claims: Mapping[str, Any]) -> str | None:
    """The label of the method an accepted token was bound by (``dpop``, ``mtls``; joined by
    ``+`` when several), or None for an unbound token; read once `check_confirmation` passed."""
    confirmation = claims.get("cnf")
    if not isinstance(confirmation, dict):
        return None
    labels = [row.label for row in BINDINGS if row.member in confirmation]
    return "+".join(labels) if labels else None


def _check(row: Binding, bound: dict[str, Any] | None, presented: str | None) -> None:
    """Raise `row.error` unless `bound` (the `cnf` object) names exactly `presented`."""
    expected = bound.get(row.member) if bound is not None else None
    if presented is None:
        raise row.error(row.absent)
    if not isinstance(expected, str):
        raise row.error(f"the token has no cnf.{row.member}" if expected is None else f"cnf.{row.member} not a string")
    try:
        same = hmac.compare_digest(expected, presented)  # constant time
    except TypeError:  # compare_digest takes ASCII str only: a non-ASCII value is no thumbprint
        same = False
    if not same:
        raise row.error(f"cnf.{row.member} is not the {row.thing}'s thumbprint")
