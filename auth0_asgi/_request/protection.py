"""Which requests a middleware protects, and what they require: prefixes matched on readings.

`ProtectionRules` holds one middleware's protected prefixes, per-prefix scopes and per-prefix
rules, checked once at start-up, and decides each request on every reading of its path that
`auth0_asgi._request.paths` yields (SECURITY.md, "Paths"): any reading inside a prefix protects it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, NamedTuple

from starlette.types import Scope

from auth0_asgi._memo import BoundedMemo, total_length
from auth0_asgi._tokens.scopes import scope_set
from auth0_asgi.errors import ConfigurationError

from .paths import SEPARATORS, Segments, candidate_paths, final_readings, readings, segments

if TYPE_CHECKING:
    from auth0_asgi.rules import Rule

__all__ = ["NOTHING_MORE", "ProtectionRules", "Requirement", "listed"]

# What a prefix may not hold: it is compared with decoded paths, which never hold a "%" escape,
# "?", "#" or a control, and a router never matches whitespace it was not given.
_NOT_IN_PREFIX: Final = re.compile(r"[%?#\s\x00-\x1f\x7f-\x9f]")


class Requirement(NamedTuple):
    """What a protected request must satisfy beyond a valid token: every one of `scopes`, and
    every one of `rules` (authorization rules, checked in order); `anonymous` says whether an
    Auth0 anonymous session's token will do (only where a prefix allows it)."""

    scopes: frozenset[str]
    rules: tuple[Rule, ...]
    anonymous: bool = False


#: A requirement beyond a valid token: none (the one object, so a request's can be compared by identity).
NOTHING_MORE: Final = Requirement(frozenset(), ())


@dataclass(frozen=True, slots=True)
class _Rule:
    segments: Segments
    scopes: frozenset[str]
    rules: tuple[Rule, ...] = ()

    def matches(self, path_segments: Segments) -> bool:
        return path_segments[: len(self.segments)] == self.segments


def _prefix_segments(prefix: object, where: str = "protected prefix") -> Segments:
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise ConfigurationError(f"{where} {prefix!r}: must be a path starting with '/'")
    if _NOT_IN_PREFIX.search(prefix):
        raise ConfigurationError(
            f"{where} {prefix!r}: write it decoded, as the router sees it: "
            "no '%', '?', '#', whitespace or control characters"
        )
    raw_segments = SEPARATORS.split(prefix)
    if any(segment in (".", "..") or ";" in segment for segment in raw_segments) or "\\" in prefix:
        # A prefix must name one place: readings would otherwise make it mean several.
        raise ConfigurationError(f"{where} {prefix!r}: no '.' or '..' segments, ';' or '\\'")
    return segments(prefix)


#: Decisions remembered per rule set: real apps see few distinct paths, and a flood of
#: made-up ones only empties the memo now and then. Longer paths are decided each time (a path
#: at four bytes a character: 2 MiB at most).
_REMEMBERED_PATHS: Final = 1024
_REMEMBERED_LENGTH: Final = 512


def listed(value: Iterable[str], name: str) -> Iterable[str]:
    """`value` when it is a list of paths; ConfigurationError for a string, which would read as
    one-letter paths (``"/api"`` as ``"/"``, ``"a"``, ...)."""
    if isinstance(value, str):
        raise ConfigurationError(f"{name}={value!r}: a list of prefixes, not a string: {name}=[{value!r}]")
    return value


