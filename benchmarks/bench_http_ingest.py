"""HTTP batch ingest: sustained rate and per-request latency, every 200 a durable commit.

An open-loop client sends batches of 100 events at a fixed rate (default 200 requests/s =
20,000 events/s) to a real `clientcore serve` on an embedded DuckDB file, and measures each
request's latency from its *scheduled* send time (so queueing is not hidden). Then a
closed-loop phase with many concurrent clients finds the most the server sustains.
Figures to reach: >= 20,000 events/s sustained, p99 < 50 ms at that load.

    python benchmarks/bench_http_ingest.py [--rate 200] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import orjson

from _common import demo_data, emit, machine

BATCH = 100


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bodies(events: Path, count: int) -> list[bytes]:
    """`count` batch bodies of real demo events, each event with a fresh messageId."""
    lines: list[bytes] = []
    with events.open("rb") as handle:
        for line in handle:
            lines.append(line)
            if len(lines) >= 50_000:
                break
    bodies = []
    for i in range(count):
        batch = []
        for j in range(BATCH):
            event = orjson.loads(lines[(i * BATCH + j) % len(lines)])
            event["messageId"] = f"bench-{i}-{j}"
            batch.append(event)
        bodies.append(orjson.dumps({"batch": batch}))
    return bodies


async def _open_loop(
    url: str, key: str, bodies: list[bytes], rate: float
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, auth=(key, ""), limits=limits, timeout=30) as client:
        start = time.perf_counter() + 0.2

        async def send(i: int, body: bytes) -> None:
            nonlocal failures
            scheduled = start + i / rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            response = await client.post(
                "/v1/batch", content=body, headers={"content-type": "application/json"}
            )
            if response.status_code != 200:
                failures += 1
            latencies.append(time.perf_counter() - scheduled)

        await asyncio.gather(*(send(i, b) for i, b in enumerate(bodies)))
        elapsed = time.perf_counter() - start
    return latencies, failures, elapsed


async def _closed_loop(url: str, key: str, bodies: list[bytes], clients: int) -> tuple[int, float]:
    done = 0
    queue = list(reversed(bodies))
    async with httpx.AsyncClient(base_url=url, auth=(key, ""), timeout=30) as client:
        start = time.perf_counter()

        async def worker() -> None:
            nonlocal done
            while queue:
                body = queue.pop()
                response = await client.post(
                    "/v1/batch", content=body, headers={"content-type": "application/json"}
                )
                done += response.status_code == 200

        await asyncio.gather(*(worker() for _ in range(clients)))
        return done, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--events", type=Path, help="an NDJSON file instead of demo data")
    args = parser.parse_args()
    events = args.events or demo_data(args.customers) / "events.ndjson"
    n_open = int(args.rate * args.seconds)
    bodies = _bodies(events, n_open + 2000)
    facts = machine()
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.duckdb")
        cli = [sys.executable, "-m", "clientcore.cli"]
        created = subprocess.run(
            [*cli, "keys", "create", "--name", "bench", "--json", "--db", db],
            check=True,
            capture_output=True,
        )
        key = orjson.loads(created.stdout)["key"]
        port = _free_port()
        server = subprocess.Popen(
            [*cli, "serve", "--db", db, "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            latencies, failures, elapsed = asyncio.run(
                _open_loop(url, key, bodies[:n_open], args.rate)
            )
            stored_open = n_open * BATCH - failures * BATCH
            done, closed_s = asyncio.run(_closed_loop(url, key, bodies[n_open:], clients=32))
        finally:
            server.terminate()
            try:
                server.wait(timeout=120)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    lat_ms = np.array(latencies) * 1000
    emit(
        {
            "benchmark": "http_ingest",
            "machine": facts,
            "batch_size": BATCH,
            "open_loop": {
                "target_requests_per_second": args.rate,
                "target_events_per_second": args.rate * BATCH,
                "requests": n_open,
                "failures": failures,
                "achieved_events_per_second": round(stored_open / elapsed),
                "latency_ms": {
                    "p50": round(float(np.percentile(lat_ms, 50)), 2),
                    "p99": round(float(np.percentile(lat_ms, 99)), 2),
                    "max": round(float(lat_ms.max()), 2),
                },
            },
            "closed_loop_32_clients": {
                "requests": done,
                "events_per_second": round(done * BATCH / closed_s),
            },
            "durability": "each 200 is sent after the group commit that holds its events",
            "targets": {"events_per_second": 20_000, "p99_ms": 50},
        }
    )


if __name__ == "__main__":
    main()
