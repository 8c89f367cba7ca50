"""Profile lookup latency: the single customer view from an identifier, timeline page included.

Builds an embedded store of N profiles (default 1,000,000) with E events each directly in SQL —
lookup cost depends on the tables and their indexes, not on how they were filled — then times
`view_by_identifier` for random identifiers (an email typed in odd case for a third of them),
on one thread, after a warm-up. Figure to reach: p99 ≤ 20 ms with 1M profiles.

    python benchmarks/bench_profile_lookup.py [--profiles 1000000] [--events 8]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import emit, machine
from clientcore.profiles.view import view_by_identifier
from clientcore.store import open_store


def build(db: str, profiles: int, events: int) -> None:
    store = open_store(db)
    total = profiles * events
    with store.transaction():
        # Events: each profile has one user id; every event carries it.
        store.execute(
            f"""INSERT INTO event_log SELECT
                  i AS seq, 'bench', 'm' || i, CASE WHEN i % {events} = 0 THEN 'identify'
                  ELSE 'track' END, CASE WHEN i % {events} = 0 THEN NULL ELSE
                  CASE (i % 5) WHEN 0 THEN 'Order Completed' WHEN 1 THEN 'Product Viewed'
                  WHEN 2 THEN 'Email Sent' WHEN 3 THEN 'Product Added' ELSE 'Page Viewed' END END,
                  'u' || (i % {profiles}), NULL, NULL, NULL,
                  (['web','mobile','store','email','call_center'])[1 + (i % 5)],
                  TIMESTAMPTZ '2024-01-01' + INTERVAL (i) SECOND, NULL, NULL,
                  TIMESTAMPTZ '2024-01-01' + INTERVAL (i) SECOND,
                  '{{"type":"track","event":"Order Completed","userId":"u' || (i % {profiles})
                  || '","properties":{{"revenue":' || (i % 97) || ',"order_id":"o' || i
                  || '"}},"traits":{{"email":"user' || (i % {profiles}) || '@example.com"}}}}'
                FROM range(1, {total} + 1) t(i)"""
        )
        store.execute(
            f"""INSERT INTO identifiers SELECT p * 2, 'user_id', 'u' || p, p * 2, p + 1, false
                FROM range(0, {profiles}) t(p)"""
        )
        store.execute(
            f"""INSERT INTO identifiers SELECT p * 2 + 1, 'email', 'user' || p || '@example.com',
                   p * 2, p + 1, false FROM range(0, {profiles}) t(p)"""
        )
        store.execute(
            f"""INSERT INTO event_identifiers SELECT i, (i % {profiles}) * 2,
                   TIMESTAMPTZ '2024-01-01' + INTERVAL (i) SECOND FROM range(1, {total} + 1) t(i)"""
        )
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=8)
    parser.add_argument("--lookups", type=int, default=2000)
    args = parser.parse_args()
    facts = machine()
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "lookup.duckdb")
        started = time.perf_counter()
        build(db, args.profiles, args.events)
        build_s = time.perf_counter() - started
        store = open_store(db)
        rng = random.Random(7)

        def identifier() -> str:
            p = rng.randrange(args.profiles)
            return f" User{p}@Example.com " if p % 3 == 0 else f"u{p}"

        for _ in range(100):
            view_by_identifier(store, identifier(), limit=50)
        latencies = []
        for _ in range(args.lookups):
            ident = identifier()
            t0 = time.perf_counter()
            view = view_by_identifier(store, ident, limit=50)
            latencies.append(time.perf_counter() - t0)
            assert view is not None
        store.close()
    ms = np.array(latencies) * 1000
    emit(
        {
            "benchmark": "profile_lookup",
            "machine": facts,
            "profiles": args.profiles,
            "events": args.profiles * args.events,
            "build_seconds": round(build_s, 1),
            "lookups": args.lookups,
            "latency_ms": {
                "p50": round(float(np.percentile(ms, 50)), 2),
                "p99": round(float(np.percentile(ms, 99)), 2),
                "max": round(float(ms.max()), 2),
            },
            "target_p99_ms": 20,
        }
    )


if __name__ == "__main__":
    main()
