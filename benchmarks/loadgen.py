"""A closed-loop HTTP load generator: C connections, each sending one request after another.

Runs in its own process (so that it does not share the server's interpreter), on asyncio with
uvloop when installed, over raw keep-alive HTTP/1.1 connections (no client library in the
measured path). Bodies are taken round-robin from a JSON list; every answer's status is counted.
Prints one JSON object: requests, errors by status, seconds, throughput, latency percentiles.

    python benchmarks/loadgen.py URL --bodies FILE.json --clients 32 --seconds 20 [--warmup 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit


async def _client(
    host: str, port: int, path: str, bodies: list[bytes], offset: int, headers: str,
    until: float, warm_until: float, latencies: list[float], statuses: dict[int, int],
) -> None:  # fmt: skip
    reader, writer = await asyncio.open_connection(host, port)
    i = offset
    try:
        while True:
            now = time.perf_counter()
            if now >= until:
                return
            body = bodies[i % len(bodies)]
            i += 1
            request = (
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\ncontent-type: application/json\r\n"
                f"{headers}content-length: {len(body)}\r\n\r\n"
            ).encode() + body
            started = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            done = time.perf_counter()
            if started >= warm_until:
                latencies.append(done - started)
                status = int(status_line.split()[1])
                statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def run(opts: argparse.Namespace) -> dict[str, object]:
    url = urlsplit(opts.url)
    with open(opts.bodies) as f:
        bodies = [json.dumps(b).encode() for b in json.load(f)]
    headers = f"x-api-key: {opts.api_key}\r\n" if opts.api_key else ""
    start = time.perf_counter()
    warm_until = start + opts.warmup
    until = warm_until + opts.seconds
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    await asyncio.gather(*(
        _client(url.hostname or "127.0.0.1", url.port or 80, url.path or "/", bodies,
                k * 997, headers, until, warm_until, latencies, statuses)
        for k in range(opts.clients)
    ))  # fmt: skip
    latencies.sort()
    n = len(latencies)

    def q(p: float) -> float:
        return latencies[min(n - 1, int(p * n))] * 1000 if n else float("nan")

    return {
        "requests": n,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "seconds": opts.seconds,
        "per_second": n / opts.seconds,
        "p50_ms": q(0.50),
        "p90_ms": q(0.90),
        "p99_ms": q(0.99),
        "max_ms": latencies[-1] * 1000 if n else float("nan"),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("url")
    p.add_argument("--bodies", required=True)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--api-key")
    opts = p.parse_args()
    try:
        import uvloop
    except ImportError:
        print(json.dumps(asyncio.run(run(opts))))
    else:
        print(json.dumps(uvloop.run(run(opts))))


if __name__ == "__main__":
    main()
