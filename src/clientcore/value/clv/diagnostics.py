"""Model comparison and calibration/holdout checks, the way the papers validate their models.

The holdout report groups customers by calibration frequency (0, 1, ..., 7+) and sets the
mean purchases each group actually made in the holdout beside the model's conditional
expectation (Fader, Hardie & Lee 2005, figure 4). The tracking curve sums the unconditional
expectation over the cohort's first-purchase dates (their figure 3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from clientcore.value.clv.data import FloatArray
from clientcore.value.clv.errors import ClvError
from clientcore.value.clv.fitting import FittedModel
from clientcore.value.clv.models import TITLES, expected_purchases


def compare_models(fits: Sequence[FittedModel]) -> list[dict[str, Any]]:
    """Rank fits of the same customers by AIC: log-likelihood, AIC, BIC and their deltas."""
    if not fits:
        return []
    sizes = {f.n for f in fits}
    if len(sizes) > 1:
        raise ClvError(f"fits cover different numbers of customers {sorted(sizes)}; not comparable")
    best_aic = min(f.aic for f in fits)
    best_bic = min(f.bic for f in fits)
    rows = [
        {
            "model": f.model,
            "title": TITLES.get(f.model, f.model),
            "k": f.k,
            "n": f.n,
            "log_likelihood": f.log_likelihood,
            "aic": f.aic,
            "bic": f.bic,
            "delta_aic": f.aic - best_aic,
            "delta_bic": f.bic - best_bic,
        }
        for f in fits
    ]
    return sorted(rows, key=lambda row: float(row["aic"]))


@dataclass(frozen=True, slots=True)
class FrequencyBucket:
    """Customers with one calibration frequency (or more, for the last bucket)."""

    label: str
    customers: int
    actual_mean: float
    predicted_mean: float

    @property
    def actual_total(self) -> float:
        """Purchases the bucket made in the holdout."""
        return self.actual_mean * self.customers

    @property
    def predicted_total(self) -> float:
        """Purchases the model expected from the bucket."""
        return self.predicted_mean * self.customers


@dataclass(frozen=True, slots=True)
class HoldoutReport:
    """Predicted vs actual holdout purchases by calibration frequency."""

    model: str
    horizon: float
    buckets: tuple[FrequencyBucket, ...]
    actual_total: float
    predicted_total: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "model": self.model,
            "horizon": self.horizon,
            "actual_total": self.actual_total,
            "predicted_total": self.predicted_total,
            "buckets": [
                {
                    "frequency": b.label,
                    "customers": b.customers,
                    "actual_mean": b.actual_mean,
                    "predicted_mean": b.predicted_mean,
                }
                for b in self.buckets
            ],
        }


def holdout_report(
    fit: FittedModel,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    holdout_frequency: ArrayLike,
    horizon: float,
    max_bucket: int = 7,
) -> HoldoutReport:
    """Compare conditional expectations over `horizon` with actual holdout purchases."""
    xa = np.asarray(x, dtype=np.float64)
    actual = np.asarray(holdout_frequency, dtype=np.float64)
    predicted = expected_purchases(fit, horizon, xa, t_x, T)
    bucket = np.minimum(xa, max_bucket).astype(np.int64)
    counts = np.bincount(bucket, minlength=max_bucket + 1)
    act = np.bincount(bucket, weights=actual, minlength=max_bucket + 1)
    pred = np.bincount(bucket, weights=predicted, minlength=max_bucket + 1)
    buckets = tuple(
        FrequencyBucket(
            label=f"{k}+" if k == max_bucket else str(k),
            customers=int(counts[k]),
            actual_mean=float(act[k] / counts[k]) if counts[k] else 0.0,
            predicted_mean=float(pred[k] / counts[k]) if counts[k] else 0.0,
        )
        for k in range(max_bucket + 1)
    )
    return HoldoutReport(
        model=fit.model,
        horizon=float(horizon),
        buckets=buckets,
        actual_total=float(actual.sum()),
        predicted_total=float(predicted.sum()),
    )


def expected_cumulative_repeats(fit: FittedModel, birth: ArrayLike, grid: ArrayLike) -> FloatArray:
    """Expected cumulative repeat purchases of a cohort at each grid time.

    `birth` holds each customer's first-purchase time and `grid` the evaluation times, both
    in model time units from the same origin.
    """
    births, counts = np.unique(np.asarray(birth, dtype=np.float64), return_counts=True)
    times = np.asarray(grid, dtype=np.float64)
    age = np.maximum(times[:, None] - births[None, :], 0.0)
    per = expected_purchases(fit, age.ravel()).reshape(age.shape)
    return np.asarray((per * counts.astype(np.float64)).sum(axis=1), dtype=np.float64)


def actual_cumulative_repeats(
    day: ArrayLike, count: ArrayLike, origin_day: int, unit_days: float, grid: ArrayLike
) -> FloatArray:
    """Observed cumulative repeat purchases before each grid time (from `repeats_by_day`).

    A purchase on day d happens at time (d - origin_day) / unit_days, the clock T uses.
    """
    t = (np.asarray(day, dtype=np.float64) - origin_day) / unit_days
    c = np.cumsum(np.asarray(count, dtype=np.float64))
    idx = np.searchsorted(t, np.asarray(grid, dtype=np.float64), side="left")
    return np.asarray(np.where(idx > 0, c[np.maximum(idx - 1, 0)], 0.0), dtype=np.float64)
