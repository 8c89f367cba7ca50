"""Daily KPI series by channel, store, category and customer segment, from the event log.

Every dimension partitions the same daily total (kpi.investigate checks it), so a drop can be
split exactly into the values that explain it:

- ``channel``: the order's ``context.channel``;
- ``store``: ``context.store_id``, or ``online`` for orders outside a store;
- ``category``: each order's revenue spread over its lines in proportion to price x quantity
  (so discounts stay inside the order's categories); orders without lines are ``unknown``;
- ``segment``: ``new`` for a profile's first order ever, ``returning`` after it, and
  ``unidentified`` for orders no profile owns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

import numpy as np

from clientcore.experiments.errors import InvalidInputError
from clientcore.experiments.kpi import investigate
from clientcore.experiments.metrics import EVENT_PROFILE
from clientcore.store import Store
from clientcore.value.sql import number

Kpi = Literal["revenue", "orders"]
DIMENSIONS = ("channel", "store", "category", "segment")


@dataclass(frozen=True)
class KpiSeries:
    kpi: Kpi
    days: list[date]
    dimensions: dict[str, dict[str, np.ndarray]]

    @property
    def total(self) -> np.ndarray:
        first = next(iter(self.dimensions.values()))
        return np.sum(list(first.values()), axis=0) if first else np.zeros(len(self.days))


def _orders_sql(backend: str) -> str:
    revenue = number(backend, "(e.payload->'properties'->>'revenue')")  # type: ignore[arg-type]
    return (
        "orders AS (SELECT e.seq, CAST(e.timestamp AS DATE) AS day, e.channel, "
        "coalesce((e.payload->'context'->>'store_id'), 'online') AS store, "
        f"CAST(coalesce({revenue}, 0) AS DOUBLE PRECISION) AS revenue, "
        "CAST(1 AS DOUBLE PRECISION) AS orders FROM events e "
        "WHERE e.type = 'track' AND e.event = 'Order Completed' AND e.timestamp >= ? "
        "AND e.timestamp < ?)"
    )


def _lines_sql(backend: str) -> str:
    array = "o_e.payload->'properties'->'products'"
    if backend == "duckdb":
        unnest = f" CROSS JOIN unnest(CAST({array} AS JSON[])) AS item(product)"
    else:
        unnest = (
            f" CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof({array}) = "
            f"'array' THEN {array} END) AS item(product)"
        )
    price = number(backend, "(item.product->>'price')")  # type: ignore[arg-type]
    qty = number(backend, "(item.product->>'quantity')")  # type: ignore[arg-type]
    return (
        "lines AS (SELECT o.seq, coalesce((item.product->>'category'), 'unknown') AS category, "
        f"CAST(coalesce({price}, 0) * coalesce({qty}, 1) AS DOUBLE PRECISION) AS amount "
        f"FROM orders o JOIN events o_e ON o_e.seq = o.seq{unnest}),\n"
        "shares AS (SELECT seq, category, CASE WHEN SUM(amount) OVER (PARTITION BY seq) > 0 "
        "THEN amount / SUM(amount) OVER (PARTITION BY seq) "
        "ELSE 1.0 / COUNT(*) OVER (PARTITION BY seq) END AS share FROM lines)"
    )


def _segment_sql() -> str:
    return (
        f"{EVENT_PROFILE},\n"
        "first_orders AS (SELECT ep.profile_id, MIN(e.seq) AS first_seq FROM events e "
        "JOIN event_profile ep ON ep.seq = e.seq WHERE e.type = 'track' "
        "AND e.event = 'Order Completed' GROUP BY ep.profile_id)"
    )


def kpi_series(store: Store, kpi: Kpi, start: datetime, end: datetime) -> KpiSeries:
    """Daily ``kpi`` in [start, end) along every dimension, zero-filled."""
    if kpi not in ("revenue", "orders"):
        raise InvalidInputError(f"kpi: must be revenue or orders, got {kpi!r}")
    if end <= start:
        raise InvalidInputError("days: the period is empty")
    backend = store.backend
    head = f"WITH {_orders_sql(backend)}\n"
    queries = {
        "channel": f"{head}SELECT day, channel, SUM({kpi}) FROM orders GROUP BY day, channel",
        "store": f"{head}SELECT day, store, SUM({kpi}) FROM orders GROUP BY day, store",
        "category": (
            f"{head},{_lines_sql(backend)}\nSELECT o.day, coalesce(s.category, 'unknown'), "
            f"SUM(o.{kpi} * coalesce(s.share, 1.0)) FROM orders o "
            "LEFT JOIN shares s ON s.seq = o.seq GROUP BY o.day, coalesce(s.category, 'unknown')"
        ),
        "segment": (
            f"{head},{_segment_sql()}\nSELECT o.day, CASE WHEN ep.profile_id IS NULL THEN "
            "'unidentified' WHEN f.first_seq = o.seq THEN 'new' ELSE 'returning' END AS seg, "
            f"SUM(o.{kpi}) FROM orders o LEFT JOIN event_profile ep ON ep.seq = o.seq "
            "LEFT JOIN first_orders f ON f.profile_id = ep.profile_id GROUP BY 1, 2"
        ),
    }
    n_days = (end.date() - start.date()).days
    days = [start.date() + timedelta(days=i) for i in range(n_days)]
    index = {d: i for i, d in enumerate(days)}
    dimensions: dict[str, dict[str, np.ndarray]] = {}
    for name, sql in queries.items():
        series: dict[str, np.ndarray] = {}
        for day, value, amount in store.query(sql, [start, end]):
            i = index.get(day if isinstance(day, date) else date.fromisoformat(str(day)))
            if i is None:
                continue
            series.setdefault(str(value), np.zeros(n_days))[i] += float(amount or 0.0)
        dimensions[name] = series
    return KpiSeries(kpi, days, dimensions)


def last_event_day(store: Store) -> date | None:
    rows = store.query("SELECT MAX(timestamp) FROM events")
    return rows[0][0].date() if rows and rows[0][0] is not None else None


def kpi_alerts(
    store: Store,
    *,
    kpi: Kpi = "revenue",
    days: int = 120,
    until: date | None = None,
    threshold: float = 3.5,
    weeks: int = 6,
    top: int = 3,
    dimensions: Sequence[str] = DIMENSIONS,
) -> dict[str, Any]:
    """Days in the last ``days`` whose KPI fell below its seasonal expectation, explained.

    The first ``7 * weeks`` days only build the baseline; alerts come after them.
    """
    if kpi not in ("revenue", "orders"):
        raise InvalidInputError(f"kpi: must be revenue or orders, got {kpi!r}")
    unknown = sorted(set(dimensions) - set(DIMENSIONS))
    if unknown:
        raise InvalidInputError(f"dimension: unknown {unknown[0]!r}; known: {list(DIMENSIONS)}")
    if not 2 <= weeks <= 52:
        raise InvalidInputError(f"weeks: must be in [2, 52], got {weeks}")
    if days <= 7 * weeks:
        raise InvalidInputError(f"days: must exceed the {7 * weeks}-day baseline, got {days}")
    last = until or last_event_day(store)
    if last is None:
        return {"kpi": kpi, "days": 0, "alerts": [], "message": "no events yet"}
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC)
    start = end - timedelta(days=days)
    series = kpi_series(store, kpi, start, end)
    chosen = {d: series.dimensions[d] for d in dimensions if series.dimensions[d]}
    if not chosen:
        return {"kpi": kpi, "days": days, "alerts": [], "message": "no orders in the period"}
    labels = [d.isoformat() for d in series.days]
    alerts = investigate(chosen, labels=labels, weeks=weeks, threshold=threshold)
    out = []
    for alert in alerts:
        doc = alert.to_dict()
        doc["drill_down"] = {d: rows[:top] for d, rows in doc["drill_down"].items()}
        out.append(doc)
    return {
        "kpi": kpi,
        "from": labels[0],
        "until": labels[-1],
        "days": days,
        "threshold": threshold,
        "daily_total": [round(float(v), 2) for v in series.total],
        "labels": labels,
        "alerts": out,
    }
