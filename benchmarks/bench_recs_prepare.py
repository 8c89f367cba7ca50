"""The data of the recommendation benchmarks: a generated retailer imported and stitched into
an embedded DuckDB file under benchmarks/.work/, built once and reused by bench_recs_*.py.

    python benchmarks/bench_recs_prepare.py --customers 200000    # prints the timings
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from _common import WORK, demo_data, emit, machine
from clientcore.collect.importer import import_events
from clientcore.identity.spec import load_spec
from clientcore.identity.sync import stitch
from clientcore.store import open_store


def retailer_store(customers: int, seed: int = 1) -> tuple[Path, str, dict[str, float]]:
    """(generated data dir, DuckDB file with its events stitched, seconds spent preparing)."""
    data = demo_data(customers, seed)
    db = WORK / f"recs-{customers}-{seed}.duckdb"
    done = Path(str(db) + ".ready")
    seconds: dict[str, float] = {}
    if not done.exists():
        db.unlink(missing_ok=True)
        shutil.rmtree(str(db) + ".models", ignore_errors=True)
        store = open_store(str(db))
        try:
            started = time.perf_counter()
            import_events(store, data / "events.ndjson", "ndjson", "bench", None)
            seconds["import"] = round(time.perf_counter() - started, 1)
            started = time.perf_counter()
            stitch(store, load_spec(), None)
            seconds["stitch"] = round(time.perf_counter() - started, 1)
        finally:
            store.close()
        done.touch()
    return data, str(db), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    facts = machine()
    data, db, seconds = retailer_store(args.customers, args.seed)
    emit({"benchmark": "recs_prepare", "machine": facts, "data": str(data), "db": db, **seconds})


if __name__ == "__main__":
    main()
