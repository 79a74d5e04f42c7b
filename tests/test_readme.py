"""The README's two commands are the ones the project really uses (its examples: tests/test_docs.py)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _commands(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("python3 -m venv .venv")]


def test_readme_has_a_demo_and_a_test_command() -> None:
    commands = _commands((REPO / "README.md").read_text())
    assert len(commands) == 2
    demo, tests = commands
    assert demo.endswith("uvicorn demo_app:app")
    assert re.search(r"\bpytest\b", tests)


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    readme_test_command = _commands((REPO / "README.md").read_text())[1]
    assert readme_test_command in _commands((REPO / ".ci" / "run").read_text())


def test_ci_lints_before_the_tests_and_then_runs_the_lowest_versions() -> None:
    lines = (REPO / ".ci" / "run").read_text().splitlines()
    order = [
        next(i for i, line in enumerate(lines) if line.startswith(command))
        for command in (
            ".venv/bin/ruff check",
            ".venv/bin/mypy --strict",
            _commands((REPO / "README.md").read_text())[1],
            ".venv/bin/uv pip install -q --python .venv-lowest/bin/python --resolution lowest-direct",
            ".venv-lowest/bin/python -m pytest",
        )
    ]
    assert order == sorted(order)


def test_ci_stops_when_the_readme_test_command_fails() -> None:
    """`set -e` ignores a failure inside an && list: .ci/run must check the status itself."""
    lines = (REPO / ".ci" / "run").read_text().splitlines()
    start = lines.index(_commands((REPO / "README.md").read_text())[1])
    end = next(i for i in range(start, len(lines)) if lines[i].strip() == "fi")
    script = "\n".join(["set -euo pipefail", "true && false && true", *lines[start + 1 : end + 1], "echo after"])
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)  # noqa: S607
    assert result.returncode != 0
    assert "after" not in result.stdout
