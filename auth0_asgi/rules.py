"""Authorization rules: what a valid token must also grant on a path (403 `insufficient_scope`).

A rule is checked on every request, after the token is verified, whether the verified-token
cache served the token or not. Per prefix: ``Auth0Middleware(app, rules={"/api/admin":
[any_scope("admin", "root"), claim_equals("org_id", "acme")]})``; per route:
``Depends(auth0_asgi.fastapi.require(...))``.

- `all_scopes(*scopes)`: every scope (in `scope` or Auth0's `permissions`).
- `any_scope(*scopes)`: at least one of them.
- `claim_equals(name, value)`: the claim is exactly `value` (same JSON kind at every depth).
- `claim_includes(name, *values)`: the claim, a space-separated string or a list, holds every value.
- `claims_satisfy(predicate, name=...)`: your own test over the verified claims.
- `step_up(acr_values=..., max_age=..., mfa=...)`: RFC 9470, the user's authentication behind the
  token is strong and recent enough; a refusal is 401 `insufficient_user_authentication`.
- Delegation (RFC 8693 `act`): `never_delegated()`, `acting_for_user()`, `actor_in(*subjects)`,
  `delegation_within(*subjects)`.
- Token kinds: `machine_tokens_only()` (client credentials), `user_tokens_only()`.

A refusal is 403 `insufficient_scope` (RFC 6750 §3.1: the token is valid; another one with more
rights would do). Its challenge names the scopes when scopes are the reason, and nothing else
otherwise. A rule that raises refuses the request the same way and is logged at WARNING with
its name: never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final

from ._log import fields
from ._tokens.scopes import scope_set
from ._tokens.step_up import StepUp
from .errors import AuthenticationError, ConfigurationError, InsufficientScopeError
from .user import Auth0User

__all__ = [
    "Rule",
    "acting_for_user",
    "actor_in",
    "all_scopes",
    "any_scope",
    "claim_equals",
    "claim_includes",
    "claims_satisfy",
    "delegation_within",
    "machine_tokens_only",
    "never_delegated",
    "step_up",
    "user_tokens_only",
]

logger = logging.getLogger("auth0_asgi")

_MISSING: Final = object()


class Rule:
    """One authorization rule: a name for the log, a test over the verified user, and the scopes a
    refusal names (empty when the rule is not about scopes). `all_required` says whether every
    one of those scopes is needed (so the OpenAPI document can list them) or any one would do."""

    __slots__ = ("_test", "all_required", "name", "scopes")

    def __init__(
        self,
        name: str,
        test: Callable[[Auth0User], bool],
        scopes: frozenset[str] = frozenset(),
        *,
        all_required: bool = False,
    ) -> None:
        self.name = name
        self._test = test
        self.scopes = scopes
        self.all_required = all_required

    def enforce(self, user: Auth0User) -> None:
        """Raise InsufficientScopeError unless `user` passes (also when the test itself raises); a
        test that raises a refusal of its own (step-up's 401) refuses with it."""
        try:
            passed = self._test(user)
        except AuthenticationError:
            raise
        except Exception as exc:
            logger.warning(
                "authorization rule %s raised %s: refusing",
                self.name,
                type(exc).__name__,
                extra=fields("rule_raised", "rule_not_met", rule=self.name),
            )
            raise InsufficientScopeError(reason=f"rule {self.name} raised {type(exc).__name__}") from exc
        if passed is not True:
            raise InsufficientScopeError(self.scopes, reason=f"rule {self.name} not met")

    def __repr__(self) -> str:
        return f"<Rule {self.name}>"


def all_scopes(*scopes: str) -> Rule:
    """The token grants every one of `scopes`."""
    required = scope_set(scopes, f"all_scopes{scopes!r}")
    if not required:
        raise ConfigurationError("all_scopes(): name at least one scope")
    return Rule(
        f"all_scopes({' '.join(sorted(required))})", lambda user: required <= user.scopes, required, all_required=True
    )


def any_scope(*scopes: str) -> Rule:
    """The token grants at least one of `scopes`; a refusal names them all."""
    wanted = scope_set(scopes, f"any_scope{scopes!r}")
    if not wanted:
        raise ConfigurationError("any_scope(): name at least one scope")
    return Rule(f"any_scope({' '.join(sorted(wanted))})", lambda user: not wanted.isdisjoint(user.scopes), wanted)


def _check_name(name: object, where: str) -> str:
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"{where}: the claim name must be a non-empty string, not {name!r}")
    return name


def _json_kind(value: object) -> str | None:
    """The JSON kind of `value`, whatever Python class carries it (verified claims are frozen
    subclasses of dict and list); None for what JSON cannot hold."""
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: True is an int to Python, never a number to JSON
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return None


def _json_equal(claimed: Any, value: Any) -> bool:
    kind = _json_kind(claimed)
    if kind is None or kind != _json_kind(value):
        return False
    if kind == "array":
        return len(claimed) == len(value) and all(map(_json_equal, claimed, value))
    if kind == "object":
        return claimed.keys() == value.keys() and all(_json_equal(claimed[key], value[key]) for key in claimed)
    return bool(claimed == value)


