"""The value chapter of `clientcore demo`: where the profit comes from, who makes and loses it.

Uses the shipped cost model with the demo's own catalog, so every figure matches the
generator's assumptions; it also says how the P&L compares with the generator's truth.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from clientcore.store import Store
from clientcore.value.costs import load_costs
from clientcore.value.render import people_table
from clientcore.value.report import build_report


def value_chapter(store: Store, data_dir: Path, console: Console) -> None:
    """Print the profit-concentration headline and the best and worst customers."""
    costs = load_costs().with_catalog(data_dir / "catalog.csv")
    report = build_report(store, costs)
    doc = report.to_dict()
    cur = doc["currency"]
    console.print(Rule("5. Customer value: who makes the profit, who destroys it"))
    console.print(f"[bold]{doc['headline']}[/]")
    company = doc["pnl"]["company"]["statement"]
    customers = doc["pnl"]["customers"]
    recon = doc["pnl"]["reconciliation"]["max_abs_difference"]
    console.print(
        f"contribution {float(company['contribution']):,.2f} {cur} on revenue "
        f"{float(company['revenue']):,.2f}; {float(customers['contribution']):,.2f} of it "
        f"attributed to {doc['customers']:,} known customers, the rest to anonymous visitors "
        f"(company = customers + unattributed, difference {recon})"
    )
    truth = data_dir / "truth" / "customers.csv"
    if truth.exists():
        with truth.open(newline="", encoding="utf-8") as handle:
            profit = sum((Decimal(row["profit"]) for row in csv.DictReader(handle)), Decimal(0))
        console.print(
            f"the generator's true total profit: {profit:,.2f} {cur} "
            f"(P&L found {float(company['contribution']):,.2f})"
        )
    console.print(people_table("The 5 most profitable customers", doc["best"]))
    console.print(people_table("The 5 least profitable customers", doc["worst"]))
    catalog = data_dir / "catalog.csv"
    console.print(
        f"More: clientcore value report --catalog {catalog} --html value.html · "
        f"clientcore value customer ID --catalog {catalog}"
    )
