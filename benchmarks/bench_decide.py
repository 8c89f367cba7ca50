"""`GET /v1/decide` latency at a fixed request rate, against `GET /health` in the same run.

Builds an embedded store of N profiles (default 1,000,000; two identifiers each, as in
bench_profile_lookup.py), stitches it, starts `clientcore serve` on it (which keeps the
identity graph in memory, so a decision resolves the person without a store query), creates
an A/B experiment and a Thompson-sampling bandit, then sends requests *open loop* at RATE per
second (default 500) for SECONDS each: every request has a scheduled send time and its latency
is measured from that time, so a stalled server cannot hide queueing (no coordinated
omission). Identifiers are random (a user id or an email in odd case), so each decision
resolves a person for real.

The anchor is `/health` at the same rate in the same run (the HTTP stack's own floor on this
machine), measured last so the server's start-up work does not land on it; the figure to
reach is p99 <= 10 ms at 500 requests/s.

    python benchmarks/bench_decide.py [--profiles 1000000] [--rate 500] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from _common import emit, machine
from bench_profile_lookup import build
from clientcore.identity.spec import load_spec
from clientcore.identity.sync import stitch
from clientcore.store import open_store

ADMIN = "bench-admin-token"
CONNECTIONS = 32
WINDOW_SECONDS = 5.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(db: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CLIENTCORE_ADMIN_TOKEN": ADMIN}
    command = [sys.executable, "-m", "clientcore.cli", "serve", "--db", db, "--port", str(port)]
    server = subprocess.Popen(command, env=env)
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                time.sleep(2.0)  # let start-up work (loading the identity graph) settle
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not become ready")


class _Connection:
    """One keep-alive HTTP/1.1 connection on raw asyncio streams: a load generator on the same
    2 cores as the server must cost far less per request than a full HTTP client does."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def get(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status


async def _load(
    port: int, paths: list[str], rate: float, auth: tuple[str, str] | None
) -> dict[str, Any]:
    header = b""
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode())
        header = b"Authorization: Basic " + token + b"\r\n"
    requests = [
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode() + header + b"\r\n" for path in paths
    ]
    pool: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(CONNECTIONS):
        pool.put_nowait(_Connection(*await asyncio.open_connection("127.0.0.1", port)))
    for request in requests[:50]:  # warm-up: caches, code paths
        connection = await pool.get()
        await connection.get(request)
        pool.put_nowait(connection)
    latencies = np.full(len(paths), np.nan)
    errors = 0
    start = time.perf_counter() + 0.05

    async def one(k: int, request: bytes, scheduled: float) -> None:
        nonlocal errors
        connection = await pool.get()
        try:
            ok = await connection.get(request) == 200
        except (OSError, asyncio.IncompleteReadError, ValueError):
            ok = False
        pool.put_nowait(connection)
        latencies[k] = time.perf_counter() - scheduled
        if not ok:
            errors += 1

    # Each request is started at its own time by one scheduler: creating every task up front
    # cost the client a burst of work at the start that it then counted as server latency.
    tasks = []
    for k, request in enumerate(requests):
        scheduled = start + k / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(k, request, scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait().writer.close()
    ms = latencies * 1000
    window = max(1, int(rate * WINDOW_SECONDS))
    return {
        "requests": len(paths),
        "achieved_rate": round(len(paths) / elapsed, 1),
        "errors": errors,
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p90_ms": round(float(np.percentile(ms, 90)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(np.max(ms)), 2),
        # p99 of each WINDOW_SECONDS of sends: start-up stalls show in the first windows.
        "p99_ms_by_window": [
            round(float(np.percentile(ms[i : i + window], 99)), 1)
            for i in range(0, len(ms), window)
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "decide.duckdb")
        build(db, args.profiles, 2)
        store = open_store(db)
        stitch(store, load_spec())  # the server then keeps the identity graph in memory
        store.close()
        build_seconds = time.perf_counter() - started
        # Building the store left this process with millions of long-lived objects: one full
        # collection of them during a run stalls the load generator itself, which then counts
        # the stall as server latency (the first run's third window, every time).
        gc.collect()
        gc.freeze()
        port = _free_port()
        server = _serve(db, port)
        base = f"http://127.0.0.1:{port}"
        try:
            admin = {"Authorization": f"Bearer {ADMIN}"}
            key = httpx.post(
                f"{base}/v1/admin/keys", json={"name": "web", "scope": "write"}, headers=admin
            ).json()["key"]
            for body in (
                {"id": "hero", "variants": ["control", "a", "b"], "traffic": 1.0},
                {"id": "offer", "kind": "bandit", "variants": ["x", "y", "z"], "layer": "email"},
            ):
                httpx.post(f"{base}/v1/experiments", json=body, headers=admin).raise_for_status()
            rng = random.Random(7)
            n = int(args.rate * args.seconds)

            def who() -> str:
                p = rng.randrange(args.profiles)
                return f"u{p}" if rng.random() < 0.5 else f"User{p}@Example.com"

            runs = {
                "decide_ab": (
                    [f"/v1/decide?experiment=hero&profile={who()}&channel=web" for _ in range(n)],
                    (key, ""),
                ),
                "decide_bandit": (
                    [
                        f"/v1/decide?experiment=offer&profile={who()}&channel=email"
                        for _ in range(n)
                    ],
                    (key, ""),
                ),
                "health": (["/health"] * n, None),
            }
            results = {}
            for name, (paths, auth) in runs.items():
                results[name] = asyncio.run(_load(port, paths, args.rate, auth))
                print(name, results[name], file=sys.stderr)
        finally:
            server.terminate()
            server.wait(timeout=30)
    emit(
        {
            "benchmark": "decide_latency",
            "profiles": args.profiles,
            "rate_per_second": args.rate,
            "seconds_per_run": args.seconds,
            "store_build_seconds": round(build_seconds, 1),
            "results": results,
            "p99_vs_health": round(results["decide_ab"]["p99_ms"] / results["health"]["p99_ms"], 2),
            "target": "decide p99 <= 10 ms at 500 requests/s",
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
