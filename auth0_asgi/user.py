"""Auth0User: the verified token's subject, as Starlette's authentication expects it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.authentication import BaseUser

from ._tokens.delegation import delegation_chain

__all__ = ["Auth0User", "granted_scopes"]


def granted_scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    """The scopes a token grants: its space-separated `scope` plus Auth0's `permissions` list.

    A claim of the wrong type grants nothing rather than failing the request: the token is
    authentic, and a scope check that needs the grant will refuse with 403 anyway.
    """
    scopes: set[str] = set()
    scope_claim = claims.get("scope")
    if isinstance(scope_claim, str):
        # RFC 6749 §3.3: scope-tokens are separated by a single space, nothing else: a tab or a
        # no-break space is part of a (then invalid) token, never a separator.
        scopes.update(scope_claim.split(" "))
        scopes.discard("")
    permissions = claims.get("permissions")
    if isinstance(permissions, list):
        scopes.update([item for item in permissions if isinstance(item, str)])
    return frozenset(scopes)


class Auth0User(BaseUser):
    """The authenticated caller: `request.user` on a protected path.

    `claims` holds every verified claim of the access token; `identity` and `display_name`
    are its `sub` (for a client-credentials token, ``<client-id>@clients``); `scopes` is what
    `granted_scopes` derives from it.

    Read-only, all the way down: one user serves every request that carries the same token
    (the verified-token cache), so its attributes cannot be set and the middleware's claims
    (`auth0_asgi` freezes them) refuse every change with TypeError; ``dict(user.claims)`` or
    ``copy.deepcopy(user.claims)`` is a copy to change.
    """

    __slots__ = ("claims", "is_anonymous", "scopes", "sorted_scopes")

    claims: Mapping[str, Any]
    scopes: frozenset[str]
    sorted_scopes: tuple[str, ...]
    #: Whether the token is an Auth0 anonymous session's (a subject starting ``anon@``): refused
    #: except under `anonymous_prefixes`.
    is_anonymous: bool

    def __init__(self, claims: Mapping[str, Any]) -> None:
        scopes = granted_scopes(claims)
        # Through the slots themselves, since __setattr__ refuses (a new token builds one of
        # these on the hot path: the descriptors cost half of object.__setattr__).
        _set_claims(self, claims)
        _set_scopes(self, scopes)
        # `scopes` in order, as `request.auth.scopes` lists them.
        _set_sorted_scopes(self, tuple(sorted(scopes)))
        subject = claims.get("sub")
        _set_is_anonymous(self, isinstance(subject, str) and subject.startswith("anon@"))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Auth0User is shared by every request with its token: {name!r} cannot be set")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Auth0User is shared by every request with its token: {name!r} cannot be deleted")

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.identity

    @property
    def identity(self) -> str:
        subject = self.claims.get("sub")
        return subject if isinstance(subject, str) else ""

    @property
    def delegation_chain(self) -> tuple[str, ...]:
        """RFC 8693 delegation: the `sub` of every actor in the `act` chain, the current actor
        first; empty when nobody acts for the subject."""
        return delegation_chain(self.claims)

    @property
    def actor(self) -> str | None:
        """The current actor (`act.sub`) of a delegated token, such as the agent acting for the user."""
        chain = self.delegation_chain
        return chain[0] if chain else None

    @property
    def is_machine(self) -> bool:
        """Whether the token is machine-to-machine: Auth0's client-credentials grant (`gty`
        ``client-credentials``). A subject ending ``@clients`` is not enough: a user id may end so."""
        return self.claims.get("gty") == "client-credentials"

    @property
    def proof_key_thumbprint(self) -> str | None:
        """With a DPoP-bound token, the RFC 7638 thumbprint of the key its proofs are signed with
        (its `cnf.jkt`, which the middleware checked against the request's proof); else None."""
        confirmation = self.claims.get("cnf")
        jkt = confirmation.get("jkt") if isinstance(confirmation, Mapping) else None
        return jkt if isinstance(jkt, str) else None

    def __repr__(self) -> str:
        return f"Auth0User(identity={self.identity!r})"


_set_claims = vars(Auth0User)["claims"].__set__
_set_scopes = vars(Auth0User)["scopes"].__set__
_set_sorted_scopes = vars(Auth0User)["sorted_scopes"].__set__
_set_is_anonymous = vars(Auth0User)["is_anonymous"].__set__
