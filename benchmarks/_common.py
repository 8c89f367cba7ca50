"""Shared by the benchmark scripts: demo data on disk, machine facts, JSON output, and an
open-loop HTTP load generator."""

from __future__ import annotations

import asyncio
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

WORK = Path(__file__).resolve().parent / ".work"


def demo_data(customers: int, seed: int = 1) -> Path:
    """The generator's output for this size, generated once and reused by later runs."""
    from clientcore.demo.generator import generate

    out = WORK / f"retailer-{customers}-{seed}"
    if not (out / "events.ndjson").exists():
        generate(customers=customers, seed=seed, out=out)
    return out


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1m_at_start": round(load[0], 2),
    }


def emit(document: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(
    db: str,
    port: int,
    *,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    settle: float = 0.0,
    hide_stdout: bool = True,
    hide_stderr: bool = False,
) -> subprocess.Popen[bytes]:
    """`clientcore serve` in a subprocess, returned once `/ready` answers 200 and `settle`
    seconds have passed (start-up work such as loading the identity graph). Its stdout is
    dropped by default: a benchmark's own stdout is one JSON document."""
    command = [sys.executable, "-m", "clientcore.cli", "serve", "--db", db, "--port", str(port)]
    server = subprocess.Popen(
        [*command, *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL if hide_stdout else None,
        stderr=subprocess.DEVNULL if hide_stderr else None,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                time.sleep(settle)
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not become ready")


class Connection:
    """One keep-alive HTTP/1.1 connection on raw asyncio streams: a load generator on the same
    2 cores as the server must cost far less per request than a full HTTP client does."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status


async def open_loop(
    port: int,
    requests: list[bytes],
    rate: float,
    connections: int,
    window_seconds: float = 5.0,
    warm_up: list[bytes] | None = None,
) -> dict[str, Any]:
    """Send each request at its scheduled time (k / rate), whatever the answers before it,
    and time it from that schedule: a slow server cannot slow the load down and hide its own
    stalls (coordinated omission). Returns latency percentiles, overall and per window."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(Connection(*await asyncio.open_connection("127.0.0.1", port)))
    for request in warm_up or []:  # caches, code paths
        connection = await pool.get()
        await connection.send(request)
        pool.put_nowait(connection)
    latencies = np.full(len(requests), np.nan)
    statuses: dict[int, int] = {}
    start = time.perf_counter() + 0.05

    async def one(k: int, request: bytes, scheduled: float) -> None:
        connection = await pool.get()
        try:
            status = await connection.send(request)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            status = 0
        pool.put_nowait(connection)
        latencies[k] = time.perf_counter() - scheduled
        statuses[status] = statuses.get(status, 0) + 1

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
    window = max(1, int(rate * window_seconds))
    return {
        "requests": len(requests),
        "achieved_rate": round(len(requests) / elapsed, 1),
        "ok": statuses.get(200, 0),
        "errors": len(requests) - statuses.get(200, 0),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p90_ms": round(float(np.percentile(ms, 90)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(np.max(ms)), 2),
        "window_seconds": window_seconds,
        # p99 of each window of sends: start-up stalls show in the first windows.
        "p99_ms_by_window": [
            round(float(np.percentile(ms[i : i + window], 99)), 1)
            for i in range(0, len(ms), window)
        ],
    }
