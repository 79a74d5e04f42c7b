"""Which requests a middleware protects, and which scopes they need: decided on path segments."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from starlette.types import Scope

from .errors import ConfigurationError

__all__ = ["ProtectionRules", "candidate_paths", "scope_set", "segments"]

# RFC 6749 §3.3 scope-token characters: anything else could not be written into a
# WWW-Authenticate header safely.
_SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")

Segments = tuple[str, ...]


def segments(path: str) -> Segments:
    """Path segments as a permissive router might see them.

    Deciding protection on this normal form fails closed: `//`, `.`/`..`, `;params` and
    case variants of a protected path are protected too, whatever the app's router makes
    of them.
    """
    result: list[str] = []
    for raw in path.split("/"):
        segment = raw.split(";", 1)[0].casefold()
        if segment in ("", "."):
            continue
        if segment == "..":
            if result:
                result.pop()
            continue
        result.append(segment)
    return tuple(result)


def _route_path(scope: Scope) -> str:
    """The path the app routes on: `path` less `root_path`, as Starlette's router computes it."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path) and path[len(root_path) : len(root_path) + 1] in ("", "/"):
        return path[len(root_path) :]
    return path


def candidate_paths(scope: Scope) -> tuple[Segments, ...]:
    """Every path a request may be routed on, as segments.

    The full path, the path the router sees, and the path inside an absolute-form target
    (RFC 9112 §3.2.2, passed through verbatim by servers): protecting whichever of them
    matches fails closed, whatever a mounted app, a proxy or a catch-all route uses.
    """
    path: str = scope["path"]
    candidates = {path, _route_path(scope)}
    if not path.startswith("/"):
        candidates.add(urlsplit(path).path)
    return tuple({segments(candidate) for candidate in candidates})


@dataclass(frozen=True, slots=True)
class _Rule:
    segments: Segments
    scopes: frozenset[str]

    def matches(self, path_segments: Segments) -> bool:
        return path_segments[: len(self.segments)] == self.segments


def scope_set(scopes: str | Iterable[str], where: str) -> frozenset[str]:
    """`scopes` as a set, each checked to be an RFC 6749 scope-token; `where` names them in errors."""
    wanted = frozenset([scopes] if isinstance(scopes, str) else scopes)
    for scope_token in wanted:
        if not isinstance(scope_token, str) or not _SCOPE_TOKEN.fullmatch(scope_token):
            raise ConfigurationError(f"{where}: {scope_token!r} is not a valid scope")
    return wanted


def _prefix_segments(prefix: object) -> Segments:
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise ConfigurationError(f"protected prefix {prefix!r}: must be a path starting with '/'")
    return segments(prefix)


#: Decisions remembered per rule set: real apps see few distinct paths, and a flood of
#: made-up ones only empties the memo now and then.
_MAX_REMEMBERED_PATHS: Final = 4096


class ProtectionRules:
    """The protected prefixes and per-prefix scopes of one middleware, checked once here.

    Raises ConfigurationError for an empty prefix list, a prefix that is not a path, a scope
    prefix outside every protected prefix or a scope that is not an RFC 6749 scope-token.
    """

    __slots__ = ("_decisions", "_protected", "_scoped")

    def __init__(self, protected_prefixes: Iterable[str], required_scopes: Mapping[str, Iterable[str]]) -> None:
        self._protected = tuple(_Rule(_prefix_segments(p), frozenset()) for p in protected_prefixes)
        if not self._protected:
            raise ConfigurationError("protected_prefixes=[]: name at least one path prefix to protect")
        scoped = []
        for prefix, scopes in required_scopes.items():
            prefix_segments = _prefix_segments(prefix)
            if not self.protects((prefix_segments,)):
                raise ConfigurationError(f"required_scopes[{prefix!r}]: the prefix is not protected")
            scoped.append(_Rule(prefix_segments, scope_set(scopes, f"required_scopes[{prefix!r}]")))
        self._scoped = tuple(scoped)
        self._decisions: dict[tuple[str, str], frozenset[str] | None] = {}

    def decide(self, scope: Scope) -> frozenset[str] | None:
        """None when the request in `scope` is not protected, else the scopes it requires."""
        key = (scope["path"], scope.get("root_path", ""))
        try:
            return self._decisions[key]
        except KeyError:
            pass
        paths = candidate_paths(scope)
        decision = self.required_scopes(paths) if self.protects(paths) else None
        if len(self._decisions) >= _MAX_REMEMBERED_PATHS:
            self._decisions.clear()
        self._decisions[key] = decision
        return decision

    def protects(self, paths: Iterable[Segments]) -> bool:
        """Whether any of `paths` lies within a protected prefix."""
        return any(rule.matches(path) for rule in self._protected for path in paths)

    def required_scopes(self, paths: Iterable[Segments]) -> frozenset[str]:
        """The union of the scopes of every scope prefix that any of `paths` lies within."""
        if not self._scoped:
            return frozenset()
        paths = tuple(paths)
        return frozenset().union(*(rule.scopes for rule in self._scoped for path in paths if rule.matches(path)))
