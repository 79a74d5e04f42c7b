"""End to end through uvicorn (one worker, loopback): the public route against the protected one.

    python bench/e2e.py            # about a minute: 3 rounds x 4 scenarios x 5 s
    python bench/e2e.py --smoke    # a second per scenario: checks the harness runs

The load generator is wrk (Debian's `wrk` package) when it is installed, otherwise a bounded
async httpx loop in this process (slower than the server, so its ratios understate the gap).
Scenarios run interleaved, round after round; each reports its median req/s and latency
percentiles, and the ratio of its rate to the public route's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from _keyserver import Tenant
from _uvicorn import start_uvicorn

BENCH = Path(__file__).resolve().parent

# wrk's Lua hook: each request carries the next token of the file, so none repeats within it.
_WRK_TOKENS_SCRIPT = """
local tokens = {}
local index = 0
for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do tokens[#tokens + 1] = line end
request = function()
  index = index % #tokens + 1
  return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. tokens[index]})
end
"""


def start_server(tenant: Tenant) -> tuple[subprocess.Popen[bytes], str]:
    env = {
        **os.environ,
        "BENCH_DOMAIN": tenant.domain,
        "BENCH_ISSUER": tenant.issuer,
        "BENCH_JWKS_URL": tenant.jwks_url,
        "SSL_CERT_FILE": tenant.cert_path,
    }
    return start_uvicorn("e2e_app:app", env, BENCH, "--workers", "1", "--no-access-log")


def run_wrk(url: str, seconds: float, connections: int, token: str | None, tokens_file: str | None) -> dict[str, float]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    env = dict(os.environ)
    if tokens_file is not None:
        script = Path(tokens_file).with_suffix(".lua")
        script.write_text(_WRK_TOKENS_SCRIPT)
        command += ["-s", str(script)]
        env["BENCH_TOKENS_FILE"] = tokens_file
    elif token is not None:
        command += ["-H", f"Authorization: Bearer {token}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True, env=env).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        raise SystemExit(f"{url}: {non_2xx.group(1)} answers were not 200:\n{output}")

    def latency_ms(percentile: str) -> float:
        match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, flags=re.M)
        assert match, output
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert rate, output
    return {"rps": float(rate.group(1)), "p50": latency_ms("50"), "p99": latency_ms("99")}


async def run_httpx(url: str, seconds: float, connections: int, tokens: list[str | None]) -> dict[str, float]:
    latencies: list[float] = []
    next_token = iter(tokens * (1 + 1_000_000 // len(tokens)))
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(limits=limits) as client:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                token = next(next_token)
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                start = time.perf_counter()
                response = await client.get(url, headers=headers)
                latencies.append((time.perf_counter() - start) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{url}: answered {response.status_code}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99)],
    }


def main(rounds: int, seconds: float, connections: int, new_tokens: int, generator: str) -> None:
    tenant = Tenant()
    token = tenant.token()
    fresh = [tenant.token(jti=str(n)) for n in range(new_tokens)]
    process, base = start_server(tenant)
    # Warm-up: the one key-set fetch, and Python's first-call costs, before anything is timed.
    for _ in range(50):
        httpx.get(f"{base}/api/private", headers={"Authorization": f"Bearer {token}"}).raise_for_status()
    use_wrk = generator == "wrk" or (generator == "auto" and shutil.which("wrk") is not None)
    with tempfile.TemporaryDirectory() as scratch:
        tokens_file = os.path.join(scratch, "tokens.txt")
        Path(tokens_file).write_text("\n".join(fresh) + "\n")
        scenarios: dict[str, tuple[str, str | None, str | None, list[str | None]]] = {
            "public route": (f"{base}/api/public", None, None, [None]),
            # The same header bytes as the protected requests: what carrying a token costs the
            # server itself, before the middleware looks at it.
            "public route, same Authorization": (f"{base}/api/public", token, None, [token]),
            "protected, reused token": (f"{base}/api/private", token, None, [token]),
            "protected, new token per request": (f"{base}/api/private", None, tokens_file, list(fresh)),
        }
        results: dict[str, list[dict[str, float]]] = {name: [] for name in scenarios}
        try:
            for _ in range(rounds):
                for name, (url, one_token, file, pool) in scenarios.items():
                    if use_wrk:
                        results[name].append(run_wrk(url, seconds, connections, one_token, file))
                    else:
                        results[name].append(asyncio.run(run_httpx(url, seconds, connections, pool)))
        finally:
            process.terminate()
            process.wait(timeout=10)
            tenant.close()
    generator = "wrk -t1" if use_wrk else "async httpx loop"
    print(f"uvicorn, 1 worker, loopback; {generator}, {connections} connections; {rounds} rounds x {seconds:g} s")
    print(f"{new_tokens} distinct tokens for the new-token scenario (the worker's token cache holds 1024)")
    public_rps = statistics.median(result["rps"] for result in results["public route"])
    print(f"{'scenario':34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'x public':>9} {'x same header':>14}")
    header_rps = statistics.median(result["rps"] for result in results["public route, same Authorization"])
    for name, runs in results.items():
        rps = statistics.median(run["rps"] for run in runs)
        p50 = statistics.median(run["p50"] for run in runs)
        p99 = statistics.median(run["p99"] for run in runs)
        print(f"{name:34} {rps:9.0f} {p50:8.2f} {p99:8.2f} {rps / public_rps:9.2f} {rps / header_rps:14.2f}")
    print(f"key-set fetches by the worker: {tenant.requests}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="one short round, to check the harness runs")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--load-generator", choices=["auto", "wrk", "httpx"], default="auto")
    args = parser.parse_args()
    if args.smoke:
        main(rounds=1, seconds=1.0, connections=4, new_tokens=16, generator=args.load_generator)
    else:
        main(args.rounds, args.seconds, args.connections, new_tokens=4096, generator=args.load_generator)
