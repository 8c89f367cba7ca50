"""Training time of the recommender on a generated retailer (≈54 events per customer).

Prepares once (generate → import → stitch, cached under benchmarks/.work/), then times
`clientcore recommend train` end to end — reading the events from the store, the candidate
models fitted twice (before the ranker's label window, then on the whole log), the ranker's
training set and LightGBM, the history index, and writing the version — with the time of
each step and the process's peak memory. Figure to reach: 10M events ≤ 5 minutes.

    python benchmarks/bench_recs_train.py --customers 200000     # ≈ 10.8M events
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from _common import emit, machine
from bench_recs_prepare import retailer_store
from clientcore.personalize.train import train
from clientcore.store import open_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--max-cases", type=int, default=3000)
    args = parser.parse_args()
    facts = machine()
    data, db, prepared = retailer_store(args.customers)
    store = open_store(db)
    events = int(store.query("SELECT count(*) FROM events")[0][0])
    models = Path(db + ".models")  # kept: bench_recs_route serves it
    try:
        started = time.perf_counter()
        report = train(store, models, data / "catalog.csv", max_cases=args.max_cases)
        seconds = time.perf_counter() - started
    finally:
        store.close()
    emit(
        {
            "benchmark": "recs_train",
            "machine": facts,
            "customers": args.customers,
            "events": events,
            "interactions": report.interactions,
            "products": report.products,
            "profiles": report.profiles,
            "prepare_seconds": prepared,
            "train_seconds": round(seconds, 1),
            "steps": report.timings,
            "ranker": report.ranker,
            "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
            "target_seconds": 300,
        }
    )


if __name__ == "__main__":
    main()
