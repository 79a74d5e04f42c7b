"""Benchmarks are not tests: this only checks that the harness runs and reports every row."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_overhead_benchmark_smoke() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / "overhead.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split("  ")[0] for line in result.stdout.splitlines()]
    for expected in ("F: RSA-2048 verify", "middleware, public route", "middleware, protected, valid token"):
        assert any(row.startswith(expected) for row in rows), result.stdout
    assert "key-set fetches: 1" in result.stdout
