"""Reconciling the generator's three CRM exports: accuracy and time, against an untuned Splink.

    python benchmarks/bench_reconcile.py --customers 500000     # ~1.0M CRM records

1. **ours**: `import customers` of the three files, then `reconcile run` (training included),
   timed end to end; pairwise and cluster precision/recall/F1 against truth/crm_records.csv,
   largest cluster against the largest true one, the cluster-size alarm.
2. **anchor, same run**: Splink with its stock comparisons (`NameComparison`,
   `DateOfBirthComparison`, `EmailComparison`, exact phone, postcode, street), tutorial-style
   blocking and training, clustered by connected components at p = 0.5, on the same
   standardized records.
3. **incremental**: 20,000 records re-entered under new ids (copies of existing ones, half of
   them without e-mail) are matched against the trained model; published ids must not move,
   and the copies should join their person.

Prints one JSON document.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from _common import demo_data, emit, machine
from clientcore.reconcile.evaluate import evaluate_labels, evaluate_store, read_labels
from clientcore.reconcile.linkage import run
from clientcore.reconcile.records import import_customers
from clientcore.store import open_store

SOURCES = ("sales", "callcenter", "ecommerce")


def ours(data: Path, db: str) -> dict[str, Any]:
    store = open_store(db)
    started = time.perf_counter()
    imports = {}
    for source in SOURCES:
        report = import_customers(store, data / "crm" / f"crm_{source}.csv", source)
        imports[source] = {"rows": report.rows, "seconds": report.seconds}
    imported = time.perf_counter()
    linked = run(store)
    finished = time.perf_counter()
    scores = evaluate_store(store, read_labels(data / "truth" / "crm_records.csv"))
    store.close()
    return {
        "records": linked.records,
        "seconds_total": round(finished - started, 1),
        "seconds_import": round(imported - started, 1),
        "seconds_run": round(finished - imported, 1),
        "imports": imports,
        "run": linked.to_dict(),
        "evaluation": scores,
    }


def untuned(db: str, data: Path) -> dict[str, Any]:
    """Splink out of the box on the same standardized records."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    store = open_store(db)
    records = store.arrow(
        "SELECT record_key AS unique_id, source, record_id, given_name, surname, birth_date, "
        "email, phone, postcode, address_1, coalesce(city, suburb) AS city "
        "FROM customer_records ORDER BY record_key"
    )
    store.close()
    started = time.perf_counter()
    con = duckdb.connect()
    db_api = DuckDBAPI(con)
    frame = db_api.register(records.drop_columns(["source", "record_id"]))
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.EmailComparison("email"),
            cl.ExactMatch("phone"),
            cl.ExactMatch("postcode"),
            cl.LevenshteinAtThresholds("address_1", 2),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("given_name", "surname"),
            block_on("surname", "birth_date"),
            block_on("email"),
            block_on("phone"),
            block_on("postcode", "address_1"),
        ],
    )
    linker = Linker(frame, settings, log_level=40)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname", "birth_date"), block_on("email")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=3e6, seed=1)
    for rule in (block_on("given_name", "surname"), block_on("birth_date")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule, max_pairs=2e6)
    predictions = linker.inference.predict(threshold_match_probability=0.01, warning_mode="never")
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.5)
    seconds = time.perf_counter() - started
    con.register("records_in", records)
    con.register("truth", read_labels(data / "truth" / "crm_records.csv"))
    joined = con.sql(
        f"""SELECT c.unique_id, c.cluster_id, t.person_id FROM {clusters.physical_name} c
            JOIN records_in r USING (unique_id)
            JOIN truth t ON t.source = r.source AND t.record_id = r.record_id
            ORDER BY c.unique_id"""
    ).fetchnumpy()
    index = {int(k): i for i, k in enumerate(joined["unique_id"].tolist())}
    edges = con.sql(
        f"SELECT unique_id_l, unique_id_r FROM {predictions.physical_name} "
        "WHERE match_probability >= 0.5"
    ).fetchnumpy()
    a = np.array([index[int(k)] for k in edges["unique_id_l"].tolist()], dtype=np.int64)
    b = np.array([index[int(k)] for k in edges["unique_id_r"].tolist()], dtype=np.int64)
    result = evaluate_labels(joined["cluster_id"], joined["person_id"], (a, b)).to_dict()
    con.close()
    return {"seconds": round(seconds, 1), "evaluation": result}


def incremental(db: str, data: Path, n: int = 20_000) -> dict[str, Any]:
    """Copies of existing records under new ids, matched against the trained model."""
    store = open_store(db)
    before = dict(store.query("SELECT record_key, cluster_id FROM record_clusters"))
    rows = list(csv.DictReader((data / "crm" / "crm_ecommerce.csv").open()))
    picked = random.Random(7).sample(rows, min(n, len(rows)))
    truth = {r["record_id"]: r["person_id"] for r in csv.DictReader(
        (data / "truth" / "crm_records.csv").open()) if r["source"] == "ecommerce"}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "late_accounts.csv"
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            for k, row in enumerate(picked):
                copy = dict(row, account_id=f"LATE-{k}")
                if k % 2:
                    copy["email"] = ""
                writer.writerow(copy)
        started = time.perf_counter()
        import_customers(store, path, "late", None, ["account_id=record_id", "user_id=user_id",
            "first_name=given_name", "last_name=surname", "email=email", "mobile=phone",
            "address_line1=address_1", "address_line2=address_2", "city=city", "state=state",
            "zip=postcode", "date_of_birth=birth_date"])  # fmt: skip
        report = run(store)
        seconds = time.perf_counter() - started
    after = dict(store.query("SELECT record_key, cluster_id FROM record_clusters"))
    joined = store.query(
        """SELECT l.record_id, o.record_id FROM customer_records l
           JOIN record_clusters cl ON cl.record_key = l.record_key
           JOIN record_clusters co ON co.cluster_id = cl.cluster_id
           JOIN customer_records o ON o.record_key = co.record_key AND o.source = 'ecommerce'
           WHERE l.source = 'late'"""
    )
    store.close()
    original = {f"LATE-{k}": row["account_id"] for k, row in enumerate(picked)}
    right = {late for late, other in joined if truth.get(other) == truth[original[late]]}
    wrong = {late for late, other in joined if truth.get(other) != truth[original[late]]}
    return {
        "new_records": report.new_records,
        "mode": report.mode,
        "seconds": round(seconds, 1),
        "published_ids_moved": sum(1 for k, c in before.items() if after.get(k) != c),
        "joined_their_person": round(len(right) / len(picked), 4),
        "joined_someone_else": len(wrong),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", default=None, help="DuckDB file (default: a temporary one)")
    parser.add_argument("--skip-anchor", action="store_true")
    args = parser.parse_args()
    data = demo_data(args.customers, args.seed)
    document: dict[str, Any] = {"machine": machine(), "customers": args.customers}
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or str(Path(tmp) / "reconcile.duckdb")
        print("ours …", file=sys.stderr)
        document["ours"] = ours(data, db)
        if not args.skip_anchor:
            print("untuned Splink …", file=sys.stderr)
            document["untuned_splink"] = untuned(db, data)
        print("incremental …", file=sys.stderr)
        document["incremental"] = incremental(db, data)
    document["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    emit(document)


if __name__ == "__main__":
    main()
