"""Identity at scale: events to profiles end to end, and the graph step vs SciPy.

For a generated retailer of N customers (≈55 events each): import its events into an
embedded DuckDB file (not timed here — see bench_import), then time `identity rebuild` end to
end (reading the store included), and time the graph step (quarantine, profile-limit splits,
components, merges) against `scipy.sparse.csgraph.connected_components` on the same edges,
graph build included, in the same run. Also scores the result against the ground truth.
Figures to reach: 10M events to profiles ≤ 60 s; graph step within 3× of SciPy.

    python benchmarks/bench_identity.py --customers 20000      # ≈ 1M events
    python benchmarks/bench_identity.py --customers 200000     # ≈ 10M events
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from _common import demo_data, emit, machine
from clientcore.collect.importer import import_events
from clientcore.identity.graph import batch_profiles
from clientcore.identity.service import rebuild
from clientcore.identity.spec import DEFAULT_SPEC
from clientcore.store import open_store


def _truth_scores(db: str, truth: Path) -> dict[str, float | int]:
    con = duckdb.connect(db, read_only=True)
    con.execute(
        "CREATE TEMP TABLE t AS SELECT * FROM "
        f"read_csv('{truth}/identifiers.csv', all_varchar=true)"
    )
    con.execute(
        "CREATE TEMP TABLE j AS SELECT t.person_id, i.profile_id FROM t JOIN identifiers i "
        "ON i.type = t.type AND i.value = t.value WHERE i.profile_id IS NOT NULL"
    )

    def pairs(q: str) -> int:
        return int(
            con.execute(f"SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM ({q})").fetchall()[0][0]
        )

    tp = pairs("SELECT count(*) n FROM j GROUP BY person_id, profile_id")
    predicted = pairs("SELECT count(*) n FROM j GROUP BY profile_id")
    collapsed = con.execute(
        "SELECT count(*) FROM (SELECT profile_id FROM j GROUP BY 1 "
        "HAVING count(DISTINCT person_id) > 1)"
    ).fetchall()[0][0]
    con.close()
    return {
        "pairwise_precision": round(tp / predicted, 5) if predicted else 1.0,
        "collapsed_clusters": int(collapsed),
    }


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the normalization helper)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=20_000)
    args = parser.parse_args()
    data = demo_data(args.customers)
    facts = machine()
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "identity.duckdb")
        store = open_store(db)
        started = time.perf_counter()
        imported = import_events(store, data / "events.ndjson", "ndjson", "bench")
        import_s = time.perf_counter() - started
        # The import's writes reach the disk first: the rebuild's commit then waits for its own.
        store.execute("CHECKPOINT")
        load_before = os.getloadavg()[0]
        cpu_before = _cpu_seconds()
        report = rebuild(store, DEFAULT_SPEC)
        rebuild_cpu = _cpu_seconds() - cpu_before
        load_after = os.getloadavg()[0]
        links = store.arrow("SELECT a, b, first_seq FROM identity_links")
        types_rows = (
            store.arrow("SELECT type FROM identifiers ORDER BY id").column("type").to_pylist()
        )
        store.close()
        a = links.column("a").to_numpy().astype(np.int64)
        b = links.column("b").to_numpy().astype(np.int64)
        seq = links.column("first_seq").to_numpy().astype(np.int64)
        n = len(types_rows)
        types = np.array([DEFAULT_SPEC.rank(t) for t in types_rows], dtype=np.int64)
        limits = {DEFAULT_SPEC.rank(k): v for k, v in DEFAULT_SPEC.limits().items()}

        def scipy_step() -> None:
            graph = coo_matrix((np.ones(a.size, dtype=np.int8), (a, b)), shape=(n, n)).tocsr()
            connected_components(graph, directed=False)

        def our_step() -> None:
            batch_profiles(types, a, b, seq, limits, None, DEFAULT_SPEC.not_linking_codes())

        def best_of(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            return min(times)

        scipy_s = best_of(scipy_step)
        ours_s = best_of(our_step)
        scores = _truth_scores(db, data / "truth")
    emit(
        {
            "benchmark": "identity",
            "machine": facts,
            "customers": args.customers,
            "events": imported.inserted,
            "import_seconds": round(import_s, 1),
            "rebuild": {
                "seconds_end_to_end": round(report.seconds, 2),
                "cpu_seconds": round(rebuild_cpu, 1),  # both processes, all threads
                "load_average_1m": [round(load_before, 2), round(load_after, 2)],
                "steps": report.timings,
                "identifiers": report.identifiers,
                "profiles": report.profiles,
                "quarantined": report.quarantined,
            },
            "graph_step": {
                "edges": int(a.size),
                "scipy_connected_components_seconds": round(scipy_s, 3),
                "ours_seconds": round(ours_s, 3),
                "ratio_vs_scipy": round(ours_s / scipy_s, 2),
            },
            "truth": scores,
            "targets": {"ten_million_events_seconds": 60, "graph_ratio_vs_scipy": 3},
        }
    )


if __name__ == "__main__":
    main()
