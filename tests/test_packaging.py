"""What a release carries: licence, changelog, security policy, true metadata."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def test_the_licence_is_declared_and_shipped() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    assert (REPO / "LICENSE").read_text().startswith("MIT License\n")


def test_the_sdist_ships_the_policy_and_history() -> None:
    included = PYPROJECT["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]
    assert {"SECURITY.md", "CHANGELOG.md", "LICENSE", "README.md"} <= set(included)


def test_the_changelog_follows_keep_a_changelog() -> None:
    text = (REPO / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## \[([^\]]+)\]", text, flags=re.M)
    assert headings[0] == "Unreleased"
    version = re.search(r'"([^"]+)"', (REPO / "auth0_asgi" / "_version.py").read_text())
    assert version is not None
    assert version.group(1) in headings
    sections = set(re.findall(r"^### (\w+)", text, flags=re.M))
    assert sections <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def test_every_dependency_has_a_lower_bound() -> None:
    optional = PYPROJECT["project"]["optional-dependencies"]
    requirements = [*PYPROJECT["project"]["dependencies"], *(r for group in optional.values() for r in group)]
    unbounded = [r for r in requirements if not r.startswith("auth0-asgi[") and ">=" not in r]
    assert unbounded == []


def test_the_demo_extra_serves_websockets() -> None:
    # Without a websocket implementation uvicorn answers every websocket with a warning and a 404,
    # so the documented refusal (401 before accept) could not be seen from the demo.
    demo = PYPROJECT["project"]["optional-dependencies"]["demo"]
    assert any(re.match(r"(websockets|wsproto)\b", requirement) for requirement in demo)


def test_the_core_imports_no_extra() -> None:
    # The extras are optional: `import auth0_asgi` must work, and stay light, without them.
    import subprocess
    import sys

    script = (
        "import sys, auth0_asgi, auth0_asgi.events, auth0_asgi.rules; "
        "from auth0_asgi.testing import LocalIssuer; "
        # A middleware that names no resource leaves the MCP SDK unimported, installed or not.
        "auth0_asgi.Auth0Middleware(None, settings=LocalIssuer().settings(), keys=LocalIssuer()); "
        "extras = {'opentelemetry', 'redis', 'fastapi', 'uvicorn', 'mcp'}; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & extras))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
