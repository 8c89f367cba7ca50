"""The FEBRL benchmark files, trained without labels: pairwise and cluster F1, and time.

    python benchmarks/bench_reconcile_febrl.py

Datasets 1–3 are deduplicated (a person may be up to six times in dataset 3, so the
per-source cap is 10); 4a and 4b are linked as two sources (cap 1: one record per file).
Labels come from the record ids (`rec-17-dup-2` is person 17) and are used only to score.
Prints one JSON document; the issue's figure is pairwise F1 ≥ 0.995 on each.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from _common import emit, machine
from clientcore.reconcile.evaluate import evaluate_store
from clientcore.reconcile.linkage import run
from clientcore.reconcile.policy import LinkagePolicy
from clientcore.reconcile.records import import_customers
from clientcore.store import open_store

FEBRL = Path(__file__).resolve().parents[1] / "tests" / "data" / "febrl"
TASKS = {
    "febrl1": (["dataset1"], 10),
    "febrl2": (["dataset2"], 10),
    "febrl3": (["dataset3"], 10),
    "febrl4": (["dataset4a", "dataset4b"], 1),
}


def task(files: list[str], cap: int) -> dict[str, Any]:
    store = open_store(":memory:")
    started = time.perf_counter()
    for name in files:
        import_customers(store, FEBRL / f"{name}.csv", name, FEBRL / "mapping.yaml")
    report = run(store, LinkagePolicy(max_records_per_source=cap))
    seconds = time.perf_counter() - started
    rows = store.query("SELECT source, record_id FROM customer_records")
    people = [re.match(r"rec-(\d+)", r).group(1) for _, r in rows]  # type: ignore[union-attr]
    labels = pa.table(
        {
            "source": [s for s, _ in rows],
            "record_id": [r for _, r in rows],
            "person_id": people,
        }
    )
    result = evaluate_store(store, labels)
    store.close()
    return {
        "records": report.records,
        "seconds": round(seconds, 1),
        "pairs_scored": report.pairs_scored,
        "pairwise": result["pairwise"],
        "cluster": result["cluster"],
        "largest_cluster": result["largest_cluster"],
        "largest_true_cluster": result["largest_true_cluster"],
        "refused_merges": report.refused_merges,
    }


def main() -> None:
    document: dict[str, Any] = {"machine": machine()}
    for name, (files, cap) in TASKS.items():
        document[name] = task(files, cap)
    document["min_pairwise_f1"] = min(document[n]["pairwise"]["f1"] for n in TASKS)
    emit(document)


if __name__ == "__main__":
    main()
