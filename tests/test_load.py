"""The load and soak run, shortened for CI: bench/load.py --short against the demo under uvicorn."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

LOAD = Path(__file__).resolve().parent.parent / "bench" / "load.py"


def test_short_load_run_with_a_flapping_key_server() -> None:
    result = subprocess.run(
        [sys.executable, str(LOAD), "--short"], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout
    assert re.search(r"^requests sent: 1200 ", output, flags=re.M), output
    for line in ("unexpected 5xx: 0", "valid requests refused: 0", "answers outside their kind's contract: 0"):
        assert line in output.splitlines(), output
    fetch_states = re.search(r"^key-set fetches by server state: (.*)$", output, flags=re.M)
    assert fetch_states is not None
    assert "healthy" in fetch_states.group(1)
    assert output.rstrip().endswith("RESULT: PASS")
