"""KPI under-performance alerts and drill-down of a drop into dimension values.

Detection: retail KPIs have a strong day-of-week pattern and slow trend, and a promotion day
or an outage must not poison the baseline. For each day we look back ``weeks`` whole weeks,
take the level from the last week's mean, a weekday profile from medians of (value - week
mean), and a robust scale from the median absolute deviation of the residuals. A robust
z-score below -``threshold`` is an under-performance alert. Only past data is used, so the
alert of day t is the one that would have fired on day t.

Drill-down: for an additive KPI (revenue) the drop is split into each value's own delta vs
its own seasonal expectation; ``share`` = delta / total delta. For a ratio KPI (conversion =
orders / sessions) the change of the total rate R = sum_i s_i r_i is split exactly into
mix_i = (s1_i - s0_i)(r0_i - R0) (traffic moved between values) and
rate_i = s1_i (r1_i - r0_i) (the value itself converted worse).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from clientcore.experiments.errors import InvalidInputError
from clientcore.experiments.frequentist import clean

Direction = Literal["down", "up", "both"]
Model = Literal["multiplicative", "additive"]
MAD_TO_SD = 1.4826


@dataclass(frozen=True, slots=True)
class Baseline:
    expected: NDArray[np.float64]  # NaN where there is not enough history
    scale: NDArray[np.float64]
    score: NDArray[np.float64]


def seasonal_baseline(
    values: ArrayLike, *, period: int = 7, weeks: int = 6, model: Model = "multiplicative"
) -> Baseline:
    """Causal robust seasonal baseline; the first ``period * weeks`` days have no baseline.

    ``multiplicative`` (default, retail KPIs scale with traffic) works on ratios to the week
    mean and falls back to additive when the history has values <= 0.
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or period < 2 or weeks < 2:
        raise InvalidInputError("need a 1-D series, period >= 2 and weeks >= 2")
    span = period * weeks
    # residuals lose weeks + period - 1 degrees of freedom to the fitted means and profile, and
    # a forecast also carries the error of the level (1/period) and median profile (pi/2/weeks)
    df_fix = np.sqrt(span / (span - weeks - period + 1) * (1 + 1 / period + np.pi / 2 / weeks))
    expected, scale = np.full(v.size, np.nan), np.full(v.size, np.nan)
    for t in range(span, v.size):
        hist = v[t - span : t].reshape(weeks, period)  # rows = weeks, col 0 = day t's weekday
        week_mean = hist.mean(axis=1, keepdims=True)
        # last week's mean is centred 4 days back: carry it forward along the robust trend
        level = hist[-1].mean() + np.median(np.diff(week_mean[:, 0])) * (period + 1) / (2 * period)
        if model == "multiplicative" and np.all(hist > 0):
            ratio = hist / week_mean
            profile = np.median(ratio, axis=0)
            profile /= profile.mean()
            resid = ratio / profile - 1.0
            expected[t] = level * profile[0]
            unit = abs(expected[t])
        else:
            profile = np.median(hist - week_mean, axis=0)
            profile -= profile.mean()
            resid = hist - week_mean - profile
            expected[t] = level + profile[0]
            unit = 1.0
        mad = np.median(np.abs(resid - np.median(resid)))
        floor = 1e-3 * abs(level) + 1e-12  # a flat series still gets a finite score
        scale[t] = max(MAD_TO_SD * mad * df_fix * unit, floor)
    return Baseline(expected, scale, (v - expected) / scale)


@dataclass(frozen=True, slots=True)
class Alert:
    index: int
    label: str
    value: float
    expected: float
    score: float

    def to_dict(self) -> dict[str, Any]:
        return clean({k: getattr(self, k) for k in self.__slots__})


def detect_anomalies(
    values: ArrayLike,
    *,
    labels: Sequence[str] | None = None,
    period: int = 7,
    weeks: int = 6,
    threshold: float = 3.5,
    direction: Direction = "down",
) -> list[Alert]:
    """Days whose robust z-score crosses ``threshold`` (default: drops only)."""
    v = np.asarray(values, dtype=float)
    base = seasonal_baseline(v, period=period, weeks=weeks)
    s = base.score
    hit = {"down": s <= -threshold, "up": s >= threshold, "both": np.abs(s) >= threshold}[direction]
    names = list(labels) if labels is not None else [str(i) for i in range(v.size)]
    return [
        Alert(int(i), names[i], float(v[i]), float(base.expected[i]), float(s[i]))
        for i in np.flatnonzero(np.nan_to_num(hit, nan=False))
    ]


@dataclass(frozen=True, slots=True)
class Contribution:
    value: str
    baseline: float
    actual: float
    delta: float
    share: float  # delta / total delta: 0.8 = "explains 80 % of the drop"
    mix: float | None = None
    rate: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return clean({k: getattr(self, k) for k in self.__slots__})


