"""RFC 9470 step-up: whether the user's authentication behind a token is strong and recent enough.

Auth0 does not put `acr`, `amr` or `auth_time` in access tokens by itself (they are reserved
names there): a post-login Action copies them under namespaced claims, whose names
`StepUp` takes. Other authorization servers use the plain names, the defaults.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from auth0_asgi.errors import ConfigurationError, InsufficientUserAuthenticationError

from .jws import is_safe_number

__all__ = ["StepUp", "parse_step_up"]

#: How far an `auth_time` may lie ahead of this clock (a skewed tenant clock), in seconds.
_LEEWAY: Final = 5.0
_REQUIREMENT_KEYS: Final = frozenset({"acr_values", "max_age", "mfa"})


@dataclass(frozen=True, slots=True)
class StepUp:
    """One authentication requirement: the user authenticated with one of `acr_values` (or, with
    `mfa`, with `mfa` among the `amr` methods), and at most `max_age` seconds ago.

    `acr_claim`, `amr_claim` and `auth_time_claim` name the claims that carry them.
    """

    acr_values: tuple[str, ...] = ()
    max_age: int | None = None
    mfa: bool = False
    acr_claim: str = "acr"
    amr_claim: str = "amr"
    auth_time_claim: str = "auth_time"
    now: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        values = (self.acr_values,) if isinstance(self.acr_values, str) else tuple(self.acr_values)
        # The values go into a quoted challenge attribute, space-separated (RFC 9470 §3).
        if not all(isinstance(v, str) and v and v.isprintable() and " " not in v and '"' not in v for v in values):
            raise ConfigurationError(f"acr_values={self.acr_values!r}: give printable values without spaces")
        object.__setattr__(self, "acr_values", values)
        if self.max_age is not None and (type(self.max_age) is not int or self.max_age < 0):
            raise ConfigurationError(f"max_age={self.max_age!r}: whole seconds, 0 or more")
        if not values and self.max_age is None and not self.mfa:
            raise ConfigurationError("step_up(): name acr_values, max_age or mfa")
        for name in (self.acr_claim, self.amr_claim, self.auth_time_claim):
            if not isinstance(name, str) or not name:
                raise ConfigurationError(f"step-up claim name {name!r}: must be a non-empty string")

    def enforce(self, claims: Mapping[str, Any]) -> None:
        """Raise InsufficientUserAuthenticationError naming what the claims fall short of."""
        if (self.acr_values or self.mfa) and not self._strong_enough(claims):
            raise self._refusal("acr/amr below the requirement")
        if self.max_age is not None:
            auth_time = claims.get(self.auth_time_claim)
            now = self.now()
            if not is_safe_number(auth_time) or auth_time > now + _LEEWAY:
                raise self._refusal(f"{self.auth_time_claim} missing or not a time")
            if now - auth_time > self.max_age:
                raise self._refusal(f"authenticated {now - auth_time:.0f}s ago, over max_age {self.max_age}")

    def _strong_enough(self, claims: Mapping[str, Any]) -> bool:
        acr = claims.get(self.acr_claim)
        if isinstance(acr, str) and acr in self.acr_values:
            return True
        methods = claims.get(self.amr_claim)
        return self.mfa and isinstance(methods, list) and "mfa" in methods

    def _refusal(self, reason: str) -> InsufficientUserAuthenticationError:
        return InsufficientUserAuthenticationError(self.acr_values, self.max_age, reason)

    def describe(self) -> str:
        """The requirement in words, for the log and ``auth0-asgi explain``."""
        parts = []
        if self.acr_values:
            parts.append(f"{self.acr_claim} in {' '.join(self.acr_values)}")
        if self.mfa:
            parts.append(f"mfa in {self.amr_claim}")
        strength = " or ".join(parts)
        age = f"{self.auth_time_claim} within {self.max_age}s" if self.max_age is not None else ""
        return " and ".join(part for part in (strength, age) if part)


def parse_step_up(
    value: Mapping[str, Any], acr_claim: str, amr_claim: str, auth_time_claim: str, where: str = "AUTH0_STEP_UP"
) -> dict[str, StepUp]:
    """Prefix to requirement, from ``{"/api/pay": {"acr_values": [...], "max_age": 300, "mfa": true}}``,
    with the claims of those names."""
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{where}: map each prefix to its requirement")
    found: dict[str, StepUp] = {}
    for prefix, requirement in value.items():
        if not isinstance(requirement, Mapping) or not set(requirement) <= _REQUIREMENT_KEYS:
            raise ConfigurationError(f"{where}[{prefix!r}]: an object of acr_values, max_age and mfa")
        acr_values: Iterable[str] = requirement.get("acr_values", ())
        mfa = requirement.get("mfa", False)
        if not isinstance(acr_values, list | tuple) or not isinstance(mfa, bool):
            raise ConfigurationError(f"{where}[{prefix!r}]: acr_values is a list, mfa true or false")
        found[prefix] = StepUp(
            tuple(acr_values),
            requirement.get("max_age"),
            mfa,
            acr_claim=acr_claim,
            amr_claim=amr_claim,
            auth_time_claim=auth_time_claim,
        )
    return found
