"""The value report: P&L, whale curve, tiers and their migrations, RFM, best and worst.

`build_report` runs the engine work (two ledgers: this period and the one before, for the
tier migrations; two CLV fits) and hands the pure modules their columns. `ValueReport.to_dict`
is the one JSON document the CLI prints and the HTML report is drawn from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from clientcore.store import Store
from clientcore.value import concentration, rfm, tiers
from clientcore.value.costs import CostModel
from clientcore.value.pnl import ZERO, ValueLedger, cents, compute
from clientcore.value.predict import Predictions, predict
from clientcore.value.sql import Period

DISPLAY_TYPES = ("email", "phone", "loyalty_card", "user_id", "pos_customer_id")
NO_ORDER = "no order"


def as_of_date(store: Store, period: Period) -> dt.datetime:
    """The period's end, else midnight (UTC) after the last event."""
    if period.end is not None:
        return period.end
    rows = store.query("SELECT MAX(timestamp) FROM events")
    last = rows[0][0] if rows and rows[0][0] is not None else dt.datetime.now(dt.UTC)
    day = last.astimezone(dt.UTC).date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def previous_period(period: Period, as_of: dt.datetime) -> Period:
    """The period before: the same length just before, or (all time) as of a year earlier."""
    if period.start is None:
        return Period(None, as_of - dt.timedelta(days=365))
    return Period(period.start - (as_of - period.start), period.start)


def order_margin(ledger: ValueLedger) -> float:
    """Share of revenue left after refunds, goods, fulfilment and returns: the margin CLV
    applies to predicted spend (future marketing and service are not predicted)."""
    s = ledger.company.statement()
    revenue = s["revenue"]
    if revenue <= 0:
        return 0.0
    kept = (
        revenue
        - s["refunds"]
        + s["shipping_charged"]
        - s["cogs"]
        - s["fulfilment_cost"]
        - s["returns_cost"]
    )
    return float(kept / revenue)


@dataclass(frozen=True)
class TierView:
    """Tiers of one period's customers, aligned with its ledger rows."""

    ids: np.ndarray
    names: list[str]
    p_alive: np.ndarray
    clv: np.ndarray


def _tiers(ledger: ValueLedger, prediction: Predictions, spec: tiers.TierSpec) -> TierView:
    ids = np.asarray(ledger.customers["profile_id"].to_pylist(), dtype=np.int64)
    alive, value = prediction.lookup(ids)
    names = tiers.assign(spec, ids, ledger.floats("contribution"), alive, value)
    return TierView(ids, names, alive, value)


@dataclass(frozen=True)
class ValueReport:
    period: Period
    as_of: dt.datetime
    ledger: ValueLedger
    predictions: Predictions
    curve: concentration.WhaleCurve
    by_channel: list[concentration.GroupConcentration]
    by_cohort: list[concentration.GroupConcentration]
    tier_spec: tiers.TierSpec
    tier_view: TierView
    migration: tiers.Migration
    previous: Period
    segments: rfm.Rfm
    best: list[dict[str, Any]]
    worst: list[dict[str, Any]]

    def tier_sizes(self) -> list[dict[str, Any]]:
        return tiers.sizes(self.tier_spec, self.tier_view.names, self.ledger.floats("contribution"))

    def to_dict(self) -> dict[str, Any]:
        company = self.ledger.company
        return {
            "period": _period(self.period),
            "as_of": self.as_of.isoformat(),
            "currency": self.ledger.currency,
            "headline": self.curve.headline(currency=self.ledger.currency),
            "customers": self.ledger.customers.num_rows,
            "pnl": {
                "company": company.to_dict(),
                "customers": {
                    name: str(cents(sum(self.ledger.statement_column(name), ZERO)))
                    for name in company.statement()
                },
                "unattributed": {
                    reason: breakdown.to_dict()
                    for reason, breakdown in self.ledger.unattributed.items()
                },
                "reconciliation": self.ledger.reconciliation.to_dict(),
            },
            "whale_curve": self.curve.to_dict(),
            "by_channel": [g.to_dict() for g in self.by_channel],
            "by_cohort": [g.to_dict() for g in self.by_cohort],
            "clv": self.predictions.to_dict(),
            "tiers": self.tier_sizes(),
            "migrations": {"from": _period(self.previous), **self.migration.to_dict()},
            "rfm": self.segments.summary(),
            "best": self.best,
            "worst": self.worst,
        }


def _period(period: Period) -> dict[str, str | None]:
    return {
        "start": period.start.isoformat() if period.start else None,
        "end": period.end.isoformat() if period.end else None,
    }