def _rank(rows: list[Contribution], total_delta: float) -> list[Contribution]:
    sign = -1.0 if total_delta < 0 else 1.0  # biggest contributor to the move comes first
    return sorted(rows, key=lambda c: -sign * c.delta)


def drill_down(baseline: Mapping[str, float], actual: Mapping[str, float]) -> list[Contribution]:
    """Additive KPI: each value's delta and its share of the total delta."""
    keys = sorted(set(baseline) | set(actual))
    deltas = {k: actual.get(k, 0.0) - baseline.get(k, 0.0) for k in keys}
    total = sum(deltas.values())
    rows = [
        Contribution(
            k,
            baseline.get(k, 0.0),
            actual.get(k, 0.0),
            d,
            d / total if total else float("nan"),
        )
        for k, d in deltas.items()
    ]
    return _rank(rows, total)


def drill_down_ratio(
    baseline: Mapping[str, tuple[float, float]], actual: Mapping[str, tuple[float, float]]
) -> list[Contribution]:
    """Ratio KPI from (numerator, denominator) per value: exact mix + rate decomposition."""
    keys = sorted(set(baseline) | set(actual))
    n0 = np.array([baseline.get(k, (0.0, 0.0))[0] for k in keys])
    d0 = np.array([baseline.get(k, (0.0, 0.0))[1] for k in keys])
    n1 = np.array([actual.get(k, (0.0, 0.0))[0] for k in keys])
    d1 = np.array([actual.get(k, (0.0, 0.0))[1] for k in keys])
    if d0.sum() <= 0 or d1.sum() <= 0 or np.any(d0 < 0) or np.any(d1 < 0):
        raise InvalidInputError("denominators must be >= 0 with a positive total")
    r_total0 = n0.sum() / d0.sum()
    s0, s1 = d0 / d0.sum(), d1 / d1.sum()
    # a value absent in a period borrows the other period's rate (no rate effect for it)
    r0 = np.divide(n0, d0, out=np.divide(n1, d1, out=np.zeros_like(n1), where=d1 > 0), where=d0 > 0)
    r1 = np.divide(n1, d1, out=r0.copy(), where=d1 > 0)
    mix = (s1 - s0) * (r0 - r_total0)
    rate = s1 * (r1 - r0)
    delta = mix + rate
    total = float(n1.sum() / d1.sum() - r_total0)
    rows = [
        Contribution(
            k,
            float(r0[i]),
            float(r1[i]),
            float(delta[i]),
            float(delta[i] / total) if total else float("nan"),
            float(mix[i]),
            float(rate[i]),
        )
        for i, k in enumerate(keys)
    ]
    return _rank(rows, total)


@dataclass(frozen=True, slots=True)
class KpiAlert:
    alert: Alert
    drill: dict[str, list[Contribution]]  # dimension -> ranked values

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.alert.to_dict(),
            "drill_down": {d: [c.to_dict() for c in rows] for d, rows in self.drill.items()},
        }


def investigate(
    dimensions: Mapping[str, Mapping[str, ArrayLike]],
    *,
    labels: Sequence[str] | None = None,
    period: int = 7,
    weeks: int = 6,
    threshold: float = 3.5,
) -> list[KpiAlert]:
    """Alerts on the total of an additive KPI, each explained along every dimension.

    ``dimensions`` maps a dimension (channel, store, ...) to daily series per value; each
    dimension must partition the same total. The baseline of a value is its own seasonal
    expectation, so "store 12 was closed" shows up as store 12 explaining the drop.
    """
    if not dimensions:
        raise InvalidInputError("no dimensions given")
    totals = [
        np.sum([np.asarray(s, float) for s in d.values()], axis=0) for d in dimensions.values()
    ]
    total = totals[0]
    for name, other in zip(dimensions, totals, strict=True):
        if other.shape != total.shape or not np.allclose(other, total, rtol=1e-6, atol=1e-9):
            raise InvalidInputError(f"dimension {name!r} does not add up to the same total")
    alerts = detect_anomalies(
        total, labels=labels, period=period, weeks=weeks, threshold=threshold, direction="down"
    )
    expected = {
        dim: {
            k: seasonal_baseline(s, period=period, weeks=weeks).expected for k, s in values.items()
        }
        for dim, values in dimensions.items()
    }
    out = []
    for a in alerts:
        drill = {
            dim: drill_down(
                {k: float(e[a.index]) for k, e in expected[dim].items()},
                {k: float(np.asarray(s, float)[a.index]) for k, s in values.items()},
            )
            for dim, values in dimensions.items()
        }
        out.append(KpiAlert(a, drill))
    return out
