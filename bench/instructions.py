"""Instructions per request, counted by valgrind's callgrind: a figure a busy machine cannot move.

    python bench/instructions.py                 # every row: about ten minutes under callgrind
    python bench/instructions.py --rows reused   # one row
    python bench/instructions.py --smoke         # no valgrind: checks the harness runs

Each row runs twice in its own process under ``valgrind --tool=callgrind``, once with a few
requests and once with many; the difference over the difference in requests is the cost of
one request, whatever importing and setting up cost. The rows:

- ``public``: GET /api/public through Auth0Middleware (outside every prefix);
- ``reused``: GET /api/private with the same valid token every time;
- ``new``: GET /api/private with a token never seen before (all made before the run);
- ``bare``: the same app without the middleware (what each row above is over);
- ``F``: one RSA-2048 PKCS1v15-SHA256 verify, the floor the other benchmarks use.

Only the package's public API is used, so the same script measures any revision (a worktree of
an older commit, run with that tree first on ``sys.path``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any

FEW, MANY = 200, 1200
_KEY_FILE = "AUTH0_ASGI_BENCH_KEY_FILE"
ROWS = ("bare", "public", "reused", "new", "F")


def _private_key() -> Any:
    """The RSA key every run signs with: made once by the parent, since making one takes a
    different number of instructions each time (a random search for primes)."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    with open(os.environ[_KEY_FILE], "rb") as pem:
        return load_pem_private_key(pem.read(), password=None)


def _app(protected: bool) -> tuple[Any, Any]:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from auth0_asgi import Auth0Middleware
    from auth0_asgi.testing import LocalIssuer

    async def endpoint(request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app: Any = Starlette(routes=[Route("/api/public", endpoint), Route("/api/private", endpoint)])
    issuer = LocalIssuer(private_key=_private_key())
    if protected:
        app = Auth0Middleware(app, settings=issuer.settings(), keys=issuer, protected_prefixes=["/api/private"])
    return app, issuer


def _requests(row: str, count: int) -> Callable[[], None]:
    """A function that sends `count` requests of `row` (everything else done before it runs)."""
    if row == "F":
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        private = _private_key()
        assert isinstance(private, rsa.RSAPrivateKey)
        public, message = private.public_key(), b"a" * 300
        signature = private.sign(message, padding.PKCS1v15(), hashes.SHA256())

        def verify() -> None:
            gc.collect()
            gc.disable()
            for _ in range(count):
                public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())

        return verify
    from overhead import http_scope  # the requests bench/overhead.py times, counted here

    app, issuer = _app(protected=row != "bare")
    path = "/api/public" if row == "public" else "/api/private"
    token = issuer.token()
    tokens = [issuer.token(jti=str(n)) for n in range(MANY)] if row == "new" else [token] * MANY
    scopes = [http_scope(path, tokens[n] if row != "public" else None) for n in range(MANY)]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    async def run(scopes: list[dict[str, Any]]) -> None:
        for scope in scopes:
            await app(scope, receive, send)

    loop = asyncio.new_event_loop()
    loop.run_until_complete(run([http_scope(path, token if row != "public" else None)]))  # keys fetched, caches warm

    def send_all() -> None:
        # No collection during the run: when one starts depends on everything allocated so far.
        gc.collect()
        gc.disable()
        loop.run_until_complete(run(scopes[:count]))

    return send_all


def _count(row: str, count: int) -> int:
    """Instructions callgrind counts for the whole process that sends `count` requests of `row`."""
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "callgrind.out")
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__, "--one", row,
             str(count)],
            check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": "0"},
        )  # fmt: skip
        with open(out) as summary:
            return int(re.search(r"^summary: (\d+)", summary.read(), re.MULTILINE).group(1))  # type: ignore[union-attr]


def _write_key(folder: str) -> str:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    path = os.path.join(folder, "bench-key.pem")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with open(path, "wb") as pem:
        pem.write(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="*", default=list(ROWS), choices=ROWS)
    parser.add_argument("--smoke", action="store_true", help="run each row's requests once, without valgrind")
    parser.add_argument("--one", nargs=2, metavar=("ROW", "COUNT"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.one:
        row, count = arguments.one
        _requests(row, int(count))()
        return
    with tempfile.TemporaryDirectory() as folder:
        os.environ[_KEY_FILE] = _write_key(folder)
        if arguments.smoke:
            for row in arguments.rows:
                _requests(row, 3)()
            print("smoke: every row ran")
            return
        if shutil.which("valgrind") is None:
            sys.exit("valgrind is not installed (apt-get install valgrind)")
        per_request = {row: (_count(row, MANY) - _count(row, FEW)) / (MANY - FEW) for row in arguments.rows}
    floor = per_request.get("F")
    bare = per_request.get("bare")
    print(f"{'row':<8} {'instructions':>13} {'over bare':>10} {'over bare (F)':>14}")
    for row, instructions in per_request.items():
        over = instructions - bare if bare is not None and row not in ("bare", "F") else None
        in_f = f"{over / floor:.3f}" if over is not None and floor else ""
        print(f"{row:<8} {instructions:>13,.0f} {'' if over is None else f'{over:,.0f}':>10} {in_f:>14}")


if __name__ == "__main__":
    main()
