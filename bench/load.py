"""Bounded load and soak run against the demo under uvicorn, with the key server flapping.

    python bench/load.py                # 6000 requests, 16 at a time (about half a minute)
    python bench/load.py --short        # 1200 requests: what CI runs (tests/test_load.py)
    python bench/load.py --requests 100000 --concurrency 32   # a longer soak

Requests mix valid tokens (some reused, some new), invalid tokens (expired, bad signature,
wrong audience, unknown kid), garbage Authorization headers and public calls. Meanwhile the
loopback key server alternates between healthy and failing (HTTP 500, bad JSON, dropped
connections, answers slower than the fetch timeout) and the worker's key-set TTL is 0.5 s, so
refreshes keep meeting a broken server. Loopback only; it stops by itself.

Exits non-zero on any 5xx, any valid request refused, any answer outside what its kind
expects, or resident memory growing by more than --max-rss-growth-mb.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
from _uvicorn import start_uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

REPO = Path(__file__).resolve().parent.parent
DOMAIN = "load.example.test"
AUDIENCE = "https://load.example.test/api"
FAILURES = ("http-500", "bad-json", "drop", "slow")


class FlappingKeyServer:
    """Publishes one RSA key; every `period` seconds it switches between healthy and a failure."""

    def __init__(self, jwks: bytes, period: float) -> None:
        self.jwks, self.period = jwks, period
        self.mode = "healthy"
        self.fetches: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                mode = server.mode
                server.fetches[mode] += 1
                if mode == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if mode == "slow":
                    time.sleep(0.8)  # beyond the worker's 0.5 s fetch timeout
                status, body = (500, b"oops") if mode == "http-500" else (200, server.jwks)
                if mode == "bad-json":
                    body = b'{"keys": ['
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the worker gave up on a slow answer, as its fetch timeout says it must

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/.well-known/jwks.json"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def start_flapping(self) -> None:
        def flap() -> None:
            failures = iter(FAILURES * 10_000)
            while not self._stop.wait(self.period):
                self.mode = next(failures) if self.mode == "healthy" else "healthy"

        threading.Thread(target=flap, daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        self._httpd.shutdown()


def _rss_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def _start_demo(key_server: FlappingKeyServer) -> tuple[subprocess.Popen[bytes], str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AUTH0_")},
        "AUTH0_DOMAIN": DOMAIN,
        "AUTH0_API_AUDIENCE": AUDIENCE,
        "AUTH0_JWKS_URL": key_server.url,
        "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'bench'}",
    }
    return start_uvicorn("load_app:app", env, REPO / "bench")


class Tokens:
    def __init__(self, key: rsa.RSAPrivateKey, fresh: int) -> None:
        self.key = key
        self.reused = [self.sign() for _ in range(10)]
        self.fresh = [self.sign(jti=str(n)) for n in range(fresh)]
        self.expired = self.sign(exp=int(time.time()) - 3600)
        self.wrong_audience = self.sign(aud="https://elsewhere.example")
        head, _, signature = self.reused[0].rpartition(".")
        self.bad_signature = f"{head}.{'A' * len(signature)}"

    def sign(self, kid: str = "load-1", **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": f"https://{DOMAIN}/", "aud": AUDIENCE, "sub": "load@clients", "iat": now, "exp": now + 3600}
        payload.update(claims)
        return jwt.encode(payload, self.key, algorithm="RS256", headers={"kid": kid})


# kind -> (path, statuses it may get)
EXPECTED: dict[str, tuple[str, set[int]]] = {
    "public": ("/api/public", {200}),
    "valid-reused": ("/api/private", {200}),
    "valid-new": ("/api/private", {200}),
    "expired": ("/api/private", {401}),
    "bad-signature": ("/api/private", {401}),
    "wrong-audience": ("/api/private", {401}),
    "unknown-kid": ("/api/private", {401}),
    "garbage-header": ("/api/private", {400, 401}),
}


GARBAGE_HEADERS = [
    b"Bearer",
    b"Bearer  a b",
    b"Basic Zm9vOmJhcg==",
    b"bearer .",
    b"Bearer " + b"x" * 9000,
    b"Bearer \xf0\x9f\x99\x82",
    b"Bearer\tabc",
]


def _headers_for(kind: str, tokens: Tokens, rng: random.Random, counter: int) -> list[tuple[bytes, bytes]]:
    if kind == "public":
        return []
    if kind == "garbage-header":
        return [(b"authorization", rng.choice(GARBAGE_HEADERS))]
    token = {
        "valid-reused": lambda: rng.choice(tokens.reused),
        "valid-new": lambda: tokens.fresh[counter % len(tokens.fresh)],
        "expired": lambda: tokens.expired,
        "bad-signature": lambda: tokens.bad_signature,
        "wrong-audience": lambda: tokens.wrong_audience,
        "unknown-kid": lambda: tokens.sign(kid=f"random-{rng.random()}"),
    }[kind]()
    return [(b"authorization", f"Bearer {token}".encode())]


async def _drive(url: str, tokens: Tokens, total: int, concurrency: int, seed: int) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    kinds = list(EXPECTED)
    weights = [20, 30, 20, 5, 5, 5, 5, 10]
    plan = rng.choices(kinds, weights=weights, k=total)
    results: list[tuple[str, int]] = []
    queue = iter(enumerate(plan))
    async with httpx.AsyncClient(base_url=url, timeout=10, limits=httpx.Limits(max_connections=concurrency)) as client:

        async def worker() -> None:
            for index, kind in queue:
                path, _ = EXPECTED[kind]
                response = await client.get(path, headers=_headers_for(kind, tokens, rng, index))
                results.append((kind, response.status_code))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results


def main(total: int, concurrency: int, max_rss_growth_mb: float, seed: int) -> int:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "load-1", "use": "sig", "alg": "RS256"}
    key_server = FlappingKeyServer(
        json.dumps({"keys": [jwk]}).encode(), period=0.37
    )  # not a divisor of the TTL: refreshes must meet every state
    tokens = Tokens(key, fresh=max(50, total // 10))
    process, url = _start_demo(key_server)
    try:
        warm = httpx.get(f"{url}/api/private", headers={"Authorization": f"Bearer {tokens.reused[0]}"})
        if warm.status_code != 200:
            raise SystemExit(f"warm-up request answered {warm.status_code}")
        before = _rss_kib(process.pid)
        key_server.start_flapping()
        started = time.monotonic()
        results = asyncio.run(_drive(url, tokens, total, concurrency, seed))
        elapsed = time.monotonic() - started
        after = _rss_kib(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=10)
        key_server.close()

    by_status = collections.Counter(status for _, status in results)
    by_kind = collections.defaultdict(collections.Counter)
    for kind, status in results:
        by_kind[kind][status] += 1
    server_errors = sum(count for status, count in by_status.items() if status >= 500)
    valid_refused = sum(1 for kind, status in results if kind.startswith("valid") and status != 200)
    unexpected = sum(1 for kind, status in results if status not in EXPECTED[kind][1])
    growth_mb = (after["VmRSS"] - before["VmRSS"]) / 1024

    print(f"requests sent: {len(results)} in {elapsed:.1f} s ({len(results) / elapsed:.0f}/s), {concurrency} at a time")
    print("answers by status: " + ", ".join(f"{status}: {count}" for status, count in sorted(by_status.items())))
    for kind in EXPECTED:
        answers = ", ".join(f"{status}: {count}" for status, count in sorted(by_kind[kind].items()))
        print(f"  {kind:15} {answers}")
    print(
        "key-set fetches by server state: "
        + ", ".join(f"{mode}: {n}" for mode, n in sorted(key_server.fetches.items()))
    )
    print(f"unexpected 5xx: {server_errors}")
    print(f"valid requests refused: {valid_refused}")
    print(f"answers outside their kind's contract: {unexpected}")
    print(
        f"worker RSS: {before['VmRSS'] / 1024:.1f} MiB before, {after['VmRSS'] / 1024:.1f} MiB after "
        f"(growth {growth_mb:+.1f} MiB, peak {after['VmHWM'] / 1024:.1f} MiB)"
    )
    failed = server_errors or valid_refused or unexpected or growth_mb > max_rss_growth_mb
    print("RESULT: " + ("FAIL" if failed else "PASS"))
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="1200 requests: the CI version")
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-rss-growth-mb", type=float, default=25.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sys.exit(main(1200 if args.short else args.requests, args.concurrency, args.max_rss_growth_mb, args.seed))
