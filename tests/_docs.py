"""The README and the documentation pages, read as the tests of their examples need them."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Final

REPO: Final = Path(__file__).resolve().parent.parent
PAGES: Final = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def page_name(page: Path) -> str:
    return page.relative_to(REPO).as_posix()


def blocks(page: Path, language: str = "python") -> list[str]:
    """The fenced blocks of `language` in `page` (a bare fence for ``language=""``), indented
    ones (inside a list item) included."""
    found: list[str] = []
    opened: str | None = None  # the language of the block being read
    lines: list[str] = []
    for line in page.read_text().splitlines(keepends=True):
        fence = re.fullmatch(r"\s*```(\w*)\s*", line)
        if fence is None:
            if opened is not None:
                lines.append(line)
            continue
        if opened is None:
            opened, lines = fence.group(1), []
            continue
        if opened == language:
            found.append(textwrap.dedent("".join(lines)))
        opened = None
    return found


def block(page: str, marker: str, language: str = "python") -> str:
    """The one block of `language` on `page` (such as ``docs/dpop.md``) containing `marker`."""
    found = [text for text in blocks(REPO / page, language) if marker in text]
    assert len(found) == 1, (page, marker, len(found))
    return found[0]


def table(page: str, first_header: str) -> list[list[str]]:
    """The body rows of the Markdown tables on `page` whose first header cell is `first_header`
    (one table, or several under headings), in order."""
    rows: list[list[str]] = []
    inside = False
    for line in (REPO / page).read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")] if line.startswith("|") else None
        if cells is None:
            inside = False
            continue
        if not inside:
            inside = cells[0] == first_header
            continue
        if not set(cells[0]) <= {"-"}:
            rows.append(cells)
    assert rows, (page, first_header)
    return rows
