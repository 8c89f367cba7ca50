"""The value report as ONE self-contained HTML file: inline CSS, inline SVG, no scripts.

Written for a marketer: the headline first, then what each chart means in one sentence,
then the tables. Every figure comes from `ValueReport.to_dict()`, so HTML, JSON and the
terminal never disagree.
"""

from __future__ import annotations

from html import escape
from typing import Any

from clientcore.value import charts
from clientcore.value.clv.chart import holdout_svg
from clientcore.value.report import ValueReport

_CSS = """
body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em;margin-bottom:.2em} h2{margin-top:2em;border-bottom:1px solid #ddd}
.headline{font-size:1.35em;background:#f4f7fb;border-left:5px solid #1f4e79;padding:.8em 1em}
.cards{display:flex;gap:1em;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;
padding:.6em 1em;min-width:150px}.card b{display:block;font-size:1.3em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
td,th{border-bottom:1px solid #eee;padding:.3em .7em;text-align:right}
td:first-child,th:first-child{text-align:left} .neg{color:#b3261e} .note{color:#555}
"""


def _money(value: Any, currency: str) -> str:
    amount = float(value)
    text = f"{abs(amount):,.2f} {currency}"
    return f'<span class="neg">−{text}</span>' if amount < 0 else text


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: ValueReport) -> str:
    doc = report.to_dict()
    cur = doc["currency"]
    company = doc["pnl"]["company"]["statement"]
    curve = doc["whale_curve"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Customer value report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Customer value report</h1>",
        f"<p class='note'>Period: {escape(str(doc['period']['start'] or 'the beginning'))} to "
        f"{escape(doc['as_of'])} · {doc['customers']:,} customers · amounts in {cur}</p>",
        f"<p class='headline'>{escape(doc['headline'])}</p>",
        "<div class='cards'>",
    ]
    for label, key in (
        ("Revenue", "revenue"),
        ("Contribution", "contribution"),
        ("Marketing cost", "marketing_cost"),
        ("Service cost", "service_cost"),
    ):
        parts.append(f"<div class='card'>{label}<b>{_money(company[key], cur)}</b></div>")
    parts.append("</div>")

    parts.append("<h2>Where the profit comes from</h2>")
    parts.append(
        "<p>Customers are ranked from the most to the least profitable. The curve shows how "
        "much of the company's profit the best customers have earned so far; it climbs above "
        "100% and falls back because the customers at the right-hand end lose money.</p>"
    )
    if curve["curve"]:
        xs = [p[0] for p in curve["curve"]]
        ys = [p[1] for p in curve["curve"]]
        parts.append(charts.whale_svg(xs, ys))
    parts.append(
        _table(
            ["top customers", "share of profit"],
            [[f"{float(k):.0%}", _pct(v)] for k, v in curve["top_shares"].items()],
        )
    )
    parts.append("<h3>By channel (where they order most)</h3>")
    parts.append(_groups(doc["by_channel"], cur))
    parts.append("<h3>By cohort (month of first order)</h3>")
    parts.append(_groups(doc["by_cohort"], cur))

    parts.append("<h2>Value tiers</h2>")
    tiers = doc["tiers"]
    parts.append(
        charts.bars_svg(
            [t["tier"] for t in tiers],
            [t["customers"] for t in tiers],
            "Customers per tier",
            [_plain_money(t["contribution"], cur) for t in tiers],
        )
    )
    parts.append(
        _table(
            ["tier", "what it means", "customers", "contribution", "per customer"],
            [
                [
                    escape(t["tier"]),
                    escape(t["description"]),
                    f"{t['customers']:,}",
                    _money(t["contribution"], cur),
                    _money(t["mean_contribution"], cur),
                ]
                for t in tiers
            ],
        )
    )
    mig = doc["migrations"]
    parts.append(
        f"<h3>How customers moved since {escape(str(mig['from']['end'])[:10])}</h3>"
        "<p class='note'>Rows: tier then; columns: tier now. (none) = not a customer then "
        "or no activity now.</p>"
    )
    parts.append(
        _table(
            ["then \\ now", *mig["tiers"]],
            [
                [escape(a), *[f"{c:,}" if c else "" for c in row]]
                for a, row in zip(mig["tiers"], mig["matrix"], strict=True)
            ],
        )
    )

    clv = doc["clv"]
    parts.append("<h2>Predicted value (next 12 months)</h2>")
    if clv["fitted"]:
        values = [v for v in report.predictions.clv.tolist()]
        parts.append(
            f"<p>BG/NBD + Gamma-Gamma on {clv['customers']:,} buyers; predicted contribution "
            f"over the next year: <b>{_money(clv['total_clv'], cur)}</b> (order margin "
            f"{clv['model']['margin']:.0%}, 10% yearly discount).</p>"
        )
        parts.append(charts.histogram_svg(values, "Predicted 12-month value per customer", cur))
        if report.predictions.holdout is not None:
            parts.append(
                "<p>Calibration: the model was refitted without the last 26 weeks and its "
                "forecast for them set beside what customers actually bought.</p>"
            )
            parts.append(holdout_svg(report.predictions.holdout))
    else:
        parts.append(f"<p class='note'>No CLV model: {escape(str(clv['error']))}</p>")

    parts.append("<h2>RFM segments</h2>")
    parts.append(
        _table(
            [
                "segment",
                "customers",
                "share",
                "days since order",
                "orders",
                "revenue",
                "what to do",
            ],
            [
                [
                    escape(s["segment"]),
                    f"{s['customers']:,}",
                    _pct(s["share"]),
                    f"{s['mean_recency_days']:.0f}",
                    f"{s['mean_frequency']:.1f}",
                    _money(s["mean_monetary"], cur),
                    escape(s["advice"]),
                ]
                for s in doc["rfm"]
            ],
        )
    )
    for title, rows in (("Best 5 customers", doc["best"]), ("Worst 5 customers", doc["worst"])):
        parts.append(f"<h2>{title}</h2>")
        parts.append(_people(rows, cur))
    parts.append("<h2>Profit and loss</h2>")
    parts.append(_statement(doc, cur))
    parts.append("</body></html>")
    return "\n".join(parts)


