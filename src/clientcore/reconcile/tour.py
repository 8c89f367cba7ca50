"""The demo's chapter on the three CRM exports: import, reconcile, evaluate, one explanation."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.rule import Rule
from rich.table import Table

from clientcore.clisupport import with_progress
from clientcore.reconcile.evaluate import evaluate_store, read_labels
from clientcore.reconcile.linkage import run
from clientcore.reconcile.records import import_customers
from clientcore.store import Store

SOURCES = ("sales", "callcenter", "ecommerce")


def reconcile_chapter(store: Store, data_dir: Path, console: Console, chapter: int = 8) -> None:
    console.print(Rule(f"{chapter}. Three CRMs, one person each: probabilistic record linkage"))
    for source in SOURCES:
        report = import_customers(store, data_dir / "crm" / f"crm_{source}.csv", source)
        console.print(
            f"crm_{source}.csv: {report.rows:,} records ({report.inserted:,} new), "
            "names, addresses, dates, phones and e-mails standardized"
        )
    linked = with_progress("reconciling", False, lambda progress: run(store, progress=progress))
    console.print(
        f"model v{linked.model_version} (trained without labels): {linked.pairs_scored:,} pairs "
        f"scored → {linked.links:,} links, {linked.review:,} waiting for review, "
        f"{linked.conflicts:,} household conflicts kept apart; {linked.clusters:,} people "
        f"({linked.seconds:.1f}s)"
    )
    result = evaluate_store(store, read_labels(data_dir / "truth" / "crm_records.csv"))
    table = Table("vs the generator's truth", "precision", "recall", "F1", title_justify="left")
    for name in ("pairwise", "cluster"):
        s = result[name]
        table.add_row(name, f"{s['precision']:.4f}", f"{s['recall']:.4f}", f"{s['f1']:.4f}")
    console.print(table)
    console.print(
        f"largest person: {result['largest_cluster']} records (largest true: "
        f"{result['largest_true_cluster']}); see `clientcore reconcile review` and "
        "`clientcore reconcile explain SOURCE:ID SOURCE:ID`"
    )
