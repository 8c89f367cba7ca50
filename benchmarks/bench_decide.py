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
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from _common import emit, free_port, machine, open_loop, serve
from bench_profile_lookup import build
from clientcore.identity.spec import load_spec
from clientcore.identity.sync import stitch
from clientcore.store import open_store

ADMIN = "bench-admin-token"
CONNECTIONS = 32
WINDOW_SECONDS = 5.0


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
    return await open_loop(port, requests, rate, CONNECTIONS, WINDOW_SECONDS, requests[:50])


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
        port = free_port()
        # Start-up work (loading the identity graph) settles for 2 s before the load.
        server = serve(
            db, port, env={"CLIENTCORE_ADMIN_TOKEN": ADMIN}, settle=2.0, hide_stdout=False
        )
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
