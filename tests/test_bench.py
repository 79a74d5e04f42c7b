"""Benchmarks are not tests: this only checks that each harness runs and reports every row."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _smoke(script: str, *options: str) -> str:
    result = subprocess.run(
        [sys.executable, str(BENCH / script), "--smoke", *options],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_overhead_benchmark_smoke() -> None:
    output = _smoke("overhead.py")
    rows = {line.split("  ")[0] for line in output.splitlines()}
    for expected in (
        "F: RSA-2048 verify (cryptography)",
        "bare Starlette, /api/private",
        "ours, public route",
        "ours, reused token",
        "ours, new token per request",
        "ours, token cache disabled",
        "ours, protected resource, reused token",
        "ours, step-up check, reused token",
        "ours, mTLS-bound, reused token",
        "PyJWT decode alone, pre-parsed key",
        "BaseHTTPMiddleware + PyJWT, protected",
        "tutorial: PyJWKClient per request",
        "ours, do-nothing observer, reused token",
        "ours, OTel observer, reused token",
        "ours, OTel observer in a span, reused token",
    ):
        assert expected in rows, output
    assert "memory per 10k requests" in output
    for row in ("ours, reused token ", "ours, new token per request ", "ours, DPoP, reused token "):
        assert any(line.startswith("  " + row) and " F  (aim: <= " in line for line in output.splitlines()), output


def test_end_to_end_benchmark_smoke() -> None:
    # httpx drives the load here: wrk is optional, and may be absent from a fresh machine.
    output = _smoke("e2e.py", "--load-generator", "httpx")
    for scenario in ("public route", "protected, reused token", "protected, new token per request"):
        assert any(line.startswith(scenario) for line in output.splitlines()), output
    assert "key-set fetches by the worker: 1" in output


def test_observer_benchmark_smoke() -> None:
    output = _smoke("observer.py")
    rows = [line for line in output.splitlines() if line.startswith("ours, reused token, ")]
    assert [row.split("  ")[0] for row in rows] == [
        "ours, reused token, no observer",
        "ours, reused token, do-nothing observer",
        "ours, reused token, OpenTelemetry observer",
    ], output
    assert all("added over no observer:" in row for row in rows)


def test_instruction_count_benchmark_smoke() -> None:
    assert _smoke("instructions.py").strip() == "smoke: every row ran"
