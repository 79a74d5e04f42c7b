"""One settings field at a time: the algorithm allow-list, numbers and switches from text, lists."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Final

from auth0_asgi._tokens.algorithms import TOKEN_ALGORITHMS
from auth0_asgi.errors import ConfigurationError

__all__ = ["ASYMMETRIC_ALGORITHMS", "Tunable", "boolean", "check_algorithms", "split_list"]

#: The algorithms a JWKS of public keys can verify (`_algorithms`). HS* (and "none") are
#: refused at start-up: accepting them is the classic key-confusion hole (RFC 8725 §2.1, §3.1).
ASYMMETRIC_ALGORITHMS: Final = TOKEN_ALGORITHMS


def split_list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def check_algorithms(algorithms: tuple[str, ...]) -> tuple[str, ...]:
    if not algorithms:
        raise ConfigurationError("AUTH0_ALGORITHMS='': name at least one algorithm, such as 'RS256'")
    canonical = []
    for name in algorithms:
        upper = name.strip().upper()
        if upper not in ASYMMETRIC_ALGORITHMS:
            why = (
                "symmetric or unsigned algorithms cannot be verified with a JWKS of public keys"
                if upper == "NONE" or upper.startswith("HS")
                else "unknown algorithm"
            )
            allowed = ", ".join(sorted(ASYMMETRIC_ALGORITHMS))
            raise ConfigurationError(f"AUTH0_ALGORITHMS={name!r}: {why}; allowed: {allowed}")
        if upper not in canonical:
            canonical.append(upper)
    return tuple(canonical)


@dataclass(frozen=True, slots=True)
class Tunable:
    kind: type[int] | type[float]
    minimum: float
    minimum_allowed: bool

    def check(self, label: str, value: object, shown: object) -> None:
        """Raise ConfigurationError naming `label` and `shown` unless `value` is in range."""
        if self.kind is int:
            ok = type(value) is int and value >= self.minimum
            if not ok:
                raise ConfigurationError(f"{label}={shown!r}: must be an integer >= {self.minimum:g}")
            return
        bound = f">= {self.minimum:g}" if self.minimum_allowed else f"> {self.minimum:g}"
        refusal = ConfigurationError(f"{label}={shown!r}: must be a finite number {bound}")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise refusal
        if value < self.minimum or (value == self.minimum and not self.minimum_allowed):
            raise refusal

    def parse(self, label: str, text: str) -> int | float:
        """`text` from the environment as this tunable's number, checked."""
        try:
            value: int | float = self.kind(text.strip())
        except ValueError:
            kind = "an integer" if self.kind is int else "a number"
            raise ConfigurationError(f"{label}={text!r}: must be {kind}") from None
        self.check(label, value, text)
        return value


_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


def boolean(variable: str, text: str) -> bool:
    if text.lower() in _TRUE | _FALSE:
        return text.lower() in _TRUE
    raise ConfigurationError(f"{variable}={text!r}: must be true or false")


def json_object(variable: str, text: str) -> dict[str, Any]:
    """`text` as a JSON object, or ConfigurationError naming `variable`."""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ConfigurationError(f"{variable}={text!r}: must be a JSON object")
    return value
