"""What an observer adds to a request with a reused token, in units of F, and nothing else.

    python bench/observer.py            # about half a minute
    python bench/observer.py --smoke    # a few iterations: checks the harness runs, not its timings

overhead.py has these rows among thirty others, where a row's median moves by several hundredths
of F from run to run. Here only four operations are interleaved, round after round, and each
keeps its fastest round (the one the shared machine disturbed least): the middleware with no
observer, with a do-nothing observer, with the OpenTelemetry observer on the SDK (metrics read
in memory, no span), and F itself. The differences are the cost of the event seam and of the
OpenTelemetry observer.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import apps
import jwt
from _keyserver import Tenant
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from overhead import Operation, asgi_call

from auth0_asgi.otel import OpenTelemetryObserver


async def fastest_round_us(operations: dict[str, Operation], rounds: int, iterations: int) -> dict[str, float]:
    for operation in operations.values():  # warm every cache and code path first
        for _ in range(iterations // 4 + 1):
            await operation()
    fastest = dict.fromkeys(operations, float("inf"))
    for _ in range(rounds):
        for name, operation in operations.items():
            start = time.perf_counter()
            for _ in range(iterations):
                await operation()
            fastest[name] = min(fastest[name], (time.perf_counter() - start) / iterations * 1e6)
    return fastest


async def main(rounds: int, iterations: int) -> None:
    tenant = Tenant()
    tenant.trust()
    token = tenant.token()
    signing_input, signature_segment = token.rsplit(".", 1)
    signature = jwt.utils.base64url_decode(signature_segment)
    public_key = tenant.key.public_key()

    async def floor() -> None:
        public_key.verify(signature, signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())

    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    middlewares = {
        "no observer": apps.ours(tenant),
        "do-nothing observer": apps.ours_observed(tenant, apps.DoNothing()),
        "OpenTelemetry observer": apps.ours_observed(tenant, OpenTelemetryObserver(meter_provider=meter_provider)),
    }
    operations: dict[str, Operation] = {
        name: asgi_call(app, "/api/private", lambda: token) for name, app in middlewares.items()
    }
    operations["F"] = floor
    try:
        fastest = await fastest_round_us(operations, rounds, iterations)
    finally:
        for app in middlewares.values():
            await app.aclose()
        meter_provider.shutdown()
    f = fastest["F"]
    print(f"rounds={rounds} x {iterations} requests; fastest round of each; F = {f:.2f} us")
    for name in middlewares:
        added = (fastest[name] - fastest["no observer"]) / f
        print(f"ours, reused token, {name:24} {fastest[name]:7.2f} us  added over no observer: {added:+.3f} F")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a few iterations, to check the harness runs")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--iterations", type=int, default=2000)
    args = parser.parse_args()
    if args.smoke:
        args.rounds, args.iterations = 2, 20
    asyncio.run(main(args.rounds, args.iterations))
