"""The readings of a request's path: every way a router, proxy or app may read it.

The rule (SECURITY.md, "Paths"): a request is protected when **any** reading of its path
lies within a protected prefix (`auth0_asgi._request.protection` decides on them). Routers, proxies
and apps disagree on what a path means: Starlette routes ``/api/private/..`` literally, to
``/api/private/{param}``; a proxy or a client resolves it to ``/api``; an app may decode
``%2e`` once more. So the decision looks at every state a path passes through while its dot
segments are resolved one at a time (the literal segments, the fully resolved ones and every
partial resolution between), of the full path, the path below and above each root path, the
path inside an absolute-form target, and each of those percent-decoded once more. Case is
folded. A ``\\`` is read both ways, as ``/`` and as part of a segment, and ``;params`` both
cut and kept: each changes which segment a ``..`` removes (``/api/api\\private/../private`` is
``/api/private`` only when ``\\`` is no separator, ``/api/..;x/../private`` only when ``..;x``
is no dot segment), so no one reading covers the others.
"""

from __future__ import annotations

import functools
import inspect
import re
import types
from collections.abc import Callable, Iterable
from typing import Final, NamedTuple
from urllib.parse import unquote

from starlette.types import Scope

from auth0_asgi._uri import below_root, full_path

__all__ = [
    "SEPARATORS",
    "RootPaths",
    "Segments",
    "candidate_paths",
    "final_readings",
    "own_root_paths",
    "readings",
    "route_path",
    "segments",
]

# Separators some server or proxy splits on: "/" always, "\\" on Windows-minded ones.
SEPARATORS: Final = re.compile(r"[/\\]")
_SLASH: Final = re.compile("/")

# RFC 3986 §3: scheme "://" authority, as it starts an absolute-form request target. Linear:
# a match may start only where a run of scheme characters starts (the lookbehind), and the
# possessive runs are read once, so a path of 60 kB of letters costs one scan, not 60k of them
# (the plain "[A-Za-z][A-Za-z0-9+.-]*://" tried every letter as a start: quadratic). Only where
# the authority ends matters, so the scheme may start at the run's first letter.
_ABSOLUTE_FORM: Final = re.compile(r"(?<![A-Za-z0-9+.-])[0-9+.-]*+[A-Za-z][A-Za-z0-9+.-]*+://[^/?#]*+")

Segments = tuple[str, ...]


def _resolve(
    path: str,
    on_push: Callable[[list[str]], None] | None = None,
    separators: re.Pattern[str] = SEPARATORS,
    cut_params: bool = True,
) -> list[str]:
    """RFC 3986 §5.2.4 dot-segment removal in one pass; `on_push` sees the segments after each push."""
    stack: list[str] = []
    for raw in separators.split(path):
        segment = (raw.split(";", 1)[0] if cut_params else raw).casefold()
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

    # Each way a router may split segments and treat ;params: only paths holding "\\" or ";"
    # can read differently, so only they pay for the other passes.
    splits = (SEPARATORS, _SLASH) if "\\" in path else (SEPARATORS,)
    cuts = (True, False) if ";" in path else (True,)
    for separators in splits:
        for cut_params in cuts:
            _resolve(path, keep, separators, cut_params)
    return found


def final_readings(path: str, depth: int) -> set[Segments]:
    """Where each way of reading `path` ends, cut to `depth`: fully resolved, and literal (no dot
    segment resolved). What must all lie within a prefix for a request to count as inside it
    (the intermediate states `readings` yields are prefixes on the way, not destinations)."""
    found: set[Segments] = set()
    splits = (SEPARATORS, _SLASH) if "\\" in path else (SEPARATORS,)
    cuts = (True, False) if ";" in path else (True,)
    for separators in splits:
        for cut_params in cuts:
            found.add(tuple(_resolve(path, None, separators, cut_params))[:depth])
            literal = [(raw.split(";", 1)[0] if cut_params else raw).casefold() for raw in separators.split(path)]
            found.add(tuple(segment for segment in literal if segment not in ("", "."))[:depth])
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
    below = below_root(path, scope.get("root_path", ""))
    return path if below is None else below


def _below_and_above(path: str, root_path: str) -> str:
    """`path` as a router below `root_path` reads it, or the full path it is equivalent to.

    Starlette routes a path under `root_path` on what follows it, and any other path as it is:
    so ``/private`` and ``/api/private`` reach the same route when the root path is ``/api``.
    """
    below = below_root(path, root_path)
    return full_path(path, root_path) if below is None else below


#: How many objects the walk of an app graph visits at the most: a real app has tens to hundreds.
_MAX_WALKED: Final = 5000
# Where apps keep the app they wrap, or their routing: Starlette and FastAPI, their middleware,
# and the names wrappers commonly use.
_WRAPPED: Final = ("app", "_app", "application", "asgi_app", "middleware_stack", "router")
# Libraries whose classes we know: a leaf of theirs (StaticFiles, a Response class) hides no app.
_KNOWN_LIBRARIES: Final = ("starlette.", "fastapi.", "auth0_asgi.")


