"""File import rate vs DuckDB's own raw insert of the same events, in the same run.

Anchor: DuckDB reading the very same NDJSON file into a table by itself (`read_json`, the
engine's COPY path) — no validation, no deduplication. Ours: `clientcore import events`,
which judges every event, normalizes it, deduplicates on messageId and keeps the raw payload.
Figure to reach: ours >= 50% of the anchor's events/s.

    python benchmarks/bench_import.py [--customers 20000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

from _common import demo_data, emit, machine
from clientcore.collect.importer import import_events
from clientcore.store import open_store


def raw_duckdb(events: Path, db: Path) -> tuple[int, float]:
    con = duckdb.connect(str(db))
    started = time.perf_counter()
    con.execute(
        f"CREATE TABLE raw AS SELECT * FROM read_json('{events}', format='newline_delimited', "
        "union_by_name=true, sample_size=-1)"
    )
    seconds = time.perf_counter() - started
    (rows,) = con.execute("SELECT count(*) FROM raw").fetchone()  # type: ignore[misc]
    con.close()
    return int(rows), seconds


def ours(events: Path, db: Path) -> tuple[int, float]:
    store = open_store(str(db))
    started = time.perf_counter()
    report = import_events(store, events, "ndjson", "bench")
    seconds = time.perf_counter() - started
    store.close()
    return report.inserted, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--events", type=Path, help="an NDJSON file instead of demo data")
    args = parser.parse_args()
    events = args.events or demo_data(args.customers) / "events.ndjson"
    size_mb = events.stat().st_size / 1e6
    facts = machine()
    with tempfile.TemporaryDirectory() as tmp:
        raw_rows, raw_s = raw_duckdb(events, Path(tmp) / "raw.duckdb")
        our_rows, our_s = ours(events, Path(tmp) / "ours.duckdb")
    raw_rate, our_rate = raw_rows / raw_s, our_rows / our_s
    emit(
        {
            "benchmark": "import",
            "machine": facts,
            "events": our_rows,
            "file_mb": round(size_mb, 1),
            "anchor": {
                "what": "DuckDB read_json into a table (no validation, no dedup)",
                "rows": raw_rows,
                "seconds": round(raw_s, 2),
                "events_per_second": round(raw_rate),
            },
            "ours": {
                "what": "clientcore import events (judge + dedup + raw payload kept)",
                "seconds": round(our_s, 2),
                "events_per_second": round(our_rate),
            },
            "ratio_vs_anchor": round(our_rate / raw_rate, 3),
            "target_ratio": 0.5,
        }
    )


if __name__ == "__main__":
    main()
