"""Which requests a middleware protects, and which scopes they need: decided on path segments.

The rule (SECURITY.md, "Paths"): a request is protected when **any** reading of its path
lies within a protected prefix. Routers, proxies and apps disagree on what a path means:
Starlette routes ``/api/private/..`` literally, to ``/api/private/{param}``; a proxy or a
client resolves it to ``/api``; an app may decode ``%2e`` once more. So the decision looks at
every state a path passes through while its dot segments are resolved one at a time (the
literal segments, the fully resolved ones and every partial resolution between), of the full
path, the path below `root_path`, the path inside an absolute-form target, and each of those
percent-decoded once more. Case is folded, ``;params`` are cut and ``\\`` counts as ``/``:
each of those can only add readings, never remove one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, NamedTuple
from urllib.parse import unquote

from starlette.types import Scope

from .errors import ConfigurationError

if TYPE_CHECKING:
    from .rules import Rule

__all__ = [
    "ProtectionRules",
    "Requirement",
    "candidate_paths",
    "own_root_paths",
    "readings",
    "route_path",
    "scope_set",
    "segments",
]

# RFC 6749 §3.3 scope-token characters: anything else could not be written into a
# WWW-Authenticate header safely.
_SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
# Separators some server or proxy splits on: "/" always, "\\" on Windows-minded ones.
_SEPARATORS: Final = re.compile(r"[/\\]")

# RFC 3986 §3: scheme "://" authority, as it starts an absolute-form request target. Linear:
# a match may start only where a run of scheme characters starts (the lookbehind), and the
# possessive runs are read once, so a path of 60 kB of letters costs one scan, not 60k of them
# (the plain "[A-Za-z][A-Za-z0-9+.-]*://" tried every letter as a start: quadratic). Only where
# the authority ends matters, so the scheme may start at the run's first letter.
_ABSOLUTE_FORM: Final = re.compile(r"(?<![A-Za-z0-9+.-])[0-9+.-]*+[A-Za-z][A-Za-z0-9+.-]*+://[^/?#]*+")
# What a prefix may not hold: it is compared with decoded paths, which never hold a "%" escape,
# "?", "#" or a control, and a router never matches whitespace it was not given.
_NOT_IN_PREFIX: Final = re.compile(r"[%?#\s\x00-\x1f\x7f-\x9f]")

Segments = tuple[str, ...]


def _segment(raw: str) -> str:
    return raw.split(";", 1)[0].casefold()


def _resolve(path: str, on_push: Callable[[list[str]], None] | None = None) -> list[str]:
    """RFC 3986 §5.2.4 dot-segment removal in one pass; `on_push` sees the segments after each push."""
    stack: list[str] = []
    for raw in _SEPARATORS.split(path):
        segment = _segment(raw)
        if segment == "..":
            if stack:
                stack.pop()
        elif segment not in ("", "."):
            stack.append(segment)
            if on_push is not None:
                on_push(stack)
    return stack


def readings(path: str, depth: int) -> list[Segments]:
    """Every reading of `path` a router or proxy might route on, cut to `depth` segments.

    The segments held after each step of dot-segment removal that adds one. A prefix of the
    literal path is such a state (its segments are pushed before any ``..`` pops them), and so
    is a prefix of the fully resolved path; states longer than `depth` add nothing a rule of
    at most `depth` segments could match.
    """
    found: list[Segments] = []

    def keep(stack: list[str]) -> None:
        if len(stack) <= depth:
            found.append(tuple(stack))

    _resolve(path, keep)
    return found


def segments(path: str) -> Segments:
    """The fully resolved normal form of `path`: case-folded, `;params` cut, dot segments resolved.

    One reading among those `readings` yields; used where a path names a resource (the test
    issuer's endpoints, OpenAPI templates), never alone to decide protection.
    """
    return tuple(_resolve(path))


def route_path(scope: Scope) -> str:
    """The path the app routes on: `path` less `root_path`, as Starlette's router computes it."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path) and path[len(root_path) : len(root_path) + 1] in ("", "/"):
        return path[len(root_path) :]
    return path


def _below_and_above(path: str, root_path: str) -> str:
    """`path` as a router below `root_path` reads it, or the full path it is equivalent to.

    Starlette routes a path under `root_path` on what follows it, and any other path as it is:
    so ``/private`` and ``/api/private`` reach the same route when the root path is ``/api``.
    """
    if path.startswith(root_path) and path[len(root_path) : len(root_path) + 1] in ("", "/"):
        return path[len(root_path) :]
    return root_path.rstrip("/") + path


#: How far `.app` attributes are followed when looking for a wrapped app's own root path.
_MAX_WRAPPED_DEPTH: Final = 32


def own_root_paths(app: object) -> tuple[str, ...]:
    """The root paths a wrapped app (or an app it wraps, through `.app`) sets for itself, such
    as ``FastAPI(root_path="/api")``: a middleware outside it never sees them in the scope."""
    found: list[str] = []
    current: object = app
    for _ in range(_MAX_WRAPPED_DEPTH):
        root_path = getattr(current, "root_path", None)
        if isinstance(root_path, str) and root_path:
            found.append(root_path)
        current = getattr(current, "app", None)
        if current is None:
            break
    return tuple(found)


def candidate_paths(scope: Scope, root_paths: Iterable[str] = ()) -> frozenset[str]:
    """Every path string a request may be routed on.

    The full path, the path the router sees below the scope's `root_path` and below each of
    `root_paths` (set by the wrapped app itself), the full path a path outside a root path is
    equivalent to, the path inside an absolute-form target (RFC 9112 §3.2.2, passed through
    verbatim by servers), and each of them percent-decoded once more, for an app or proxy that
    decodes twice (``%252e`` reaching it as ``%2e``).
    """
    path: str = scope["path"]
    candidates = {path}
    for root_path in (scope.get("root_path", ""), *root_paths):
        if root_path:
            candidates.add(_below_and_above(path, root_path))
    absolute_form = _ABSOLUTE_FORM.search(path)
    if absolute_form is not None:
        # Also behind a root_path uvicorn prepends: "/base" + "http://host/api/private".
        candidates.add(path[absolute_form.end() :])
    candidates.update([unquote(candidate) for candidate in candidates if "%" in candidate])
    return frozenset(candidates)


class Requirement(NamedTuple):
    """What a protected request must satisfy beyond a valid token: every one of `scopes`, and
    every one of `rules` (authorization rules, checked in order)."""

    scopes: frozenset[str]
    rules: tuple[Rule, ...]


_NOTHING_MORE: Final = Requirement(frozenset(), ())


@dataclass(frozen=True, slots=True)
class _Rule:
    segments: Segments
    scopes: frozenset[str]
    rules: tuple[Rule, ...] = ()

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
    if _NOT_IN_PREFIX.search(prefix):
        raise ConfigurationError(
            f"protected prefix {prefix!r}: write it decoded, as the router sees it: "
            "no '%', '?', '#', whitespace or control characters"
        )
    raw_segments = _SEPARATORS.split(prefix)
    if any(segment in (".", "..") or ";" in segment for segment in raw_segments) or "\\" in prefix:
        # A prefix must name one place: readings would otherwise make it mean several.
        raise ConfigurationError(f"protected prefix {prefix!r}: no '.' or '..' segments, ';' or '\\'")
    return segments(prefix)


#: Decisions remembered per rule set: real apps see few distinct paths, and a flood of
#: made-up ones only empties the memo now and then.
_MAX_REMEMBERED_PATHS: Final = 4096


class ProtectionRules:
    """The protected prefixes, per-prefix scopes and per-prefix rules of one middleware, checked once here.

    Raises ConfigurationError for an empty prefix list, a prefix that is not a plain path, a
    scope or rule prefix outside every protected prefix or a scope that is not an RFC 6749
    scope-token. `root_paths`: root paths the wrapped app sets for itself (a FastAPI app's
    own `root_path`), unseen in the scope the middleware gets but routed on all the same.
    """

    __slots__ = ("_decisions", "_depth", "_protected", "_root_paths", "_ruled", "_scoped")

    def __init__(
        self,
        protected_prefixes: Iterable[str],
        required_scopes: Mapping[str, Iterable[str]],
        rules: Mapping[str, Iterable[Rule]] | None = None,
        *,
        root_paths: Iterable[str] = (),
    ) -> None:
        self._root_paths = tuple(root_paths)
        self._protected = tuple(_Rule(_prefix_segments(p), frozenset()) for p in protected_prefixes)
        if not self._protected:
            raise ConfigurationError("protected_prefixes=[]: name at least one path prefix to protect")
        scoped = []
        for prefix, scopes in required_scopes.items():
            scoped.append(
                _Rule(self._inside(prefix, "required_scopes"), scope_set(scopes, f"required_scopes[{prefix!r}]"))
            )
        self._scoped = tuple(scoped)
        self._ruled = tuple(
            _Rule(self._inside(prefix, "rules"), frozenset(), tuple(prefix_rules))
            for prefix, prefix_rules in (rules or {}).items()
        )
        self._depth = max(len(rule.segments) for rule in (*self._protected, *self._scoped, *self._ruled))
        self._decisions: dict[tuple[str, str], Requirement | None] = {}

    def _inside(self, prefix: str, where: str) -> Segments:
        prefix_segments = _prefix_segments(prefix)
        if not any(rule.matches(prefix_segments) for rule in self._protected):
            raise ConfigurationError(f"{where}[{prefix!r}]: the prefix is not protected")
        return prefix_segments

    def decide(self, scope: Scope) -> Requirement | None:
        """None when the request in `scope` is not protected, else what it requires."""
        key = (scope["path"], scope.get("root_path", ""))
        try:
            return self._decisions[key]
        except KeyError:
            pass
        paths = candidate_paths(scope, self._root_paths)
        decision = self._requirement(paths) if self.protects(paths) else None
        if len(self._decisions) >= _MAX_REMEMBERED_PATHS:
            self._decisions.clear()
        self._decisions[key] = decision
        return decision

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
        return Requirement(scopes, rules) if scopes or rules else _NOTHING_MORE

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
