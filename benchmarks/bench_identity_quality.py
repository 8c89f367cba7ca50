"""Identity quality over many generated retailers: is the demo's score luck of its seed?

For each seed, generate a retailer of N customers, import its events into a fresh embedded
DuckDB, rebuild the profiles and score them against the ground truth (`identity evaluate`).
Prints each seed's precision, recall, collapsed clusters (and who is in them) and split people,
then the worst of each. Figures to reach: precision ≥ 0.999, recall ≥ 0.99, zero collapsed.

    python benchmarks/bench_identity_quality.py                      # 20 seeds of 2,000
    python benchmarks/bench_identity_quality.py --customers 20000 --seeds 3
    CLIENTCORE_IDENTITY=rules.yaml python benchmarks/bench_identity_quality.py   # other rules
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, machine
from clientcore.collect.importer import import_events
from clientcore.demo.generator import generate
from clientcore.identity.evaluate import evaluate
from clientcore.identity.service import rebuild
from clientcore.identity.spec import load_spec, rules_path
from clientcore.store import open_store


def score(customers: int, seed: int) -> dict[str, Any]:
    spec = load_spec()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "retailer"
        generate(customers=customers, seed=seed, out=data)
        store = open_store(str(Path(tmp) / "identity.duckdb"))
        try:
            import_events(store, data / "events.ndjson", "ndjson", "bench")
            rebuild(store, spec)
            result = evaluate(store, data / "truth", spec)
        finally:
            store.close()
    return {
        "seed": seed,
        "precision": round(result.precision, 6),
        "recall": round(result.recall, 6),
        "collapsed_clusters": result.collapsed_clusters,
        "collapsed_namesakes": result.collapsed_namesakes,
        "split_people": result.split_people,
        "collapsed": [
            [f"{p.get('first_name', '')} {p.get('last_name', '')}".strip() for p in c.people]
            for c in result.collapsed
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--seeds", type=int, default=20, help="seeds 1..N")
    args = parser.parse_args()
    facts = machine()
    started = time.perf_counter()
    runs = [score(args.customers, seed) for seed in range(1, args.seeds + 1)]
    emit(
        {
            "benchmark": "identity_quality",
            "machine": facts,
            "rules": str(rules_path()) if rules_path() else "default",
            "customers": args.customers,
            "seeds": args.seeds,
            "seconds": round(time.perf_counter() - started, 1),
            "worst": {
                "precision": min(r["precision"] for r in runs),
                "recall": min(r["recall"] for r in runs),
                "collapsed_clusters": max(r["collapsed_clusters"] for r in runs),
                "split_people": max(r["split_people"] for r in runs),
            },
            "seeds_with_collapsed_clusters": sum(r["collapsed_clusters"] > 0 for r in runs),
            "runs": runs,
            "targets": {"precision": 0.999, "recall": 0.99, "collapsed_clusters": 0},
        }
    )


if __name__ == "__main__":
    main()
