"""Every memo is bounded in bytes: an unauthenticated flood grows a worker by at most 16 MiB.

A real uvicorn worker (h11 and httptools, trusting every peer's X-Forwarded-For as containers
often do) runs `tests/_flood_app.py`, whose every memo a request without a valid token can
reach. Each request carries distinct values as large as each memo keeps, for every memo at once;
then (httptools takes headers of any size) values far larger than any memo keeps. The worker's
resident memory after the flood, less what it held after a warm-up, must stay under the bound:
before issue 29 the peer memo alone kept 200 kB items (196 MiB per 1,100 requests) and the path
decision 4,096 paths of up to 8 kB.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from auth0_asgi.testing import DPoPKey

from .conftest import loopback_socket, serve_process

REPO: Final = Path(__file__).resolve().parent.parent
#: The aim of issue 29: all memos together, one worker, any unauthenticated flood.
BOUND_MIB: Final = 16
#: More distinct values than the largest memo keeps (1,024 entries), so each one fills up; paths
#: outside every prefix are cheap, and as many as the path decision once kept (4,096).
FLOOD: Final = 1100
PATH_FLOOD: Final = 4200
ASTRAL: Final = "%F0%9F%98%80"  # one character CPython stores at four bytes, as the path holds it


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")  # pragma: no cover - Linux always reports it


class _Connection:
    """A keep-alive HTTP/1.1 connection sending raw requests, reconnecting when the server closes."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None

    def send(self, target: str, headers: list[tuple[str, str]]) -> int:
        lines = [f"GET {target} HTTP/1.1", *(f"{name}: {value}" for name, value in headers), "", ""]
        request = "\r\n".join(lines).encode("latin-1")
        for attempt in range(2):
            if self.sock is None:
                self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            try:
                self.sock.sendall(request)
                return self._status()
            except (ConnectionError, TimeoutError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _status(self) -> int:
        assert self.sock is not None
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        fields = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
        length = int(fields.get("content-length", "0"))
        while len(body) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            body += chunk
        if fields.get("connection", "").lower() == "close":
            self.close()
        return int(lines[0].split()[1])

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def _segment(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _token(n: int, header_pad: int, length: int) -> str:
    """A structurally sound token no key verifies: its header (distinct) is parsed and remembered."""
    header = _segment({"alg": "RS256", "kid": f"flood-{n}", "typ": "JWT", "pad": "h" * header_pad})
    payload = _segment({"sub": f"flood-{n}", "pad": "p" * length})
    return f"{header}.{payload[: length - len(header)]}.AAAA"


def _address(n: int, last: int) -> str:
    return f"2001:0db8:{n >> 16:04x}:{n & 0xFFFF:04x}:aaaa:bbbb:cccc:{last:04x}"


def _dpop_request(key: DPoPKey, n: int, huge: int = 0) -> tuple[str, list[tuple[str, str]]]:
    """A request reaching every DPoP memo with values as long as each keeps (or, with `huge`, a
    first X-Forwarded-For item of that many bytes: the peer uvicorn reports)."""
    path = f"/api/private/{n:x}/" + ASTRAL * 70  # a raw path of about 1 kB
    host = f"h{n:x}." + "a" * (120 - len(f"h{n:x}."))
    htu = f"http://{host}{path}"
    token = _token(n, header_pad=300, length=4000)
    proof = key.proof("GET", htu, access_token=token, headers={"pad": f"{n}" + "x" * 1300})
    peer = _address(n, 1) + ("0" * huge if huge else "")
    forwarded = f"{peer}, {_address(n, 2)}, {_address(n, 3)}"
    return path, [
        ("Host", host),
        ("Authorization", f"DPoP {token}"),
        ("DPoP", proof),
        ("X-Forwarded-For", forwarded),
        ("X-Forwarded-Proto", "http"),
    ]


def _path_request(n: int) -> tuple[str, list[tuple[str, str]]]:
    """A request outside every prefix: the gate's path and Host memos and the path decision."""
    host = f"h{n:x}." + "b" * (300 - len(f"h{n:x}."))
    return f"/x/{n:x}/" + ASTRAL * 500, [("Host", host)]


@pytest.fixture(params=["h11", "httptools"])
def worker(request: pytest.FixtureRequest) -> Iterator[tuple[str, int, int]]:
    """(parser, port, pid) of a uvicorn worker running the flood app."""
    sock, port = loopback_socket()
    sock.close()  # uvicorn binds it; nothing else asks for a port in between
    command = [sys.executable, "-m", "uvicorn", "tests._flood_app:app", "--port", str(port), "--http", request.param]
    command += ["--forwarded-allow-ips", "*", "--log-level", "warning", "--no-access-log", "--lifespan", "on"]
    with serve_process(command, port, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}) as process:
        yield request.param, port, process.pid


def test_an_unauthenticated_flood_grows_a_worker_by_at_most_the_bound(worker: tuple[str, int, int]) -> None:
    parser, port, pid = worker
    key = DPoPKey()
    connection = _Connection(port)
    # Warm up: every code path once, so that what follows measures the memos alone.
    for n in range(50):
        assert connection.send(*_dpop_request(key, 10_000_000 + n)) == 401
        assert connection.send(*_path_request(10_000_000 + n)) == 404
    before = _rss_kib(pid)
    statuses = set()
    for n in range(FLOOD):
        statuses.add(connection.send(*_dpop_request(key, n)))
    for n in range(PATH_FLOOD):
        statuses.add(connection.send(*_path_request(n)))
    if parser == "httptools":  # h11 refuses headers this large; httptools takes them
        for n in range(200):
            statuses.add(connection.send(*_dpop_request(key, FLOOD + n, huge=200_000)))
    connection.close()
    grown_mib = (_rss_kib(pid) - before) / 1024
    print(f"{parser}: the flood grew the worker by {grown_mib:.1f} MiB")  # the figure for the notes
    assert statuses == {401, 404}  # no request was let through, and none broke anything
    assert grown_mib <= BOUND_MIB
