"""Starting an app under uvicorn in its own process, for the end-to-end benchmark and the load run."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def start_uvicorn(app: str, env: dict[str, str], cwd: Path, *options: str) -> tuple[subprocess.Popen[bytes], str]:
    """`python -m uvicorn app` on a free loopback port; returns the process and its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--log-level", "warning", *options]
    process = subprocess.Popen(command, cwd=cwd, env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/api/public", timeout=1)
            return process, url
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(f"uvicorn did not start {app}") from None
            time.sleep(0.1)
