"""Per-unit experiment metrics from the event log, computed in the engine (DuckDB or PostgreSQL).

A unit enters the analysis at its **first exposure**; its outcome metrics count what its
profile did in the ``window_days`` after that moment, and its pre-period covariates (for
CUPED) what it did in the ``pre_days`` before. Exposures come from the decision log
(``experiment_exposures``, where the unit is mapped to today's profile) and, for experiments run
elsewhere, from tracked exposure events (Segment's ``Experiment Viewed``, with
``properties.experiment_id`` and ``properties.variation_name``).

Metric definitions (per unit; "in window" = [first exposure, + window)):

=============  =============================================================================
conversion     1 if an ``Order Completed`` in window
orders         number of ``Order Completed`` in window
revenue        sum of their ``properties.revenue``
contribution   the value capability's P&L ledger (margin less costs) of the unit's events in
               window — the customer's own contribution, not just revenue
retention      1 if an order in the *second* window [+ window, + 2 window): still buying later
returns        1 if a ``Product Returned`` in window (guardrail)
complaints     1 if a ``Support Ticket Opened`` or a complaint ``Service Call`` (defect,
               return request, billing) in window (guardrail)
unsubscribes   1 if ``Unsubscribed`` in window (guardrail)
=============  =============================================================================
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from clientcore.experiments.registry import Experiment
from clientcore.experiments.suffstats import CupedStats, SampleStats
from clientcore.store import Store
from clientcore.value.costs import load_costs
from clientcore.value.pnl import materialized_ledger
from clientcore.value.sql import MONEY, Period, Sql, number

BINARY = ("conversion", "retention", "returns", "complaints", "unsubscribes")
WITH_PRE = ("conversion", "orders", "revenue", "contribution")
COMPLAINT_REASONS = ("product_defect", "return_request", "billing")
#: the CTE that credits each event to the profile of its identifiers (quarantined ones: nobody)
EVENT_PROFILE = (
    "event_profile AS (SELECT ei.seq, MIN(i.profile_id) AS profile_id "
    "FROM event_identifiers ei JOIN identifiers i ON i.id = ei.identifier_id "
    "WHERE i.profile_id IS NOT NULL AND NOT i.quarantined GROUP BY ei.seq)"
)


@dataclass(frozen=True)
class UnitTable:
    """One row per unit: variant, number of variants seen, first exposure, metrics."""

    table: pa.Table
    crossovers: int

    def column(self, name: str) -> np.ndarray:
        return self.table.column(name).to_numpy(zero_copy_only=False).astype(float)

    @property
    def variants(self) -> np.ndarray:
        return np.asarray(self.table.column("variant").to_pylist(), dtype=object)


def _exposures(q: Sql, experiment: Experiment) -> None:
    q.add(
        "exposed AS (SELECT coalesce(CAST(p.profile_id AS VARCHAR), 'unit:' || x.unit) AS unit, "
        "x.variant, x.exposed_at FROM experiment_exposures x LEFT JOIN ("
        "SELECT value, MIN(profile_id) AS profile_id FROM identifiers "
        "WHERE profile_id IS NOT NULL AND NOT quarantined GROUP BY value) p ON p.value = x.unit "
        "WHERE x.experiment_id = ?",
        experiment.id,
    )
    if experiment.exposure_event:
        q.add(
            " UNION ALL SELECT CAST(ep.profile_id AS VARCHAR), "
            "(e.payload->'properties'->>'variation_name'), e.timestamp FROM events e "
            "JOIN event_profile ep ON ep.seq = e.seq WHERE e.type = 'track' AND e.event = ? "
            "AND (e.payload->'properties'->>'experiment_id') = ?",
            experiment.exposure_event,
            experiment.id,
        )
    q.add("),\n")


def _window(column: str, lo_days: int, hi_days: int) -> str:
    lo = f"u.first_at + INTERVAL '{lo_days} days'" if lo_days else "u.first_at"
    if lo_days < 0:
        lo = f"u.first_at - INTERVAL '{-lo_days} days'"
    hi = f"u.first_at + INTERVAL '{hi_days} days'" if hi_days else "u.first_at"
    return f"({column} >= {lo} AND {column} < {hi})"


def unit_sql(experiment: Experiment, backend: str, ledger: str | None) -> Sql:
    w, pre = experiment.window_days, experiment.pre_days
    q = Sql()
    q.add(f"WITH {EVENT_PROFILE},\n")
    _exposures(q, experiment)
    q.add(
        "units AS (SELECT unit, MIN(variant) AS variant, COUNT(DISTINCT variant) AS n_variants, "
        "MIN(exposed_at) AS first_at FROM exposed WHERE variant IS NOT NULL GROUP BY unit),\n"
        "span AS (SELECT MIN(first_at) AS lo, MAX(first_at) AS hi FROM units),\n"
    )
    reasons = ", ".join(f"'{r}'" for r in COMPLAINT_REASONS)
    revenue = number(backend, "(e.payload->'properties'->>'revenue')")  # type: ignore[arg-type]
    q.add(
        "acts AS (SELECT CAST(ep.profile_id AS VARCHAR) AS unit, e.timestamp AS at, "
        "CASE WHEN e.event = 'Order Completed' THEN 'order' "
        "WHEN e.event = 'Product Returned' THEN 'return' "
        "WHEN e.event = 'Support Ticket Opened' THEN 'complaint' "
        f"WHEN e.event = 'Service Call' AND (e.payload->'properties'->>'reason') IN ({reasons}) "
        "THEN 'complaint' WHEN e.event = 'Unsubscribed' THEN 'unsubscribe' END AS kind, "
        f"CASE WHEN e.event = 'Order Completed' THEN coalesce({revenue}, 0) END AS revenue, "
        f"CAST(0 AS {MONEY}) AS amount "
        "FROM events e JOIN event_profile ep ON ep.seq = e.seq CROSS JOIN span s "
        "WHERE e.type = 'track' AND e.event IN ('Order Completed', 'Product Returned', "
        "'Support Ticket Opened', 'Service Call', 'Unsubscribed') "
        f"AND e.timestamp >= s.lo - INTERVAL '{pre} days' "
        f"AND e.timestamp < s.hi + INTERVAL '{2 * w} days'"
    )
    if ledger is not None:
        q.add(
            " UNION ALL SELECT CAST(l.profile_id AS VARCHAR), e.timestamp, 'money', NULL, "
            f"SUM(l.amount) FROM {ledger} l JOIN events e ON e.seq = l.seq "
            "WHERE l.profile_id IS NOT NULL GROUP BY l.profile_id, e.seq, e.timestamp"
        )
    q.add(")\n")
    now, later, before = _window("a.at", 0, w), _window("a.at", w, 2 * w), _window("a.at", -pre, 0)
    q.add(
        "SELECT u.unit, u.variant, u.n_variants, u.first_at, "
        f"MAX(CASE WHEN a.kind = 'order' AND {now} THEN 1 ELSE 0 END) AS conversion, "
        f"SUM(CASE WHEN a.kind = 'order' AND {now} THEN 1 ELSE 0 END) AS orders, "
        f"SUM(CASE WHEN a.kind = 'order' AND {now} THEN a.revenue ELSE 0 END) AS revenue, "
        f"SUM(CASE WHEN a.kind = 'money' AND {now} THEN a.amount ELSE 0 END) AS contribution, "
        f"MAX(CASE WHEN a.kind = 'order' AND {later} THEN 1 ELSE 0 END) AS retention, "
        f"MAX(CASE WHEN a.kind = 'return' AND {now} THEN 1 ELSE 0 END) AS returns, "
        f"MAX(CASE WHEN a.kind = 'complaint' AND {now} THEN 1 ELSE 0 END) AS complaints, "
        f"MAX(CASE WHEN a.kind = 'unsubscribe' AND {now} THEN 1 ELSE 0 END) AS unsubscribes, "
        f"MAX(CASE WHEN a.kind = 'order' AND {before} THEN 1 ELSE 0 END) AS pre_conversion, "
        f"SUM(CASE WHEN a.kind = 'order' AND {before} THEN 1 ELSE 0 END) AS pre_orders, "
        f"SUM(CASE WHEN a.kind = 'order' AND {before} THEN a.revenue ELSE 0 END) AS pre_revenue, "
        f"SUM(CASE WHEN a.kind = 'money' AND {before} THEN a.amount ELSE 0 END) "
        "AS pre_contribution "
        "FROM units u LEFT JOIN acts a ON a.unit = u.unit "
        "GROUP BY u.unit, u.variant, u.n_variants, u.first_at ORDER BY u.unit"
    )
    return q


@contextmanager
def _ledger(store: Store, experiment: Experiment) -> Iterator[str | None]:
    if "contribution" not in experiment.metrics:
        yield None
        return
    with materialized_ledger(store, load_costs(None), Period()) as table:
        yield table


def unit_table(store: Store, experiment: Experiment) -> UnitTable:
    """Every exposed unit with its metrics; crossed-over units are counted and dropped."""
    with _ledger(store, experiment) as ledger:
        q = unit_sql(experiment, store.backend, ledger)
        table = store.arrow(q.sql(), q.params)
    crossed = np.asarray(table.column("n_variants").to_numpy(zero_copy_only=False)) > 1
    kept = table.filter(pa.array(~crossed))
    return UnitTable(kept, int(crossed.sum()))


def variant_stats(
    units: UnitTable, experiment: Experiment, metric: str
) -> list[SampleStats | CupedStats]:
    """Sufficient statistics per variant (control first), CUPED when a pre-period is set."""
    names = units.variants
    y = units.column(metric)
    use_pre = experiment.pre_days > 0 and metric in WITH_PRE
    x = units.column(f"pre_{metric}") if use_pre else None
    out: list[SampleStats | CupedStats] = []
    for variant in experiment.variants:
        mask = names == variant.name
        if x is not None:
            out.append(CupedStats.from_values(y[mask], x[mask]))
        else:
            out.append(SampleStats.from_values(y[mask]))
    return out


def daily_exposures(units: UnitTable, experiment: Experiment) -> dict[str, Any]:
    """Cumulative units per variant by day of first exposure (for the readout chart)."""
    if units.table.num_rows == 0:
        return {"days": [], "series": {}}
    first = units.table.column("first_at").to_pylist()
    days = sorted({f.date() for f in first})
    index = {d: i for i, d in enumerate(days)}
    names = units.variants
    series: dict[str, list[int]] = {}
    for variant in experiment.variants:
        counts = np.zeros(len(days), dtype=int)
        for f, v in zip(first, names, strict=True):
            if v == variant.name:
                counts[index[f.date()]] += 1
        series[variant.name] = np.cumsum(counts).tolist()
    return {"days": [d.isoformat() for d in days], "series": series}


def observation_end(units: UnitTable, experiment: Experiment) -> str | None:
    if units.table.num_rows == 0:
        return None
    last = max(units.table.column("first_at").to_pylist())
    return (last + timedelta(days=experiment.window_days)).isoformat()
