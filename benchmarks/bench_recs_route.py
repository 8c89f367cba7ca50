"""Latency of `GET /v1/recommendations` at a fixed request rate, against `GET /health` in the
same run.

Serves a trained retailer with `clientcore serve`: the generated retailer of `--customers`
customers (100,000 products from 200,000 customers), imported and stitched once under
benchmarks/.work/, padded in SQL with one-visit prospects (an anonymousId and a page view
each, long before the log's end) until the store holds `--profiles` profiles, then trained.
Requests are sent *open loop* from a second process on the same cores, with the raw
keep-alive client of bench_decide.py: each request has a scheduled send time and its latency is
measured from it, so a server falling behind shows in the figures. The mix: 70% known
customers by userId with their latest cookie as the visit, 30% anonymous visitors of the
retailer by cookie alone; `k=10`, `at` = ten minutes after the log's end (visits still open).
The anchor is `/health` at the same rate, measured last. Each run also reports the server's CPU
per request (from /proc, so it holds under other load) and the load average after it; the
server's own count of requests answered from memory and from the store closes the document.
The same mix is also timed in process, one request after another, reading its context from the
store and from the log's tail in memory.

Figure to reach: p99 ≤ 20 ms at 200 requests/s with 100,000 products and 1M profiles.

    python benchmarks/bench_recs_route.py --customers 200000 --profiles 1000000 --rates 200
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np

from _common import WORK, emit, free_port, machine, serve
from bench_decide import _load
from bench_recs_prepare import retailer_store
from clientcore.personalize.model import Recommender, current_version
from clientcore.personalize.train import train
from clientcore.store import open_store

ADMIN = "bench-admin-token"
PAD_PREFIX = "prospect-"


def served_store(customers: int, profiles: int) -> tuple[Path, str]:
    """(generated data dir, DuckDB file) of the retailer padded to `profiles` profiles."""
    data, source, _ = retailer_store(customers)
    db = WORK / f"recs-route-{customers}-{profiles}.duckdb"
    done = Path(str(db) + ".ready")
    if not done.exists():
        db.unlink(missing_ok=True)
        shutil.rmtree(str(db) + ".models", ignore_errors=True)
        shutil.copy(source, db)
        pad(str(db), profiles)
        done.touch()
    return data, str(db)


def pad(db: str, profiles: int) -> int:
    """Add one-visit prospects until the store holds `profiles` profiles; how many were added.

    Each has one identifier (its anonymousId, its own profile), one page view, and its row in
    the identifier index, spread over the log's first part (never in a visit still open at its
    end); identity's watermark moves past them, as a stitch would have. Training follows."""
    store = open_store(db)
    try:
        have = int(store.query("SELECT count(DISTINCT profile_id) FROM identifiers")[0][0])
        n = profiles - have
        if n <= 0:
            return 0
        seq0, id0 = (int(x) for x in store.query(
            "SELECT (SELECT max(seq) FROM events), (SELECT max(id) FROM identifiers)"
        )[0])  # fmt: skip
        first, last = store.query("SELECT min(timestamp), max(timestamp) FROM events")[0]
        product = store.query(
            "SELECT json_extract_string(payload, '$.properties.product_id') FROM events "
            "WHERE event = 'Product Viewed' LIMIT 1"
        )[0][0]
        span = max(int((last - first).total_seconds()) - 7 * 86400, 1)
        at = f"(TIMESTAMPTZ '{first.isoformat()}' + to_seconds((i * 7919) % {span}))"
        with store.transaction():
            store.execute(
                f"""INSERT INTO event_log (seq, source, message_id, type, event, user_id,
                       anonymous_id, channel, timestamp, received_at, payload)
                    SELECT {seq0} + i, 'bench-pad', 'pad-' || i, 'page', NULL, NULL,
                       '{PAD_PREFIX}' || i, 'web', {at}, {at},
                       '{{"type":"page","anonymousId":"{PAD_PREFIX}' || i || '"}}'
                    FROM range(1, {n} + 1) t(i)"""
            )
            store.execute(
                f"""INSERT INTO identifiers SELECT {id0} + i, 'anonymous_id',
                       '{PAD_PREFIX}' || i, {id0} + i, {seq0} + i, false
                    FROM range(1, {n} + 1) t(i)"""
            )
            store.execute(
                f"""INSERT INTO event_identifiers SELECT {seq0} + i, {id0} + i, {at}
                    FROM range(1, {n} + 1) t(i)"""
            )
            # The last prospect looked at a product: the log ends on a product event, as a
            # real one does, so the model's watermark (its last product event) is the log's
            # end and the server's tail holds only the last hours, not every prospect.
            store.execute(
                f"""UPDATE events SET type = 'track', event = 'Product Viewed',
                       payload = '{{"type":"track","event":"Product Viewed","anonymousId":"'
                       || anonymous_id || '","properties":{{"product_id":"' || ? || '"}}}}'
                    WHERE seq = {seq0 + n}""",
                [product],
            )
            store.execute("DELETE FROM identity_state WHERE name = 'identity_watermark'")
            store.execute("INSERT INTO identity_state VALUES ('identity_watermark', ?)", [seq0 + n])
        return n
    finally:
        store.close()


