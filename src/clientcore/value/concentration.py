"""The whale curve: cumulative share of profit against customers ranked by profit.

Pure NumPy on the per-customer contribution column. The curve rises above 100% (the most
profitable customers earn more than the whole company does) and falls back to 100% because
the customers at the tail lose money — the shape Kaplan & Narayanan named after a whale.
Points between customers are linearly interpolated, so "the top 10%" is exact at any size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

SUMMARY_SHARES: tuple[float, ...] = (0.01, 0.05, 0.10, 0.20, 0.50)


@dataclass(frozen=True)
class WhaleCurve:
    """Curve points (customer share, profit share) from 0 to 1, plus the headline figures."""

    customers: int
    total: float  # company contribution of these customers
    x: np.ndarray  # share of customers, k / n for k = 0..n
    y: np.ndarray  # cumulative contribution of the top k / total (NaN when total <= 0)
    loss_making_share: float  # share of customers with negative contribution
    destroyed: float  # what they lose, in currency (positive)
    peak_x: float
    peak_y: float

    def share_of_top(self, fraction: float) -> float:
        """Share of total profit earned by the top `fraction` of customers."""
        if self.customers == 0 or self.total <= 0:
            return float("nan")
        return float(np.interp(fraction, self.x, self.y))

    @property
    def destroyed_share(self) -> float:
        """What the loss-making customers destroy, as a share of total profit."""
        return self.destroyed / self.total if self.total > 0 else float("nan")

    def headline(self, top: float = 0.10, currency: str = "USD") -> str:
        """The sentence a marketer remembers."""
        if self.customers == 0:
            return "No customers in this period."
        if self.total <= 0:
            return (
                f"Customers lose money overall ({self.total:,.0f} {currency}); "
                f"{self.loss_making_share:.0%} of them are loss-making."
            )
        text = f"The top {top:.0%} of customers give {self.share_of_top(top):.0%} of profit"
        if self.loss_making_share > 0:
            text += (
                f"; the bottom {self.loss_making_share:.0%} destroy "
                f"{self.destroyed_share:.0%} of it"
            )
        return text + "."

    def to_dict(self, points: int = 101) -> dict[str, Any]:
        grid = np.linspace(0.0, 1.0, points)
        valid = self.customers > 0 and self.total > 0
        return {
            "customers": self.customers,
            "total_contribution": round(self.total, 2),
            "headline": self.headline(),
            "top_shares": {f"{s:g}": _num(self.share_of_top(s)) for s in SUMMARY_SHARES},
            "loss_making_share": _num(self.loss_making_share),
            "destroyed": round(self.destroyed, 2),
            "destroyed_share": _num(self.destroyed_share),
            "peak": {"customer_share": _num(self.peak_x), "profit_share": _num(self.peak_y)},
            "curve": [[float(g), _num(float(np.interp(g, self.x, self.y)))] for g in grid]
            if valid
            else [],
        }


def _num(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 6)


def whale_curve(contribution: ArrayLike) -> WhaleCurve:
    """Rank customers by contribution (best first) and accumulate."""
    values = np.sort(np.asarray(contribution, dtype=np.float64))[::-1]
    n = int(values.size)
    total = float(values.sum()) if n else 0.0
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    x = np.arange(n + 1, dtype=np.float64) / max(n, 1)
    y = cumulative / total if total > 0 else np.full(n + 1, np.nan)
    negative = values[values < 0]
    peak = int(np.argmax(cumulative)) if n else 0
    return WhaleCurve(
        customers=n,
        total=total,
        x=x,
        y=y,
        loss_making_share=float(negative.size / n) if n else 0.0,
        destroyed=float(-negative.sum()),
        peak_x=float(x[peak]),
        peak_y=float(y[peak]) if total > 0 else float("nan"),
    )


@dataclass(frozen=True)
class GroupConcentration:
    """The whale curve's figures for one group of customers (a channel, a cohort)."""

    key: str
    customers: int
    contribution: float
    top10_share: float
    loss_making_share: float
    destroyed_share: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "customers": self.customers,
            "contribution": round(self.contribution, 2),
            "top10_share": _num(self.top10_share),
            "loss_making_share": _num(self.loss_making_share),
            "destroyed_share": _num(self.destroyed_share),
        }


def by_group(keys: Sequence[str], contribution: ArrayLike) -> list[GroupConcentration]:
    """One whale-curve summary per group, largest group first."""
    values = np.asarray(contribution, dtype=np.float64)
    labels = np.asarray(list(keys), dtype=object)
    out: list[GroupConcentration] = []
    for key in sorted(set(labels.tolist())):
        curve = whale_curve(values[labels == key])
        out.append(
            GroupConcentration(
                key=str(key),
                customers=curve.customers,
                contribution=curve.total,
                top10_share=curve.share_of_top(0.10),
                loss_making_share=curve.loss_making_share,
                destroyed_share=curve.destroyed_share,
            )
        )
    return sorted(out, key=lambda g: (-g.customers, g.key))
