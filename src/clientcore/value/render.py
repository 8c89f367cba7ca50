"""Terminal rendering (Rich) of the value report and of one customer's P&L."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _money(value: Any) -> str:
    amount = float(value)
    return f"[red]{amount:,.2f}[/]" if amount < 0 else f"{amount:,.2f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def people_table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(
        "customer", "contribution", "revenue", "orders", "tier", "segment", "p_alive", "CLV",
        title=title, title_justify="left",
    )  # fmt: skip
    for r in rows:
        table.add_row(
            r["identifier"],
            _money(r["contribution"]),
            _money(r["revenue"]),
            str(r["orders"]),
            r["tier"],
            r["segment"] or "–",
            "–" if r["p_alive"] is None else f"{r['p_alive']:.2f}",
            "–" if r["clv"] is None else _money(r["clv"]),
        )
    return table


def render_report(console: Console, doc: dict[str, Any]) -> None:
    cur = doc["currency"]
    console.print(f"[bold]{doc['headline']}[/]")
    company = doc["pnl"]["company"]["statement"]
    pnl = Table("line (costs positive)", "company", "customers", *doc["pnl"]["unattributed"],
                title=f"Profit and loss ({cur})", title_justify="left")  # fmt: skip
    for line, value in company.items():
        pnl.add_row(
            line.replace("_", " "),
            _money(value),
            _money(doc["pnl"]["customers"][line]),
            *[_money(u["statement"][line]) for u in doc["pnl"]["unattributed"].values()],
        )
    console.print(pnl)
    console.print(
        "company = customers + unattributed; largest difference "
        f"{doc['pnl']['reconciliation']['max_abs_difference']} {cur}"
    )
    curve = doc["whale_curve"]
    whale = Table("top customers", "share of profit", title="Whale curve", title_justify="left")
    for share, value in curve["top_shares"].items():
        whale.add_row(f"{float(share):.0%}", _pct(value))
    whale.add_row("peak", f"{_pct(curve['peak']['profit_share'])} at "
                  f"{_pct(curve['peak']['customer_share'])} of customers")  # fmt: skip
    console.print(whale)
    for key, title in (
        ("by_channel", "By main order channel"),
        ("by_cohort", "By first-order month"),
    ):
        groups = Table("group", "customers", "contribution", "top 10% give", "loss-making",
                       "they destroy", title=title, title_justify="left")  # fmt: skip
        for g in doc[key]:
            groups.add_row(g["key"], f"{g['customers']:,}", _money(g["contribution"]),
                           _pct(g["top10_share"]), _pct(g["loss_making_share"]),
                           _pct(g["destroyed_share"]))  # fmt: skip
        console.print(groups)
    tiers = Table("tier", "customers", "share", "contribution", "per customer", "meaning",
                  title="Value tiers", title_justify="left")  # fmt: skip
    for t in doc["tiers"]:
        tiers.add_row(t["tier"], f"{t['customers']:,}", _pct(t["share"]),
                      _money(t["contribution"]), _money(t["mean_contribution"]),
                      t["description"])  # fmt: skip
    console.print(tiers)
    mig = doc["migrations"]
    moves = Table("then \\ now", *mig["tiers"], title="Tier migrations since "
                  f"{str(mig['from']['end'])[:10]}", title_justify="left")  # fmt: skip
    for name, row in zip(mig["tiers"], mig["matrix"], strict=True):
        moves.add_row(name, *[f"{c:,}" if c else "" for c in row])
    console.print(moves)
    clv = doc["clv"]
    if clv["fitted"]:
        console.print(
            f"CLV (BG/NBD + Gamma-Gamma, next 52 weeks): {clv['customers']:,} buyers, "
            f"{float(clv['total_clv']):,.0f} {cur} predicted contribution"
        )
    else:
        console.print(f"CLV not fitted: {clv['error']}")
    segments = Table("segment", "customers", "share", "days since order", "orders", "revenue",
                     "what to do", title="RFM segments", title_justify="left")  # fmt: skip
    for s in doc["rfm"]:
        segments.add_row(s["segment"], f"{s['customers']:,}", _pct(s["share"]),
                         f"{s['mean_recency_days']:.0f}", f"{s['mean_frequency']:.1f}",
                         _money(s["mean_monetary"]), s["advice"])  # fmt: skip
    console.print(segments)
    console.print(people_table("5 best customers", doc["best"]))
    console.print(people_table("5 worst customers", doc["worst"]))


def render_customer(console: Console, doc: dict[str, Any]) -> None:
    cur = doc["currency"]
    console.print(f"[bold]{doc['identifier']}[/] (profile {doc['profile_id']})")
    if doc.get("note"):
        console.print(doc["note"])
    lines = Table("section", "item", "events", f"amount ({cur})", title="P&L, line by line",
                  title_justify="left")  # fmt: skip
    for line in doc["lines"]:
        lines.add_row(line["section"], line["item"], f"{line['events']:,}", _money(line["amount"]))
    console.print(lines)
    statement = Table("line (costs positive)", cur, title="Statement", title_justify="left")
    for name, value in doc["statement"].items():
        statement.add_row(name.replace("_", " "), _money(value))
    console.print(statement)
    clv = doc.get("clv")
    if clv is None:
        return
    if not clv["fitted"]:
        console.print(f"CLV not fitted: {clv['error']}")
    elif clv["clv"] is None:
        console.print(f"CLV: {clv.get('note', 'no prediction')}")
    else:
        console.print(
            f"p_alive {clv['p_alive']:.2f} · expected orders next 52 weeks "
            f"{clv['expected_purchases']:.2f} · CLV {float(clv['clv']):,.2f} {cur}"
        )
