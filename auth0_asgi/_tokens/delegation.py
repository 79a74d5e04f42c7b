"""RFC 8693 §4.1 delegation: the `act` claim, read as the chain of actors behind a token.

``{"sub": "user", "act": {"sub": "agent", "act": {"sub": "service"}}}``: the agent acts for the
user now, and did so by way of the service before it. The outermost `act` is the current actor
(§4.1: "the most recent actor"); nested ones are prior actors, informational only. A token whose
`act` is not that shape is refused as malformed: a rule over a chain it cannot read could only
guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from auth0_asgi.errors import MalformedDelegationError

__all__ = ["MAX_CHAIN", "check_act", "delegation_chain"]

#: Deeper chains are refused: each hop is a token exchange, and nobody chains hundreds of them.
MAX_CHAIN: Final = 16
_MAX_ACTOR_LENGTH: Final = 1024


def check_act(claims: Mapping[str, Any]) -> None:
    """Raise MalformedDelegationError unless `act` is absent or a chain of objects with a `sub`."""
    actor = claims.get("act", None)
    if "act" in claims and actor is None:
        raise MalformedDelegationError("act is null")
    depth = 0
    while actor is not None:
        depth += 1
        if depth > MAX_CHAIN:
            raise MalformedDelegationError(f"act nests deeper than {MAX_CHAIN}")
        if not isinstance(actor, Mapping):
            raise MalformedDelegationError("act is not an object")
        subject = actor.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > _MAX_ACTOR_LENGTH:
            raise MalformedDelegationError("act without a usable sub")
        if "act" in actor and actor["act"] is None:
            raise MalformedDelegationError("act is null")
        actor = actor.get("act")


def delegation_chain(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """The actors' `sub`s, the current actor first; empty for a token nobody acts on. The claims
    must have passed `check_act` (the verifier checks every token)."""
    chain: list[str] = []
    actor = claims.get("act")
    while isinstance(actor, Mapping) and len(chain) < MAX_CHAIN:
        chain.append(actor["sub"])
        actor = actor.get("act")
    return tuple(chain)
