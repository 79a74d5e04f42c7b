"""Authorization rules: what a valid token must also grant on a path (403 `insufficient_scope`).

A rule is checked on every request, after the token is verified, whether the verified-token
cache served the token or not. Per prefix: ``Auth0Middleware(app, rules={"/api/admin":
[any_scope("admin", "root"), claim_equals("org_id", "acme")]})``; per route:
``Depends(auth0_asgi.fastapi.require(...))``.

- `all_scopes(*scopes)`: every scope (in `scope` or Auth0's `permissions`).
- `any_scope(*scopes)`: at least one of them.
- `claim_equals(name, value)`: the claim is exactly `value` (same JSON type).
- `claim_includes(name, *values)`: the claim, a space-separated string or a list, holds every value.
- `claims_satisfy(predicate, name=...)`: your own test over the verified claims.

A refusal is 403 `insufficient_scope` (RFC 6750 §3.1: the token is valid; another one with more
rights would do). Its challenge names the scopes when scopes are the reason, and nothing else
otherwise. A rule that raises refuses the request the same way and is logged at WARNING with
its name: never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

from ._log import fields
from ._scopes import scope_set
from .errors import ConfigurationError, InsufficientScopeError
from .user import Auth0User

__all__ = ["Rule", "all_scopes", "any_scope", "claim_equals", "claim_includes", "claims_satisfy"]

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
        """Raise InsufficientScopeError unless `user` passes (also when the test itself raises)."""
        try:
            passed = self._test(user)
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


def claim_equals(name: str, value: Any) -> Rule:
    """The claim `name` is exactly `value`: equal and of the same JSON type (``1`` is not ``True``)."""
    _check_name(name, "claim_equals")

    def test(user: Auth0User) -> bool:
        claimed = user.claims.get(name, _MISSING)
        return type(claimed) is type(value) and claimed == value

    return Rule(f"claim_equals({name}={value!r})", test)


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
