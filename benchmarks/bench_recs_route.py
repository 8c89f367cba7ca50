"""Latency of `GET /v1/recommendations` under concurrent load, from a separate process.

Serves a trained retailer (prepared and trained once under benchmarks/.work/) with
`clientcore serve`, then an asyncio/httpx load generator sends requests at a fixed rate (open
loop: latency is measured from each request's scheduled time, so a server falling behind shows
up in the figures instead of slowing the generator down). The mix: 70% known customers by
userId with their latest cookie as the visit, 30% anonymous visitors by cookie alone; `k=10`,
`at` = ten minutes after the log's end. The generator shares the machine's two cores.
Figure to reach: p99 ≤ 20 ms at 200 requests/s with 100,000 products and 1M profiles.

    python benchmarks/bench_recs_route.py --customers 200000 --rates 50,100,200 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

from _common import emit, machine
from bench_recs_prepare import retailer_store
from clientcore.personalize.model import Recommender, current_version
from clientcore.personalize.train import train
from clientcore.store import open_store

ADMIN = "bench-admin-token"


def _model(db: str, data: Path) -> Path:
    root = Path(db + ".models")
    if current_version(root) is None:
        store = open_store(db)
        try:
            train(store, root, data / "catalog.csv")
        finally:
            store.close()
    return root


def _people(db: str, n: int) -> tuple[list[tuple[str, str]], list[str], int]:
    store = open_store(db)
    try:
        known = store.query(
            """SELECT u.value, max(a.value) FROM identifiers u JOIN identifiers a
               ON a.profile_id = u.profile_id AND a.type = 'anonymous_id'
               WHERE u.type = 'user_id' GROUP BY u.value ORDER BY hash(u.value) LIMIT ?""",
            [n],
        )
        visitors = store.query(
            """SELECT value FROM identifiers WHERE type = 'anonymous_id' AND profile_id IN
               (SELECT profile_id FROM identifiers GROUP BY profile_id HAVING count(*) = 1)
               ORDER BY hash(value) LIMIT ?""",
            [n],
        )
        profiles = int(store.query("SELECT count(DISTINCT profile_id) FROM identifiers")[0][0])
    finally:
        store.close()
    return [(str(u), str(a)) for u, a in known], [str(v[0]) for v in visitors], profiles


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _run(url: str, key: str, rate: float, seconds: float, make: object) -> dict:  # type: ignore[type-arg]
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, auth=(key, ""), limits=limits, timeout=30) as client:

        async def one(scheduled: float, params: dict) -> None:  # type: ignore[type-arg]
            nonlocal errors
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                response = await client.get("/v1/recommendations", params=params)
            except httpx.HTTPError:  # a connection dropped under overload counts as an error
                errors += 1
            else:
                errors += response.status_code != 200
            latencies.append(time.perf_counter() - scheduled)

        start = time.perf_counter() + 0.2
        n = int(rate * seconds)
        tasks = [
            asyncio.create_task(one(start + i / rate, make()))  # type: ignore[operator]
            for i in range(n)
        ]
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {
        "rate_target": rate,
        "rate_achieved": round(len(latencies) / elapsed, 1),
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p90_ms": round(float(np.percentile(ms, 90)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--rates", default="50,100,200")
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    facts = machine()
    data, db, _ = retailer_store(args.customers)
    root = _model(db, data)
    model = Recommender.load(root)
    at = (datetime.fromtimestamp(model.models.now, UTC) + timedelta(minutes=10)).isoformat()
    shape = {
        "products": len(model.catalog),
        "profiles_in_model": len(model.history.profiles),
        "model_version": model.version,
    }
    del model
    known, visitors, profiles = _people(db, 20_000)
    port = _free_port()
    env = {**os.environ, "CLIENTCORE_ADMIN_TOKEN": ADMIN, "CLIENTCORE_MODELS": str(root)}
    server = subprocess.Popen(
        [sys.executable, "-m", "clientcore.cli", "serve", "--db", db, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,  # this script's stdout is one JSON document
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url)
        key = httpx.post(
            f"{url}/v1/admin/keys",
            json={"name": "bench", "scope": "read"},
            headers={"Authorization": f"Bearer {ADMIN}"},
        ).json()["key"]
        rng = random.Random(7)

        def make() -> dict:  # type: ignore[type-arg]
            if rng.random() < 0.7:
                user, cookie = rng.choice(known)
                return {"profile": user, "session": cookie, "k": 10, "at": at}
            return {"session": rng.choice(visitors), "k": 10, "at": at}

        asyncio.run(_run(url, key, 20, 3, make))  # warm-up
        runs = [
            asyncio.run(_run(url, key, float(rate), args.seconds, make))
            for rate in args.rates.split(",")
        ]
    finally:
        server.terminate()
        server.wait(timeout=60)
    emit(
        {
            "benchmark": "recs_route",
            "machine": facts,
            "customers": args.customers,
            "profiles_in_store": profiles,
            **shape,
            "mix": "70% known customer + cookie, 30% anonymous cookie; k=10",
            "runs": runs,
            "target": {"rate": 200, "p99_ms": 20},
        }
    )


def _wait(url: str) -> None:
    for _ in range(600):
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("the server did not become ready")


if __name__ == "__main__":
    main()
