"""Hand-written SVG charts for the holdout report and the tracking curve (no plotting deps).

SVG is text, diffable and renders in every browser; the two charts the papers use (bars by
calibration frequency, cumulative purchases over time) need nothing more than rects and
polylines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from clientcore.value.clv.diagnostics import HoldoutReport
from clientcore.value.clv.models import TITLES

_W, _H = 640, 400
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 20, 40, 56
_ACTUAL, _PREDICTED = "#1f4e79", "#e07b24"


def _nice_max(value: float) -> float:
    """Round the axis maximum up to 1, 2 or 5 times a power of ten."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    exp = 10.0 ** math.floor(math.log10(value))
    for m in (1.0, 2.0, 5.0, 10.0):
        if value <= m * exp:
            return m * exp
    return 10.0 * exp


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 10 or v == int(v) else f"{v:.2g}"


def _frame(title: str, x_label: str, y_label: str, y_max: float) -> list[str]:
    plot_h = _H - _TOP - _BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" font-family="sans-serif" font-size="12">',
        f'<rect width="{_W}" height="{_H}" fill="white"/>',
        f'<text x="{_W / 2}" y="22" text-anchor="middle" font-size="15">{escape(title)}</text>',
        f'<text x="{_W / 2}" y="{_H - 12}" text-anchor="middle">{escape(x_label)}</text>',
        f'<text x="16" y="{_TOP + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {_TOP + plot_h / 2})">{escape(y_label)}</text>',
    ]
    for i in range(6):
        v = y_max * i / 5
        y = _TOP + plot_h * (1 - i / 5)
        parts.append(
            f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_W - _RIGHT}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(v)}</text>'
        )
    parts.append(
        f'<line x1="{_LEFT}" y1="{_H - _BOTTOM}" x2="{_W - _RIGHT}" y2="{_H - _BOTTOM}" '
        'stroke="black"/>'
    )
    return parts


def _legend(labels: Sequence[tuple[str, str]]) -> str:
    items = []
    for i, (label, colour) in enumerate(labels):
        x = _LEFT + 10 + i * 130
        items.append(
            f'<rect x="{x}" y="{_TOP + 4}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 18}" y="{_TOP + 14}">{escape(label)}</text>'
        )
    return "".join(items)


def holdout_svg(report: HoldoutReport) -> str:
    """Grouped bars: mean actual vs predicted holdout purchases per calibration frequency."""
    n = len(report.buckets)
    y_max = _nice_max(
        max(max(b.actual_mean, b.predicted_mean) for b in report.buckets) if n else 1.0
    )
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    title = f"{TITLES.get(report.model, report.model)}: holdout purchases by calibration frequency"
    parts = _frame(title, "repeat purchases in calibration", "mean purchases in holdout", y_max)
    slot = plot_w / max(n, 1)
    bar = slot * 0.35
    for i, b in enumerate(report.buckets):
        x0 = _LEFT + i * slot + slot * 0.15
        for j, (value, colour) in enumerate(
            ((b.actual_mean, _ACTUAL), (b.predicted_mean, _PREDICTED))
        ):
            h = plot_h * value / y_max
            parts.append(
                f'<rect x="{x0 + j * bar:.1f}" y="{_H - _BOTTOM - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{value:.3f}</title></rect>'
            )
        parts.append(
            f'<text x="{x0 + bar:.1f}" y="{_H - _BOTTOM + 16}" text-anchor="middle">'
            f"{escape(b.label)}</text>"
        )
    parts.append(_legend((("actual", _ACTUAL), ("predicted", _PREDICTED))))
    parts.append("</svg>")
    return "\n".join(parts)


def tracking_svg(
    grid: ArrayLike, actual: ArrayLike, predicted: ArrayLike, title: str, x_label: str
) -> str:
    """Two polylines: cumulative actual vs expected repeat purchases over time."""
    xs: list[float] = np.asarray(grid, dtype=np.float64).tolist()
    series: list[list[float]] = [
        np.asarray(s, dtype=np.float64).tolist() for s in (actual, predicted)
    ]
    y_max = _nice_max(max((max(s) for s in series if s), default=1.0))
    x_lo, x_hi = (xs[0], xs[-1]) if xs else (0.0, 1.0)
    span = (x_hi - x_lo) or 1.0
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    parts = _frame(title, x_label, "cumulative repeat purchases", y_max)
    for i in range(6):
        v = x_lo + span * i / 5
        x = _LEFT + plot_w * i / 5
        parts.append(
            f'<text x="{x:.1f}" y="{_H - _BOTTOM + 16}" text-anchor="middle">{_fmt(v)}</text>'
        )
    for values, colour in zip(series, (_ACTUAL, _PREDICTED), strict=True):
        points = " ".join(
            f"{_LEFT + plot_w * (x - x_lo) / span:.1f},{_H - _BOTTOM - plot_h * y / y_max:.1f}"
            for x, y in zip(xs, values, strict=True)
        )
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
    parts.append(_legend((("actual", _ACTUAL), ("expected", _PREDICTED))))
    parts.append("</svg>")
    return "\n".join(parts)


def write_svg(svg: str, path: str | Path) -> Path:
    """Write an SVG document and return its path."""
    out = Path(path)
    out.write_text(svg, encoding="utf-8")
    return out
