"""Predicted value from the CLV package: BG/NBD + Gamma-Gamma fitted on customers' orders.

The engine computes each customer's (frequency, recency, T, spend) with the CLV package's
portable summary SQL over our attributed orders; the fit runs in NumPy/SciPy. A fit that
cannot be made (too few repeat buyers) is reported with its reason, never raised: the P&L
stands without it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from clientcore.store import Store
from clientcore.value import sql
from clientcore.value.clv import (
    ClvError,
    customer_lifetime_value,
    expected_purchases,
    fit,
    holdout_report,
    p_alive,
)
from clientcore.value.clv.diagnostics import HoldoutReport
from clientcore.value.clv.summary import summary_sql
from clientcore.value.costs import CostModel

UNIT = "week"
UNIT_DAYS = 7.0
HORIZON_WEEKS = 52.0
DISCOUNT_RATE = 0.10


@dataclass(frozen=True)
class Predictions:
    """Per-customer p_alive and 12-month CLV, or why there are none."""

    profile_id: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    p_alive: np.ndarray = field(default_factory=lambda: np.zeros(0))
    clv: np.ndarray = field(default_factory=lambda: np.zeros(0))
    expected_purchases: np.ndarray = field(default_factory=lambda: np.zeros(0))
    model: dict[str, Any] = field(default_factory=dict)
    holdout: HoldoutReport | None = None
    error: str | None = None

    @property
    def fitted(self) -> bool:
        return self.error is None and self.profile_id.size > 0

    def lookup(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(p_alive, clv) aligned with `ids`; NaN where a customer has no prediction."""
        where = {int(p): k for k, p in enumerate(self.profile_id.tolist())}
        idx = np.array([where.get(int(i), -1) for i in ids.tolist()], dtype=np.int64)
        ok = idx >= 0
        alive = np.full(ids.size, np.nan)
        value = np.full(ids.size, np.nan)
        alive[ok] = self.p_alive[idx[ok]]
        value[ok] = self.clv[idx[ok]]
        return alive, value

    def to_dict(self) -> dict[str, Any]:
        return {
            "fitted": self.fitted,
            "error": self.error,
            "model": self.model,
            "horizon_weeks": HORIZON_WEEKS,
            "annual_discount_rate": DISCOUNT_RATE,
            "customers": int(self.profile_id.size),
            "total_clv": round(float(np.nansum(self.clv)), 2) if self.fitted else None,
            "holdout": self.holdout.to_dict() if self.holdout is not None else None,
        }


def _summary(
    store: Store, costs: CostModel, until: dt.datetime, cal_end: dt.date, obs_end: dt.date | None
) -> dict[str, np.ndarray]:
    txn = sql.transactions(costs, until)
    query = summary_sql(f"({txn.sql()}) AS txn", cal_end, obs_end, UNIT)
    rows = store.query(query, txn.params)
    names = ("customer_id", "first_day", "frequency", "recency", "T", "monetary_value",
             "holdout_frequency", "holdout_value")  # fmt: skip
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return {
        name: np.asarray(col, dtype=np.int64 if k < 2 else np.float64)
        for k, (name, col) in enumerate(zip(names, cols, strict=True))
    }


def predict(
    store: Store,
    costs: CostModel,
    as_of: dt.datetime,
    margin: float,
    holdout_weeks: int = 26,
) -> Predictions:
    """Fit at `as_of` (orders strictly before it) and predict the next 52 weeks."""
    cal_end = (as_of - dt.timedelta(days=1)).date()
    try:
        s = _summary(store, costs, as_of, cal_end, None)
        if s["frequency"].size == 0:
            return Predictions(error="no customer has an order before the end of the period")
        x, t_x, big_t, m = s["frequency"], s["recency"], s["T"], s["monetary_value"]
        bgnbd = fit("bgnbd", x, t_x, big_t)
        gg = fit("gg", x, monetary_value=m)
        alive = p_alive(bgnbd, x, t_x, big_t)
        value = customer_lifetime_value(
            bgnbd, gg, x, t_x, big_t, m, HORIZON_WEEKS, max(margin, 0.0), DISCOUNT_RATE, UNIT_DAYS
        )
        purchases = expected_purchases(bgnbd, HORIZON_WEEKS, x, t_x, big_t)
    except ClvError as error:
        return Predictions(error=str(error))
    return Predictions(
        profile_id=s["customer_id"],
        p_alive=np.asarray(alive, dtype=np.float64),
        clv=np.asarray(value, dtype=np.float64),
        expected_purchases=np.asarray(purchases, dtype=np.float64),
        model={"transactions": bgnbd.to_dict(), "spend": gg.to_dict(), "margin": margin},
        holdout=_holdout(store, costs, as_of, holdout_weeks) if holdout_weeks > 0 else None,
    )


def _holdout(
    store: Store, costs: CostModel, as_of: dt.datetime, weeks: int
) -> HoldoutReport | None:
    """Calibration check: fit without the last `weeks`, compare with what happened."""
    obs_end = (as_of - dt.timedelta(days=1)).date()
    cal_end = obs_end - dt.timedelta(weeks=weeks)
    try:
        s = _summary(store, costs, as_of, cal_end, obs_end)
        if s["frequency"].size == 0:
            return None
        model = fit("bgnbd", s["frequency"], s["recency"], s["T"])
        return holdout_report(
            model, s["frequency"], s["recency"], s["T"], s["holdout_frequency"], float(weeks)
        )
    except ClvError:
        return None