def display_names(store: Store, profile_ids: list[int]) -> dict[int, str]:
    """A readable identifier per profile (an e-mail before a phone before a user id…)."""
    if not profile_ids:
        return {}
    marks = ", ".join("?" for _ in profile_ids)
    rows = store.query(
        f"SELECT profile_id, type, value FROM identifiers WHERE profile_id IN ({marks}) "
        "AND NOT quarantined",
        profile_ids,
    )
    rank = {t: k for k, t in enumerate(DISPLAY_TYPES)}
    best: dict[int, tuple[int, str]] = {}
    for profile, kind, value in rows:
        key = (rank.get(kind, len(rank)), str(value))
        if int(profile) not in best or key < best[int(profile)]:
            best[int(profile)] = key
    return {p: v for p, (_, v) in best.items()}


def _customer_rows(
    store: Store, ledger: ValueLedger, view: TierView, segment_of: dict[int, str], order: Any
) -> list[dict[str, Any]]:
    contribution = ledger.money("contribution")
    revenue = ledger.statement_column("revenue")
    orders = ledger.customers["orders"].to_pylist()
    picked = [int(k) for k in order]
    names = display_names(store, [int(view.ids[k]) for k in picked])
    rows = []
    for k in picked:
        pid = int(view.ids[k])
        rows.append(
            {
                "profile_id": pid,
                "identifier": names.get(pid, str(pid)),
                "contribution": str(cents(contribution[k])),
                "revenue": str(cents(revenue[k])),
                "orders": int(orders[k] or 0),
                "tier": view.names[k],
                "segment": segment_of.get(pid),
                "p_alive": None if np.isnan(view.p_alive[k]) else round(float(view.p_alive[k]), 4),
                "clv": None if np.isnan(view.clv[k]) else round(float(view.clv[k]), 2),
            }
        )
    return rows


def _rfm(ledger: ValueLedger, as_of: dt.datetime) -> rfm.Rfm:
    t = ledger.customers
    orders = np.asarray(t["orders"].to_pylist(), dtype=np.float64)
    buyers = orders > 0
    last = t["last_order_at"].to_pylist()
    recency = np.array(
        [(as_of - ts).total_seconds() / 86400.0 if ts is not None else np.nan for ts in last]
    )
    revenue = np.array([float(v) for v in ledger.statement_column("revenue")])
    ids = np.asarray(t["profile_id"].to_pylist(), dtype=np.int64)
    return rfm.rfm(ids[buyers], recency[buyers], orders[buyers], revenue[buyers])


def _groups(ledger: ValueLedger) -> tuple[list[Any], list[Any]]:
    contribution = ledger.floats("contribution")
    channels = [c or NO_ORDER for c in ledger.customers["primary_channel"].to_pylist()]
    cohorts = [
        ts.strftime("%Y-%m") if ts is not None else NO_ORDER
        for ts in ledger.customers["first_order_ever_at"].to_pylist()
    ]
    return (
        concentration.by_group(channels, contribution),
        sorted(concentration.by_group(cohorts, contribution), key=lambda g: g.key),
    )


def build_report(
    store: Store,
    costs: CostModel,
    period: Period | None = None,
    tier_spec: tiers.TierSpec = tiers.DEFAULT_TIERS,
) -> ValueReport:
    """Everything the report shows, for one period (default: all time)."""
    period = period or Period()
    as_of = as_of_date(store, period)
    ledger = compute(store, costs, period)
    predictions = predict(store, costs, as_of, order_margin(ledger))
    view = _tiers(ledger, predictions, tier_spec)
    previous = previous_period(period, as_of)
    before_ledger = compute(store, costs, previous)
    assert previous.end is not None
    before_predictions = predict(store, costs, previous.end, order_margin(before_ledger), 0)
    before = _tiers(before_ledger, before_predictions, tier_spec)
    migration = tiers.migrations(
        tier_spec,
        dict(zip(before.ids.tolist(), before.names, strict=True)),
        dict(zip(view.ids.tolist(), view.names, strict=True)),
    )
    segments = _rfm(ledger, as_of)
    segment_of = dict(zip(segments.profile_id.tolist(), segments.segments, strict=True))
    contribution = ledger.floats("contribution")
    ranked = np.lexsort((view.ids, -contribution))
    by_channel, by_cohort = _groups(ledger)
    return ValueReport(
        period=period,
        as_of=as_of,
        ledger=ledger,
        predictions=predictions,
        curve=concentration.whale_curve(contribution),
        by_channel=by_channel,
        by_cohort=by_cohort,
        tier_spec=tier_spec,
        tier_view=view,
        migration=migration,
        previous=previous,
        segments=segments,
        best=_customer_rows(store, ledger, view, segment_of, ranked[:5]),
        worst=_customer_rows(store, ledger, view, segment_of, ranked[::-1][:5]),
    )
