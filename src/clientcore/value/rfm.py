"""RFM: recency, frequency and monetary quintile scores, and the usual named segments.

Scores are 1–5 from the share of customers strictly worse: score = 1 + floor(5 * worse / n).
Equal values always get equal scores (with many one-order customers, plain quintile cuts
would split identical people across scores at random), so a score can be skipped.

Segments come from the (R, F) grid used by most RFM tools, with Lost carved out of
Hibernating and Potential Loyalists folded into Promising:

    R\\F  1               2               3               4               5
    5    New             Promising       Promising       Champions       Champions
    4    Promising       Promising       Promising       Loyal           Loyal
    3    About to Sleep  About to Sleep  Need Attention  Loyal           Loyal
    2    Hibernating     Hibernating     At Risk         At Risk         Can't Lose Them
    1    Lost            Hibernating     At Risk         At Risk         Can't Lose Them
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

SEGMENTS: tuple[str, ...] = (
    "Champions",
    "Loyal",
    "Promising",
    "New",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Can't Lose Them",
    "Hibernating",
    "Lost",
)

# GRID[r - 1][f - 1]
GRID: tuple[tuple[str, ...], ...] = (
    ("Lost", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"),
    ("Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"),
    ("About to Sleep", "About to Sleep", "Need Attention", "Loyal", "Loyal"),
    ("Promising", "Promising", "Promising", "Loyal", "Loyal"),
    ("New", "Promising", "Promising", "Champions", "Champions"),
)

ADVICE: dict[str, str] = {
    "Champions": "reward them; early access, no discounts needed",
    "Loyal": "upsell and ask for reviews",
    "Promising": "build the habit with a second-purchase offer",
    "New": "onboard well; the second order matters most",
    "Need Attention": "a limited-time, personal offer",
    "About to Sleep": "reactivate with something relevant, cheaply",
    "At Risk": "win back personally before they lapse",
    "Can't Lose Them": "call them; find out what went wrong",
    "Hibernating": "low-cost reactivation only",
    "Lost": "stop spending on them",
}


def quintile_scores(values: ArrayLike, higher_is_better: bool = True) -> np.ndarray:
    """1–5 per value: 1 + floor(5 * (customers strictly worse) / n); ties share a score."""
    v = np.asarray(values, dtype=np.float64)
    n = v.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    ordered = np.sort(v)
    if higher_is_better:
        worse = np.searchsorted(ordered, v, side="left")
    else:
        worse = n - np.searchsorted(ordered, v, side="right")
    return np.minimum(1 + (5 * worse) // n, 5).astype(np.int64)


def segment(r: int, f: int) -> str:
    return GRID[r - 1][f - 1]


@dataclass(frozen=True)
class Rfm:
    """Scores and segment per customer, in the order given."""

    profile_id: np.ndarray
    recency_days: np.ndarray
    frequency: np.ndarray
    monetary: np.ndarray
    r: np.ndarray
    f: np.ndarray
    m: np.ndarray
    segments: list[str]

    def summary(self) -> list[dict[str, Any]]:
        """Per segment: customers, share, mean recency/frequency/monetary, advice."""
        n = len(self.segments)
        labels = np.asarray(self.segments, dtype=object)
        rows = []
        for name in SEGMENTS:
            mask = labels == name
            count = int(mask.sum())
            if not count:
                continue
            rows.append(
                {
                    "segment": name,
                    "customers": count,
                    "share": round(count / n, 6),
                    "mean_recency_days": round(float(self.recency_days[mask].mean()), 1),
                    "mean_frequency": round(float(self.frequency[mask].mean()), 2),
                    "mean_monetary": round(float(self.monetary[mask].mean()), 2),
                    "advice": ADVICE[name],
                }
            )
        return rows


def rfm(
    profile_id: ArrayLike, recency_days: ArrayLike, frequency: ArrayLike, monetary: ArrayLike
) -> Rfm:
    """Score buyers (recency: days since last order; fewer is better) and name segments."""
    rec = np.asarray(recency_days, dtype=np.float64)
    freq = np.asarray(frequency, dtype=np.float64)
    mon = np.asarray(monetary, dtype=np.float64)
    r = quintile_scores(rec, higher_is_better=False)
    f = quintile_scores(freq)
    m = quintile_scores(mon)
    names = [segment(int(a), int(b)) for a, b in zip(r.tolist(), f.tolist(), strict=True)]
    return Rfm(np.asarray(profile_id), rec, freq, mon, r, f, m, names)
