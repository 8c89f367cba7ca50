"""Inline SVG charts for the value report, drawn by hand (no plotting dependency).

Three shapes cover the report: a line chart with reference lines (the whale curve), horizontal
bars (tier sizes, segments) and a histogram (CLV). Text is escaped; sizes are fixed so the
HTML file reads the same everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

import numpy as np
from numpy.typing import ArrayLike

W, H = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 44, 52
INK, ACCENT, WARN, GRID = "#1f4e79", "#e07b24", "#b3261e", "#e3e3e3"


def _open(title: str, height: int = H) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" '
        f'viewBox="0 0 {W} {height}" font-family="sans-serif" font-size="12" role="img" '
        f'aria-label="{escape(title)}">',
        f'<rect width="{W}" height="{height}" fill="white"/>',
        f'<text x="{W / 2}" y="24" text-anchor="middle" font-size="15">{escape(title)}</text>',
    ]


def nice_step(span: float, ticks: int = 5) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) covering `span` in ~`ticks` steps."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 5.0, 10.0):
        if raw <= m * power:
            return m * power
    return 10.0 * power


def whale_svg(x: ArrayLike, y: ArrayLike, title: str = "Whale curve") -> str:
    """Cumulative % of profit (y) against % of customers ranked by profit (x)."""
    xs = np.asarray(x, dtype=np.float64) * 100
    ys = np.asarray(y, dtype=np.float64) * 100
    top = max(100.0, float(np.nanmax(ys)) if ys.size else 100.0)
    bottom = min(0.0, float(np.nanmin(ys)) if ys.size else 0.0)
    step = nice_step(top - bottom)
    y_hi, y_lo = math.ceil(top / step) * step, math.floor(bottom / step) * step
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def px(v: float) -> float:
        return LEFT + pw * v / 100

    def py(v: float) -> float:
        return TOP + ph * (y_hi - v) / (y_hi - y_lo)

    parts = _open(title)
    v = y_lo
    while v <= y_hi + 1e-9:
        parts.append(
            f'<line x1="{LEFT}" y1="{py(v):.1f}" x2="{W - RIGHT}" y2="{py(v):.1f}" '
            f'stroke="{GRID}"/><text x="{LEFT - 6}" y="{py(v) + 4:.1f}" '
            f'text-anchor="end">{v:.0f}%</text>'
        )
        v += step
    for tick in range(0, 101, 20):
        parts.append(
            f'<text x="{px(tick):.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">{tick}%</text>'
        )
    parts.append(
        f'<line x1="{LEFT}" y1="{py(100):.1f}" x2="{W - RIGHT}" y2="{py(100):.1f}" '
        f'stroke="{ACCENT}" stroke-dasharray="5 4"/>'
        f'<text x="{LEFT + 6}" y="{py(100) + 16:.1f}" fill="{ACCENT}">100% of profit</text>'
    )
    points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(xs, ys, strict=True))
    parts.append(f'<polyline points="{points}" fill="none" stroke="{INK}" stroke-width="2.5"/>')
    if ys.size:
        k = int(np.nanargmax(ys))
        right = xs[k] > 50
        parts.append(
            f'<circle cx="{px(xs[k]):.1f}" cy="{py(ys[k]):.1f}" r="4" fill="{WARN}"/>'
            f'<text x="{px(xs[k]) + (-8 if right else 8):.1f}" y="{py(ys[k]) - 10:.1f}" '
            f'text-anchor="{"end" if right else "start"}" fill="{WARN}">peak '
            f"{ys[k]:.0f}% of profit from {xs[k]:.0f}% of customers</text>"
        )
    parts.append(
        f'<text x="{W / 2}" y="{H - 14}" text-anchor="middle">customers ranked by profit, '
        "most profitable first</text>"
        f'<text x="16" y="{TOP + ph / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {TOP + ph / 2})">cumulative share of profit</text></svg>'
    )
    return "\n".join(parts)


def bars_svg(
    labels: Sequence[str], values: Sequence[float], title: str, notes: Sequence[str] = ()
) -> str:
    """Horizontal bars, one per label, with the value (and an optional note) at the end."""
    n = max(len(labels), 1)
    row = 28
    height = TOP + row * n + 20
    label_w = 150
    top = max((float(v) for v in values), default=1.0) or 1.0
    span = W - LEFT - RIGHT - label_w - 120
    parts = _open(title, height)
    for k, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = TOP + k * row
        w = max(span * float(value) / top, 0.0)
        note = f" · {notes[k]}" if k < len(notes) and notes[k] else ""
        parts.append(
            f'<text x="{LEFT + label_w - 8}" y="{y + 17}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{LEFT + label_w}" y="{y + 4}" width="{w:.1f}" height="{row - 10}" '
            f'fill="{INK}"/><text x="{LEFT + label_w + w + 6:.1f}" y="{y + 17}">'
            f"{float(value):,.0f}{escape(note)}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def histogram_svg(values: ArrayLike, title: str, x_label: str, bins: int = 20) -> str:
    """Counts of `values` in equal-width bins (the top 1% folded into the last bin)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    hi = float(np.quantile(v, 0.99)) if v.size else 1.0
    lo = min(0.0, float(v.min())) if v.size else 0.0
    hi = hi if hi > lo else lo + 1.0
    counts, edges = np.histogram(np.clip(v, lo, hi), bins=bins, range=(lo, hi))
    step = nice_step(max(int(counts.max()) if counts.size else 1, 1))
    top = math.ceil(max(int(counts.max()) if counts.size else 1, 1) / step) * step
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    parts = _open(title)
    tick = 0.0
    while tick <= top + 1e-9:
        y = TOP + ph * (1 - tick / top)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:.0f}</text>'
        )
        tick += step
    width = pw / bins
    for k, count in enumerate(counts.tolist()):
        h = ph * count / top
        parts.append(
            f'<rect x="{LEFT + k * width + 1:.1f}" y="{TOP + ph - h:.1f}" '
            f'width="{width - 2:.1f}" height="{h:.1f}" fill="{INK}">'
            f"<title>{edges[k]:,.0f}–{edges[k + 1]:,.0f}: {count}</title></rect>"
        )
    for k in range(0, bins + 1, max(bins // 5, 1)):
        parts.append(
            f'<text x="{LEFT + k * width:.1f}" y="{H - BOTTOM + 16}" '
            f'text-anchor="middle">{edges[k]:,.0f}</text>'
        )
    parts.append(
        f'<text x="{W / 2}" y="{H - 14}" text-anchor="middle">{escape(x_label)} (the last bar '
        "holds the top 1%)</text>"
        f'<text x="16" y="{TOP + ph / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {TOP + ph / 2})">customers</text></svg>'
    )
    return "\n".join(parts)
