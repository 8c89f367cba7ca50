"""One self-contained HTML readout per experiment: verdict, charts, tables.

Charts are inline SVG drawn here (the same hand-drawn style as the value report): a forest
plot of every relative effect with its interval (the one picture that answers "did it work,
and how sure are we"), cumulative units per variant (traffic and SRM at a glance), and for
bandits the share of decisions and the probability of being best per arm.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

from clientcore.value.charts import ACCENT, GRID, INK, LEFT, RIGHT, TOP, WARN, W, _open, bars_svg

_CSS = (
    "body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{padding:4px 10px;border-bottom:1px solid "
    "#ddd;text-align:right}th:first-child,td:first-child{text-align:left}"
    ".verdict{font-size:1.2em;padding:.6em 1em;background:#eef4fa;border-left:4px solid #1f4e79}"
    ".blocked{background:#fbeaea;border-left-color:#b3261e}.note{color:#666}"
)


def forest_svg(rows: Sequence[tuple[str, float, float, float, bool]], title: str) -> str:
    """(label, estimate, low, high, significant) as points with horizontal intervals."""
    row = 26
    height = TOP + row * max(len(rows), 1) + 40
    label_w = 220
    finite = [v for r in rows for v in r[1:4] if math.isfinite(v)]
    lo, hi = min([0.0, *finite]), max([0.0, *finite])
    pad = (hi - lo) * 0.08 or 0.05
    lo, hi = lo - pad, hi + pad
    x0, x1 = LEFT + label_w, W - RIGHT

    def x(v: float) -> float:
        return x0 + (v - lo) / (hi - lo) * (x1 - x0)

    parts = _open(title, height)
    parts.append(
        f'<line x1="{x(0):.1f}" y1="{TOP - 6}" x2="{x(0):.1f}" y2="{height - 34}" '
        f'stroke="#888" stroke-dasharray="4 3"/>'
    )
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        parts.append(
            f'<text x="{x(v):.1f}" y="{height - 16}" text-anchor="middle">{v:+.0%}</text>'
            f'<line x1="{x(v):.1f}" y1="{TOP - 6}" x2="{x(v):.1f}" y2="{height - 34}" '
            f'stroke="{GRID}"/>'
        )
    for k, (label, est, low, high, significant) in enumerate(rows):
        y = TOP + k * row + row / 2
        colour = (ACCENT if est > 0 else WARN) if significant else INK
        parts.append(f'<text x="{x0 - 8}" y="{y + 4:.1f}" text-anchor="end">{escape(label)}</text>')
        if math.isfinite(low) and math.isfinite(high):
            parts.append(
                f'<line x1="{x(low):.1f}" y1="{y:.1f}" x2="{x(high):.1f}" y2="{y:.1f}" '
                f'stroke="{colour}" stroke-width="2"/>'
            )
        if math.isfinite(est):
            parts.append(f'<circle cx="{x(est):.1f}" cy="{y:.1f}" r="5" fill="{colour}"/>')
    parts.append("</svg>")
    return "\n".join(parts)


def lines_svg(days: Sequence[str], series: dict[str, Sequence[int]], title: str) -> str:
    """Cumulative counts per series against days."""
    height = 320
    x0, x1, y0, y1 = LEFT, W - RIGHT - 90, height - 44, TOP
    top = max((max(v) for v in series.values() if len(v)), default=1) or 1
    n = max(len(days) - 1, 1)
    palette = [INK, ACCENT, "#2e7d32", "#6a1b9a", WARN, "#00838f"]
    parts = _open(title, height)
    parts.append(f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#888"/>')
    for k, (name, values) in enumerate(series.items()):
        colour = palette[k % len(palette)]
        points = " ".join(
            f"{x0 + (x1 - x0) * i / n:.1f},{y0 - (y0 - y1) * v / top:.1f}"
            for i, v in enumerate(values)
        )
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        if len(values):
            parts.append(
                f'<text x="{x1 + 6}" y="{y0 - (y0 - y1) * values[-1] / top + 4:.1f}" '
                f'fill="{colour}">{escape(name)} {values[-1]:,}</text>'
            )
    if days:
        parts.append(f'<text x="{x0}" y="{height - 20}">{escape(days[0])}</text>')
        parts.append(
            f'<text x="{x1}" y="{height - 20}" text-anchor="end">{escape(days[-1])}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _page(title: str, body: list[str]) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>"
    )


def _fmt(value: Any, pct: bool = False) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:+.2%}" if pct else f"{value:,.4g}"


def render_ab(doc: dict[str, Any]) -> str:
    exp = doc["experiment"]
    body = [
        f"<h1>{escape(exp['name'])}</h1>",
        f"<p class='note'>{escape(exp['id'])} · {exp['status']} · layer {escape(exp['layer'])}"
        f" · {exp['traffic']:.0%} of traffic · window {exp['window_days']} days · units "
        + ", ".join(f"{escape(k)} {v:,}" for k, v in doc["units"].items())
        + f" · crossed over {doc['crossed_over']}</p>",
    ]
    status = doc.get("status")
    if status != "ok":
        body.append(f"<p class='verdict blocked'>{escape(str(doc.get('message', status)))}</p>")
    else:
        body.append(f"<p class='verdict'>{escape(doc['verdict'])}</p>")
        rows = [
            (
                f"{c['metric']} · {c['variant']}",
                c["relative"]["value"],
                c["relative"]["ci_low"],
                c["relative"]["ci_high"],
                bool(c.get("significant")),
            )
            for c in doc["readout"]["comparisons"]
        ]
        method = doc["readout"]["method"]
        body.append(forest_svg(rows, f"Relative effect vs control ({method}, Holm-adjusted)"))
        body.append(_comparison_table(doc["readout"]["comparisons"]))
        if doc.get("guardrails"):
            body.append("<h2>Guardrails</h2>")
            body.append(_comparison_table(doc["guardrails"]["comparisons"]))
        if doc.get("bayesian"):
            body.append(f"<h2>Bayesian view of {escape(doc['primary_metric'])}</h2><table>")
            body.append("<tr><th>variant</th><th>chance to beat control</th><th>risk</th></tr>")
            for c in doc["bayesian"]:
                body.append(
                    f"<tr><td>{escape(c['variant'])}</td><td>{c['chance_to_beat_control']:.1%}"
                    f"</td><td>{_fmt(c['risk_treatment'])}</td></tr>"
                )
            body.append("</table>")
    daily = doc.get("exposures_by_day", {})
    if daily.get("days"):
        body.append(lines_svg(daily["days"], daily["series"], "Units entering, cumulative"))
    return _page(exp["name"], body)


def _comparison_table(comparisons: list[dict[str, Any]]) -> str:
    out = [
        "<table><tr><th>metric</th><th>variant</th><th>control</th><th>variant mean</th>"
        "<th>relative</th><th>interval</th><th>adjusted p</th></tr>"
    ]
    for c in comparisons:
        rel = c["relative"]
        out.append(
            f"<tr><td>{escape(c['metric'])}</td><td>{escape(c['variant'])}</td>"
            f"<td>{_fmt(c['control_mean'])}</td><td>{_fmt(c['treatment_mean'])}</td>"
            f"<td>{_fmt(rel['value'], True)}</td><td>[{_fmt(rel['ci_low'], True)}, "
            f"{_fmt(rel['ci_high'], True)}]</td><td>{_fmt(c.get('adjusted_p_value'))}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def render_bandit(doc: dict[str, Any]) -> str:
    exp = doc["experiment"]
    arms = doc["arms"]
    names = list(arms)
    body = [
        f"<h1>{escape(exp['name'])}</h1>",
        f"<p class='note'>{escape(exp['id'])} · {exp['policy']} bandit · {doc['decisions']:,} "
        "decisions</p>",
    ]
    leader = doc["posterior"].get("leader")
    if leader:
        share = doc.get("leader_share_of_decisions") or 0.0
        body.append(
            f"<p class='verdict'>Leader: {escape(leader)} ({share:.0%} of decisions so far)</p>"
        )
    body.append(
        bars_svg(
            names,
            [arms[n]["decisions"] for n in names],
            "Decisions per arm",
            [
                f"mean reward {arms[n]['mean_reward']:.3g}" if arms[n]["mean_reward"] else ""
                for n in names
            ],
        )
    )
    post = {a["arm"]: a for a in doc["posterior"].get("arms", []) if "prob_best" in a}
    if post:
        body.append(bars_svg(names, [100 * post[n]["prob_best"] for n in names], "P(best arm), %"))
    ope = doc.get("ope_always_leader")
    if ope:
        body.append("<h2>Off-policy estimate of always playing the leader</h2><table>")
        body.append("<tr><th>estimator</th><th>value</th><th>interval</th></tr>")
        for name, est in ope["estimators"].items():
            body.append(
                f"<tr><td>{escape(name)}</td><td>{_fmt(est['value'])}</td>"
                f"<td>[{_fmt(est['ci_low'])}, {_fmt(est['ci_high'])}]</td></tr>"
            )
        body.append("</table>")
    return _page(exp["name"], body)