class ProtectionRules:
    """The protected prefixes, per-prefix scopes and per-prefix rules of one middleware, checked once here.

    Raises ConfigurationError for an empty prefix list, a prefix that is not a plain path, a
    scope or rule prefix outside every protected prefix or a scope that is not an RFC 6749
    scope-token. `root_paths`: root paths the wrapped app sets for itself (a FastAPI app's
    own `root_path`), unseen in the scope the middleware gets but routed on all the same.
    """

    __slots__ = (
        "_anonymous",
        "_decisions",
        "_depth",
        "_protected",
        "_root_paths",
        "_ruled",
        "_scoped",
        "protected_prefixes",
    )

    def __init__(
        self,
        protected_prefixes: Iterable[str],
        required_scopes: Mapping[str, Iterable[str]],
        rules: Mapping[str, Iterable[Rule]] | None = None,
        *,
        root_paths: Iterable[str] = (),
        anonymous_prefixes: Iterable[str] = (),
        step_up: Mapping[str, Iterable[Rule]] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        # What to call each argument in a refusal: the middleware names the settings' variables.
        label = {"rules": "rules", "anonymous_prefixes": "anonymous_prefixes", "step_up": "step_up", **(labels or {})}
        self._root_paths = tuple(root_paths)
        #: The protected prefixes as given, for the start-up line that says what is protected.
        self.protected_prefixes = tuple(listed(protected_prefixes, "protected_prefixes"))
        self._protected = tuple(_Rule(_prefix_segments(p), frozenset()) for p in self.protected_prefixes)
        if not self._protected:
            raise ConfigurationError("protected_prefixes=[]: name at least one path prefix to protect")
        scoped = []
        for prefix, scopes in required_scopes.items():
            scoped.append(
                _Rule(self._inside(prefix, "required_scopes"), scope_set(scopes, f"required_scopes[{prefix!r}]"))
            )
        self._scoped = tuple(scoped)
        # A prefix's own rules, then its step-up requirement (sorting by depth keeps this order).
        self._ruled = tuple(
            _Rule(self._inside(prefix, label[where]), frozenset(), tuple(prefix_rules))
            for where, mapping in (("rules", rules), ("step_up", step_up))
            for prefix, prefix_rules in (mapping or {}).items()
        )
        self._anonymous = tuple(
            _Rule(self._inside(prefix, label["anonymous_prefixes"]), frozenset())
            for prefix in listed(anonymous_prefixes, label["anonymous_prefixes"])
        )
        every = (*self._protected, *self._scoped, *self._ruled, *self._anonymous)
        self._depth = max(len(rule.segments) for rule in every)
        self._decisions = BoundedMemo(
            self._decide, max_entries=_REMEMBERED_PATHS, max_length=_REMEMBERED_LENGTH, size=total_length
        )

    def _inside(self, prefix: str, where: str) -> Segments:
        prefix_segments = _prefix_segments(prefix, where)
        if not any(rule.matches(prefix_segments) for rule in self._protected):
            raise ConfigurationError(
                f"{where}[{prefix!r}]: the prefix is not protected: protect it (protected_prefixes) or leave it out"
            )
        return prefix_segments

    def decide(self, scope: Scope) -> Requirement | None:
        """None when the request in `scope` is not protected, else what it requires."""
        return self._decisions[scope["path"], scope.get("root_path", "")]

    def _decide(self, path_and_root_path: tuple[str, str]) -> Requirement | None:
        paths = candidate_paths(*path_and_root_path, self._root_paths)
        return self._requirement(paths) if self.protects(paths) else None

    def _readings(self, paths: Iterable[str]) -> set[Segments]:
        found: set[Segments] = {()}
        for path in paths:
            found.update(readings(path, self._depth))
        return found

    def protects(self, paths: Iterable[str]) -> bool:
        """Whether any reading of any of `paths` lies within a protected prefix."""
        found = self._readings(paths)
        return any(rule.matches(reading) for rule in self._protected for reading in found)

    def _requirement(self, paths: Iterable[str]) -> Requirement:
        scopes = self.required_scopes(paths)
        rules = self.required_rules(paths)
        # Allowed only when every way of reading the path ends within an allowing prefix: when
        # unsure, refuse.
        ends = {end for path in paths for end in final_readings(path, self._depth)} if self._anonymous else set()
        anonymous = bool(ends) and all(any(r.matches(end) for r in self._anonymous) for end in ends)
        return Requirement(scopes, rules, anonymous) if scopes or rules or anonymous else NOTHING_MORE

    def required_rules(self, paths: Iterable[str]) -> tuple[Rule, ...]:
        """The rules of every rule prefix that any reading of `paths` lies within, outermost first."""
        if not self._ruled:
            return ()
        found = self._readings(paths)
        matching = [rule for rule in self._ruled if any(rule.matches(reading) for reading in found)]
        return tuple(item for rule in sorted(matching, key=lambda r: len(r.segments)) for item in rule.rules)

    def required_scopes(self, paths: Iterable[str]) -> frozenset[str]:
        """The union of the scopes of every scope prefix that any reading of `paths` lies within."""
        if not self._scoped:
            return frozenset()
        found = self._readings(paths)
        return frozenset().union(*(rule.scopes for rule in self._scoped for reading in found if rule.matches(reading)))