class RootPaths(NamedTuple):
    """What a walk of an app graph found: each root path an app in it sets for itself, and the
    objects it could not see into (each described), which might hide more."""

    found: tuple[str, ...]
    unseen: tuple[str, ...]


def _children(node: object) -> tuple[list[object], list[object], bool]:
    """What `node` may pass requests to: apps it holds where apps are held, other callables it
    refers to (a function's closure and globals, a partial's arguments), which may be apps, and
    whether it is opaque (of unknown make, and holding nothing callable to look into)."""
    if isinstance(node, functools.partial):
        return [], [node.func, *node.args, *node.keywords.values()], False
    if inspect.ismethod(node):
        return [], [node.__self__], False
    if inspect.isfunction(node):
        found: list[object] = [cell.cell_contents for cell in node.__closure__ or () if _has_contents(cell)]
        found += [node.__globals__[name] for name in node.__code__.co_names if name in node.__globals__]
        return [], [*found, getattr(node, "__wrapped__", None)], False
    apps = [child for name in _WRAPPED if (child := _attribute(node, name)) is not None]
    routes = _attribute(node, "routes")
    if isinstance(routes, list | tuple):
        # A Route's app is its endpoint; a Mount's or Host's is an app (with routes or its own).
        apps += [getattr(route, "app", None) for route in routes if not hasattr(route, "endpoint")]
    if apps or type(node).__module__.startswith(_KNOWN_LIBRARIES):
        return apps, [], False
    # A callable of its own that keeps its app under another name: look at what it holds.
    held = _attribute(node, "__dict__")
    referred = [value for value in held.values() if callable(value)] if isinstance(held, dict) else []
    return [], referred, not referred


def _attribute(node: object, name: str) -> object:
    try:
        return getattr(node, name, None)
    except Exception:  # a property of someone else's that raises: nothing to follow there
        return None


def _has_contents(cell: types.CellType) -> bool:
    try:
        _ = cell.cell_contents  # an empty cell (a name not yet bound) raises
    except ValueError:
        return False
    return True


def own_root_paths(app: object) -> RootPaths:
    """Every root path an app within `app` sets for itself, such as ``FastAPI(root_path="/api")``
    reached through middleware, a ``Mount``, a ``Router`` or a wrapping function: a middleware
    outside it never sees them in the scope, yet the inner app routes by them.

    Walks the graph once, at start-up: ``.app`` and like attributes, a Starlette app's router and
    built middleware stack, each ``Mount``'s and ``Host``'s app, a function's closure, globals
    and ``__wrapped__``, a partial's arguments, and the callables an object of unknown make holds.
    An object where an app is held (``.app``, a Mount's app) that is of unknown make and holds
    nothing callable is `unseen`: it may hide an app with a root path of its own. An app that is
    only referred to (a global a handler names) may add a root path that is never routed by:
    that protects more, never less.
    """
    found: list[str] = []
    unseen: list[str] = []
    seen: set[int] = set()
    # (object, whether it is where an app is held): only there does an opaque object matter.
    pending: list[tuple[object, bool]] = [(app, True)]
    while pending and len(seen) < _MAX_WALKED:
        node, holds_an_app = pending.pop()
        if id(node) in seen or isinstance(node, type | types.ModuleType) or not callable(node):
            continue
        seen.add(id(node))
        root_path = _attribute(node, "root_path")
        if isinstance(root_path, str) and root_path and root_path not in found:
            found.append(root_path)
        apps, referred, opaque = _children(node)
        if holds_an_app and opaque:
            unseen.append(f"{type(node).__module__}.{type(node).__qualname__}")
        pending += [(child, False) for child in referred]
        pending += [(child, True) for child in apps]
    return RootPaths(tuple(found), tuple(unseen))


def candidate_paths(path: str, root_path: str = "", root_paths: Iterable[str] = ()) -> frozenset[str]:
    """Every path string a request may be routed on.

    The full `path`, the path the router sees below the scope's `root_path` and below each of
    `root_paths` (set by the wrapped app itself), the full path a path outside a root path is
    equivalent to, the path inside an absolute-form target (RFC 9112 §3.2.2, passed through
    verbatim by servers), and each of them percent-decoded once more, for an app or proxy that
    decodes twice (``%252e`` reaching it as ``%2e``).
    """
    candidates = {path}
    for root in (root_path, *root_paths):
        if root:
            candidates.add(_below_and_above(path, root))
    absolute_form = _ABSOLUTE_FORM.search(path)
    if absolute_form is not None:
        # Also behind a root_path uvicorn prepends: "/base" + "http://host/api/private".
        candidates.add(path[absolute_form.end() :])
    candidates.update([unquote(candidate) for candidate in candidates if "%" in candidate])
    return frozenset(candidates)
