"""The package's shape: the layers of the floor plan, and no module importing one that imports it back.

A cycle makes import order matter and hides which idea depends on which; every import counts,
those inside functions and under TYPE_CHECKING too.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "auth0_asgi"


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


def _imports() -> dict[str, set[str]]:
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                target = ".".join([*base, *([node.module] if node.module else [])])
                candidates = [target, *(f"{target}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            else:
                continue
            graph[name].update(c for c in candidates if c in modules and c != name and not name.startswith(c + "."))
    return graph


def _cycle_from(graph: dict[str, set[str]], start: str) -> list[str] | None:
    path: list[str] = []
    on_path: set[str] = set()
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in on_path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        on_path.add(node)
        for neighbour in sorted(graph[node]):
            found = visit(neighbour)
            if found is not None:
                return found
        path.pop()
        on_path.discard(node)
        done.add(node)
        return None

    return visit(start)


def test_no_module_imports_itself_back() -> None:
    graph = _imports()
    assert len(graph) > 60  # the walk sees the whole package
    assert graph["auth0_asgi.middleware"] >= {"auth0_asgi.jwks", "auth0_asgi.verifier"}  # and reads imports
    cycles = [cycle for name in sorted(graph) if (cycle := _cycle_from(graph, name)) is not None]
    assert cycles == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle_from({"a": {"b"}, "b": {"c"}, "c": {"a"}}, "a") == ["a", "b", "c", "a"]
    assert _cycle_from({"a": {"b"}, "b": set()}, "a") is None


# The floor plan (README "Layout", ../STYLE): lowest first. A module may import its own layer or
# a lower one, never a higher one; every module of the package is in exactly one layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    # ground: used by everything, using nothing of ours above it
    ("errors", "events", "_log", "_memo", "_headers", "_rate_limit", "_version", "_base64url", "_uri"),
    ("_tokens",),  # token in, claims out
    ("_config", "settings"),  # AUTH0_* text to values
    ("user", "rules"),
    ("_keys", "jwks", "discovery", "verifier"),
    ("_binding", "dpop", "mtls", "replay", "redis"),  # what a request proves beyond its token
    ("_request", "resource", "middleware", "mcp"),  # the ASGI boundary
    ("fastapi", "otel", "_cli", "testing", "__init__", "__main__"),  # faces and tools
)

# Which of our modules may import each of these: nothing else may.
OUTSIDE_IMPORTS: dict[str, tuple[str, ...]] = {
    "httpx": ("_keys", "jwks", "discovery", "_request.assembly", "middleware", "_cli", "testing"),
    "anyio": ("_keys", "jwks", "_request.lifespan", "_cli", "testing"),
    "starlette": (
        "_config",
        "settings",
        "user",
        "_binding",
        "mtls",
        "_request",
        "resource",
        "middleware",
        "fastapi",
        "_cli",
        "testing",
    ),
}


def _place(module: str, places: tuple[str, ...]) -> bool:
    """Whether `module` (``auth0_asgi.x.y``) lies in one of `places` (``x`` or ``x.y``, no prefix)."""
    inner = module.removeprefix("auth0_asgi").removeprefix(".") or "__init__"
    return any(inner == place or inner.startswith(place + ".") for place in places)


def _layer(module: str) -> int:
    found = [index for index, places in enumerate(LAYERS) if _place(module, places)]
    assert len(found) == 1, f"{module} is in {len(found)} layers of the floor plan"
    return found[0]


def _outside_imports() -> dict[str, set[str]]:
    """Each module's imports of the packages in OUTSIDE_IMPORTS, those inside functions too."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
        found[_module_name(path)] = names & OUTSIDE_IMPORTS.keys()
    return found


def test_no_module_imports_a_higher_layer() -> None:
    graph = _imports()
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        for target in targets
        if _layer(target) > _layer(module)
    )
    assert upward == []


def test_the_layers_are_checked_on_real_imports() -> None:
    graph = _imports()
    assert _layer("auth0_asgi._tokens.jws") < _layer("auth0_asgi.settings") < _layer("auth0_asgi.middleware")
    assert "auth0_asgi._tokens.jws" in graph["auth0_asgi.verifier"]  # a downward import is seen
    assert _layer("auth0_asgi") == len(LAYERS) - 1  # the package's __init__ is a face


def test_only_the_named_modules_import_httpx_anyio_or_starlette() -> None:
    strays = sorted(
        f"{module} imports {outside}"
        for module, outsides in _outside_imports().items()
        for outside in outsides
        if not _place(module, OUTSIDE_IMPORTS[outside])
    )
    assert strays == []
    # Token logic judges text against a policy and a key: no web framework, client or event loop.
    assert not any(_outside_imports()[name] for name in _imports() if _place(name, ("_tokens",)))


def test_the_import_reader_sees_outside_imports() -> None:
    found = _outside_imports()
    assert "httpx" in found["auth0_asgi.jwks"]
    assert "starlette" in found["auth0_asgi.middleware"]


def _header_list_readers() -> set[str]:
    """The modules that read ``scope["headers"]`` (or ``scope.get("headers")``) themselves."""
    readers = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            subscript = isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and node.slice
            got = (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and node.args[:1]
            )
            key = subscript or (got and got[0])
            if isinstance(key, ast.Constant) and key.value == "headers":
                readers.add(_module_name(path))
    return readers


def test_one_pass_over_the_headers_serves_every_reader() -> None:
    # The request gate's pass (`_headers.gather`) gathers what each reader needs; a reader that
    # walked the list itself would be a second reading that could disagree. The offline issuer
    # (testing/) is an app of its own, with its own requests.
    readers = {name for name in _header_list_readers() if not _place(name, ("testing",))}
    assert readers == {"auth0_asgi._headers"}
    assert "auth0_asgi.testing._http" in _header_list_readers()  # the finder finds a reader
