"""Recommendation quality on the demo retailer's held-out period: ours against the baselines.

Runs `clientcore recommend evaluate` on a generated retailer (prepared once under
benchmarks/.work/): everything fitted before the split date (the ranker one label window
earlier), then recall@20, NDCG@20, MRR@20 and catalog coverage for known customers (what they
bought in the held-out period, from their history) and anonymous visits (the rest of a web or
app visit from its first half), for popularity, item co-occurrence, ALS and the learned ranker,
in the same run. Figure to reach: NDCG@20 and recall@20 ≥ 10% above the best baseline, for
both kinds of people.

    python benchmarks/bench_recs_quality.py --customers 20000
"""

from __future__ import annotations

import argparse

from _common import emit, machine
from bench_recs_prepare import retailer_store
from clientcore.personalize.data import read_interactions
from clientcore.personalize.evaluate import Plan, evaluate
from clientcore.personalize.train import load_catalog
from clientcore.store import open_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-cases", type=int, default=3000)
    parser.add_argument("--k", type=int, default=20)
    args = parser.parse_args()
    facts = machine()
    data, db, _ = retailer_store(args.customers, args.seed)
    store = open_store(db)
    try:
        catalog = load_catalog(store, data / "catalog.csv")
        interactions = read_interactions(store, catalog)
    finally:
        store.close()
    split = float(interactions.t.max()) + 1.0 - 60 * 86400
    result = evaluate(interactions, catalog, Plan(split=split, max_cases=args.max_cases), args.k)
    k = args.k
    table = {
        group: {
            name: {
                m: metrics["by_group"][group][m]
                for m in (f"recall@{k}", f"ndcg@{k}", f"mrr@{k}", "coverage", "cases")
            }
            for name, metrics in result["models"].items()
        }
        for group in result["models"][result["ours"]]["by_group"]
    }
    emit(
        {
            "benchmark": "recs_quality",
            "machine": facts,
            "customers": args.customers,
            "seed": args.seed,
            "split_date": result["split_date"],
            "test_period": result["test_period"],
            "ours": result["ours"],
            "table": table,
            "lift_over_best_baseline": result["lift_over_best_baseline"],
            "ranker": result["ranker"],
            "seconds": result["seconds"],
            "target": "ndcg and recall ≥ +10% over the best baseline, known and anonymous",
        }
    )


if __name__ == "__main__":
    main()
