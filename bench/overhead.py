"""In-process cost of Auth0Middleware, as ratios measured side by side in one interleaved run.

    python bench/overhead.py            # full run (about ten seconds)
    python bench/overhead.py --smoke    # a few iterations: checks the harness runs, not its timings

F is the floor: one cryptography RSA-2048 PKCS1v15-SHA256 verify of the token's signing input.
Every case is driven as a raw ASGI call (no sockets), so the numbers are the middleware's own
cost. The key set comes from a real loopback HTTP server, fetched once during warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import threading
import time
from collections.abc import Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth0_asgi import Auth0Middleware, Auth0Settings

AUDIENCE = "https://bench.example"
DOMAIN = "bench.example.test"


def serve_jwks(document: bytes) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(document)))
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"


async def endpoint(request: Any) -> JSONResponse:
    return JSONResponse({"ok": True})


def bare_app() -> Starlette:
    return Starlette(routes=[Route("/api/public", endpoint), Route("/api/private", endpoint)])


def http_scope(path: str, token: str | None) -> dict[str, Any]:
    headers = [(b"host", b"bench")]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
    }


def asgi_call(app: Any, path: str, token: str | None = None) -> Callable[[], Awaitable[int]]:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def call() -> int:
        status = 0

        async def send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(http_scope(path, token), receive, send)
        return status

    return call


async def timed(operation: Callable[[], Awaitable[Any]], iterations: int) -> float:
    start = time.perf_counter()
    for _ in range(iterations):
        await operation()
    return (time.perf_counter() - start) / iterations * 1e6


async def main(rounds: int, iterations: int) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "k1", "use": "sig", "alg": "RS256"}
    server, url = serve_jwks(json.dumps({"keys": [jwk]}).encode())
    now = int(time.time())
    claims = {"iss": f"https://{DOMAIN}/", "aud": AUDIENCE, "sub": "bench@clients", "iat": now, "exp": now + 3600}
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    signing_input, signature_segment = token.rsplit(".", 1)
    signature = jwt.utils.base64url_decode(signature_segment)
    public = key.public_key()

    settings = Auth0Settings(domain=DOMAIN, audience=(AUDIENCE,), jwks_url=url)
    bare = bare_app()
    protected = Auth0Middleware(bare_app(), settings=settings, protected_prefixes=["/api/private"])

    async def floor() -> None:
        public.verify(signature, signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())

    async def pyjwt_decode() -> None:
        jwt.decode(token, public, algorithms=["RS256"], audience=AUDIENCE, issuer=f"https://{DOMAIN}/")

    cases: dict[str, Callable[[], Awaitable[Any]]] = {
        "F: RSA-2048 verify (cryptography)": floor,
        "PyJWT decode, pre-parsed key": pyjwt_decode,
        "bare Starlette app, /api/public": asgi_call(bare, "/api/public"),
        "bare Starlette app, /api/private": asgi_call(bare, "/api/private"),
        "middleware, public route": asgi_call(protected, "/api/public"),
        "middleware, protected, valid token": asgi_call(protected, "/api/private", token),
        "middleware, protected, no token (401)": asgi_call(protected, "/api/private"),
    }
    assert await cases["middleware, protected, valid token"]() == 200
    assert await cases["middleware, protected, no token (401)"]() == 401
    for operation in cases.values():  # warm-up
        await timed(operation, max(1, iterations // 10))

    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):  # interleaved: each round measures every case once
        for name, operation in cases.items():
            samples[name].append(await timed(operation, iterations))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    f = medians["F: RSA-2048 verify (cryptography)"]
    bare_public = medians["bare Starlette app, /api/public"]
    bare_private = medians["bare Starlette app, /api/private"]

    print(f"rounds={rounds} iterations={iterations}; F = {f:.1f} us")
    print(f"{'case':40} {'median us/op':>13} {'x F':>7} {'added vs bare (F)':>18}")
    for name, value in medians.items():
        added = ""
        if name.startswith("middleware"):
            base = bare_public if "public" in name else bare_private
            added = f"{(value - base) / f:+.2f}"
        print(f"{name:40} {value:13.1f} {value / f:7.2f} {added:>18}")
    print(f"key-set fetches: {protected.key_set.fetch_count} (all during warm-up)")
    await protected.aclose()
    server.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a few iterations, to check the harness runs")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--iterations", type=int, default=2000)
    args = parser.parse_args()
    rounds, iterations = (2, 5) if args.smoke else (args.rounds, args.iterations)
    asyncio.run(main(rounds, iterations))