def claim_equals(name: str, value: Any) -> Rule:
    """The claim `name` is exactly `value` as JSON: equal, and of the same JSON kind at every depth
    (``1`` is not ``True``, ``"1"`` is not ``1``; ``2`` and ``2.0`` are one number; a list or tuple
    is an array, a dict an object)."""
    _check_name(name, "claim_equals")
    if _json_kind(value) is None:
        raise ConfigurationError(f"claim_equals({name!r}): {type(value).__name__} is not a JSON value")
    return Rule(f"claim_equals({name}={value!r})", lambda user: _json_equal(user.claims.get(name, _MISSING), value))


def _members(claimed: object) -> frozenset[object]:
    if isinstance(claimed, str):
        return frozenset(claimed.split())
    if isinstance(claimed, list):
        return frozenset(item for item in claimed if isinstance(item, str | int) and not isinstance(item, bool))
    return frozenset()


def claim_includes(name: str, *values: str) -> Rule:
    """The claim `name` holds every one of `values`: a space-separated string (as `scope` is) or a
    list (as Auth0's `permissions` and custom role claims are)."""
    _check_name(name, "claim_includes")
    if not values:
        raise ConfigurationError(f"claim_includes({name!r}): name at least one value")
    wanted = frozenset(values)
    return Rule(
        f"claim_includes({name}: {' '.join(sorted(map(str, wanted)))})",
        lambda user: wanted <= _members(user.claims.get(name)),
    )


def claims_satisfy(predicate: Callable[[Mapping[str, Any]], bool], *, name: str | None = None) -> Rule:
    """Your own rule: `predicate(claims)` must return True (anything else refuses).

    `name` is how the log names it; default the predicate's own name. A predicate that raises
    refuses the request and is logged.
    """
    label = name or getattr(predicate, "__qualname__", None) or repr(predicate)
    # A read-only view: the claims are shared by every request with this token (the token cache).
    return Rule(f"claims_satisfy({label})", lambda user: predicate(MappingProxyType(user.claims)))


def step_up(
    acr_values: Iterable[str] = (),
    max_age: int | None = None,
    *,
    mfa: bool = False,
    acr_claim: str = "acr",
    amr_claim: str = "amr",
    auth_time_claim: str = "auth_time",
) -> Rule:
    """RFC 9470: the user authenticated with one of `acr_values` (or, with `mfa`, with ``mfa`` in
    the `amr` methods), and at most `max_age` seconds ago (by `auth_time`).

    A token that falls short gets 401 `insufficient_user_authentication` with `acr_values` and
    `max_age` on the challenge, so that the client has the user authenticate again. The claim
    names default to the standard ones; Auth0 needs an Action that adds them under namespaced
    names (docs/step-up.md), given here. Raises ConfigurationError for a requirement of nothing.
    """
    requirement = StepUp(
        tuple(acr_values), max_age, mfa, acr_claim=acr_claim, amr_claim=amr_claim, auth_time_claim=auth_time_claim
    )
    return _step_up_rule(requirement)


def _step_up_rule(requirement: StepUp) -> Rule:
    """The rule enforcing `requirement` (how the middleware turns AUTH0_STEP_UP into rules)."""

    def test(user: Auth0User) -> bool:
        requirement.enforce(user.claims)
        return True

    return Rule(f"step_up({requirement.describe()})", test)


def never_delegated() -> Rule:
    """The token acts for nobody else: no `act` claim (no On-Behalf-Of or other token exchange)."""
    return Rule("never_delegated", lambda user: not user.delegation_chain)


def acting_for_user() -> Rule:
    """Only a delegated token acting for a user: it has an actor, and its subject is a user (not a
    client-credentials token)."""
    return Rule("acting_for_user", lambda user: bool(user.delegation_chain) and not user.is_machine)


def actor_in(*subjects: str) -> Rule:
    """The current actor (`act.sub`) is one of `subjects`; an undelegated token fails."""
    wanted = _subjects(subjects, "actor_in")
    return Rule(f"actor_in({' '.join(sorted(wanted))})", lambda user: user.actor in wanted)


def delegation_within(*subjects: str) -> Rule:
    """Every actor in the chain, current and prior, is one of `subjects` (an undelegated token passes:
    add `acting_for_user()` to require delegation)."""
    wanted = _subjects(subjects, "delegation_within")
    return Rule(f"delegation_within({' '.join(sorted(wanted))})", lambda user: set(user.delegation_chain) <= wanted)


def _subjects(subjects: tuple[str, ...], where: str) -> frozenset[str]:
    if not subjects or not all(isinstance(s, str) and s for s in subjects):
        raise ConfigurationError(f"{where}(): name at least one subject, each a non-empty string")
    return frozenset(subjects)


def machine_tokens_only() -> Rule:
    """Only machine-to-machine tokens: Auth0's client-credentials grant (`gty` ``client-credentials``)."""
    return Rule("machine_tokens_only", lambda user: user.is_machine)


def user_tokens_only() -> Rule:
    """Only tokens issued for a user: not client credentials."""
    return Rule("user_tokens_only", lambda user: not user.is_machine)