def _plain_money(value: float, currency: str) -> str:
    return f"{value:,.0f} {currency}"


def _groups(groups: list[dict[str, Any]], cur: str) -> str:
    return _table(
        ["group", "customers", "contribution", "top 10% give", "loss-making", "they destroy"],
        [
            [
                escape(g["key"]),
                f"{g['customers']:,}",
                _money(g["contribution"], cur),
                _pct(g["top10_share"]),
                _pct(g["loss_making_share"]),
                _pct(g["destroyed_share"]),
            ]
            for g in groups
        ],
    )


def _people(rows: list[dict[str, Any]], cur: str) -> str:
    return _table(
        ["customer", "contribution", "revenue", "orders", "tier", "segment", "p_alive", "CLV"],
        [
            [
                escape(r["identifier"]),
                _money(r["contribution"], cur),
                _money(r["revenue"], cur),
                str(r["orders"]),
                escape(r["tier"]),
                escape(r["segment"] or "–"),
                "–" if r["p_alive"] is None else f"{r['p_alive']:.2f}",
                "–" if r["clv"] is None else _money(r["clv"], cur),
            ]
            for r in rows
        ],
    )


def _statement(doc: dict[str, Any], cur: str) -> str:
    company = doc["pnl"]["company"]["statement"]
    customers = doc["pnl"]["customers"]
    unattributed = doc["pnl"]["unattributed"]
    reasons = sorted(unattributed)
    rows = []
    for line, value in company.items():
        row = [escape(line.replace("_", " ")), _money(value, cur), _money(customers[line], cur)]
        row += [_money(unattributed[r]["statement"][line], cur) for r in reasons]
        rows.append(row)
    diff = doc["pnl"]["reconciliation"]["max_abs_difference"]
    return _table(
        ["line (costs positive)", "company", "customers", *[f"unattributed: {r}" for r in reasons]],
        rows,
    ) + (
        f"<p class='note'>Company = customers + unattributed; largest difference {diff} {cur}.</p>"
    )