def _model(db: str, data: Path) -> tuple[Path, float]:
    """The models directory (trained once), and the training's seconds (0 when reused)."""
    root = Path(db + ".models")
    if current_version(root) is not None:
        return root, 0.0
    started = time.perf_counter()
    store = open_store(db)
    try:
        train(store, root, data / "catalog.csv")
    finally:
        store.close()
    return root, time.perf_counter() - started


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
            f"""SELECT value FROM identifiers WHERE type = 'anonymous_id'
               AND value NOT LIKE '{PAD_PREFIX}%' AND profile_id IN
               (SELECT profile_id FROM identifiers GROUP BY profile_id HAVING count(*) = 1)
               ORDER BY hash(value) LIMIT ?""",
            [n],
        )
        profiles = int(store.query("SELECT count(DISTINCT profile_id) FROM identifiers")[0][0])
    finally:
        store.close()
    return [(str(u), str(a)) for u, a in known], [str(v[0]) for v in visitors], profiles


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measured(server: subprocess.Popen[bytes], run: Any) -> dict[str, Any]:
    """A load run, with the server's CPU per request and the machine's load after it."""
    before = _cpu_seconds(server.pid)
    result: dict[str, Any] = run()
    used = _cpu_seconds(server.pid) - before
    result["server_cpu_ms_per_request"] = round(used * 1000 / max(result["requests"], 1), 2)
    result["load_1m_after"] = round(os.getloadavg()[0], 2)
    return result


def in_process(db: str, root: Path, asks: list[dict[str, Any]]) -> dict[str, Any]:
    """Milliseconds one request costs inside the service, one after another on one thread,
    reading the store (the path before the log's tail) and from memory (the server's path)."""
    from clientcore.identity.spec import load_spec
    from clientcore.identity.sync import IdentityService
    from clientcore.personalize.service import RecommendationService

    store = open_store(db)
    try:
        identity = IdentityService(store.reader(), load_spec())
        out: dict[str, Any] = {}
        for name, graph in (("store", None), ("memory", identity)):
            service = RecommendationService(
                store, root, identity=(lambda g=graph: g) if graph else None
            )
            service.load_current()
            try:
                for ask in asks[:50]:
                    service.recommend(**_arguments(ask))
                times = []
                for ask in asks:
                    started = time.perf_counter()
                    service.recommend(**_arguments(ask))
                    times.append((time.perf_counter() - started) * 1000)
            finally:
                service.close()
            ms = np.array(times)
            out[name] = {
                "requests": len(times),
                "mean_ms": round(float(ms.mean()), 2),
                "p50_ms": round(float(np.percentile(ms, 50)), 2),
                "p99_ms": round(float(np.percentile(ms, 99)), 2),
                "load_1m_after": round(os.getloadavg()[0], 2),
            }
        identity.store.close()
    finally:
        store.close()
    return out


def _arguments(ask: dict[str, Any]) -> dict[str, Any]:
    return {
        "profile": ask.get("profile"),
        "session": ask.get("session"),
        "k": int(ask["k"]),
        "at": datetime.fromisoformat(ask["at"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--rates", default="200")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--in-process", type=int, default=2000, help="requests timed in process")
    args = parser.parse_args()
    facts = machine()
    data, db = served_store(args.customers, args.profiles)
    root, train_seconds = _model(db, data)
    model = Recommender.load(root)
    at = (datetime.fromtimestamp(model.models.now, UTC) + timedelta(minutes=10)).isoformat()
    shape = {
        "products": len(model.catalog),
        "profiles_in_model": len(model.history.profiles),
        "model_version": model.version,
    }
    del model
    known, visitors, profiles = _people(db, 20_000)
    rng = random.Random(7)

    def ask() -> dict[str, Any]:
        if rng.random() < 0.7:
            user, cookie = rng.choice(known)
            return {"profile": user, "session": cookie, "k": 10, "at": at}
        return {"session": rng.choice(visitors), "k": 10, "at": at}

    cpu = in_process(db, root, [ask() for _ in range(args.in_process)]) if args.in_process else {}
    print("in process", cpu, file=sys.stderr)
    # This process built the store and timed the model in process: left to the collector, its
    # long-lived objects cost the load generator a full collection mid-run, counted as latency.
    gc.collect()
    gc.freeze()
    port = free_port()
    # Start-up (the identity graph, the model) may take minutes at 1M profiles; it settles 3 s.
    env = {"CLIENTCORE_ADMIN_TOKEN": ADMIN, "CLIENTCORE_MODELS": str(root)}
    server = serve(db, port, env=env, timeout=600.0, settle=3.0)
    url = f"http://127.0.0.1:{port}"
    runs: dict[str, Any] = {}
    served: dict[str, Any] = {}
    try:
        key = httpx.post(
            f"{url}/v1/admin/keys",
            json={"name": "bench", "scope": "read"},
            headers={"Authorization": f"Bearer {ADMIN}"},
        ).json()["key"]
        for rate in (float(r) for r in args.rates.split(",")):
            n = int(rate * args.seconds)
            paths = [f"/v1/recommendations?{urlencode(ask())}" for _ in range(n)]
            result = _measured(
                server, lambda p=paths, r=rate: asyncio.run(_load(port, p, r, (key, "")))
            )
            runs[f"recommendations@{rate:g}"] = result
            print(f"recommendations@{rate:g}", result, file=sys.stderr)
        rate = float(args.rates.split(",")[-1])
        health = ["/health"] * int(rate * args.seconds)
        runs[f"health@{rate:g}"] = _measured(
            server, lambda: asyncio.run(_load(port, health, rate, None))
        )
        print(f"health@{rate:g}", runs[f"health@{rate:g}"], file=sys.stderr)
        status = httpx.get(
            f"{url}/v1/admin/recommendations/model", headers={"Authorization": f"Bearer {ADMIN}"}
        ).json()
        served = {"answered": status.get("answered"), "log_tail": status.get("log_tail")}
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
            "training_seconds": round(train_seconds, 1),
            "mix": "70% known customer + cookie, 30% anonymous cookie; k=10",
            "in_process": cpu,
            "runs": runs,
            "server": served,
            "target": {"rate": 200, "p99_ms": 20},
        }
    )


if __name__ == "__main__":
    main()
