"""Customer P&L: run the ledger (value/sql.py) in the engine and shape what comes back.

Three views of one ledger: the per-customer table (one row per customer active in the
period), the traceable breakdown of one customer or of the company (each line with the
number of events behind it), and the reconciliation — company = customers + unattributed,
exactly, because every amount is a DECIMAL with six places and nothing is rounded before
the sum (an e-mail costs 0.3 cents; rounding each one to the cent would lose the money).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from clientcore.store import Store
from clientcore.value import sql
from clientcore.value.costs import CatalogSpec, CostModel, read_catalog
from clientcore.value.sql import SECTIONS, Period

CENT = Decimal("0.01")
MICRO = Decimal("0.000001")
ZERO = Decimal(0)

#: Statement lines shown to people, as (name, sections summed, sign): costs are positive.
STATEMENT: tuple[tuple[str, tuple[str, ...], int], ...] = (
    ("revenue", ("gross_sales", "discounts"), 1),
    ("discounts", ("discounts",), -1),
    ("refunds", ("refunds",), -1),
    ("shipping_charged", ("shipping_charged",), 1),
    ("cogs", ("cogs",), -1),
    ("fulfilment_cost", ("fulfilment", "channel_fees"), -1),
    ("returns_cost", ("returns",), -1),
    ("marketing_cost", ("marketing",), -1),
    ("service_cost", ("service",), -1),
    ("acquisition_cost", ("acquisition",), -1),
    ("contribution", SECTIONS, 1),
)


def cents(value: Decimal) -> Decimal:
    """Round half away from zero to the cent, for display only."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP) + ZERO


def exact(value: Decimal) -> str:
    """The ledger's own precision (six places), the same text on every engine."""
    return str(value.quantize(MICRO) + ZERO)


@dataclass(frozen=True)
class Line:
    """One traceable P&L line: its signed effect on contribution and the events behind it."""

    section: str
    item: str
    amount: Decimal
    events: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "item": self.item,
            "amount": str(cents(self.amount)),
            "exact_amount": exact(self.amount),
            "events": self.events,
        }


@dataclass(frozen=True)
class Breakdown:
    """Lines of one scope (a customer, the company, the unattributed part)."""

    lines: tuple[Line, ...]

    def section(self, name: str) -> Decimal:
        return sum((line.amount for line in self.lines if line.section == name), ZERO)

    def statement(self) -> dict[str, Decimal]:
        """The people-facing statement (costs positive), exact."""
        totals = {s: self.section(s) for s in SECTIONS}
        return {
            name: sign * sum((totals[s] for s in parts), ZERO) + ZERO
            for name, parts, sign in STATEMENT
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "statement": {k: str(cents(v)) for k, v in self.statement().items()},
            "lines": [line.to_dict() for line in self.lines],
        }


@dataclass(frozen=True)
class Reconciliation:
    """Per section: company total, customers' sum, unattributed sum, and the difference."""

    rows: tuple[tuple[str, Decimal, Decimal, Decimal], ...]

    @property
    def difference(self) -> Decimal:
        return sum((c - p - u for _, c, p, u in self.rows), ZERO)

    @property
    def max_abs_difference(self) -> Decimal:
        return max((abs(c - p - u) for _, c, p, u in self.rows), default=ZERO)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sections": [
                {
                    "section": s,
                    "company": exact(c),
                    "customers": exact(p),
                    "unattributed": exact(u),
                    "difference": exact(c - p - u),
                }
                for s, c, p, u in self.rows
            ],
            "max_abs_difference": exact(self.max_abs_difference),
        }


@dataclass(frozen=True)
class ValueLedger:
    """Everything the report needs from the engine for one period."""

    period: Period
    customers: pa.Table
    company: Breakdown
    unattributed: dict[str, Breakdown]
    reconciliation: Reconciliation
    currency: str = "USD"
    meta: dict[str, Any] = field(default_factory=dict)

    def money(self, column: str) -> list[Decimal]:
        return [Decimal(v) if v is not None else ZERO for v in self.customers[column].to_pylist()]

    def floats(self, column: str) -> np.ndarray:
        return np.array([float(v) for v in self.money(column)], dtype=np.float64)

    def statement_column(self, name: str) -> list[Decimal]:
        """A statement line (revenue, cogs, …) per customer, exact."""
        for line, parts, sign in STATEMENT:
            if line == name:
                columns = [self.money(p) for p in parts]
                return [sign * sum(values, ZERO) for values in zip(*columns, strict=True)]
        raise KeyError(name)


@lru_cache(maxsize=8)
def _catalog(
    path: str, id_col: str, cost_col: str, mtime: float
) -> tuple[tuple[str, Decimal], ...]:
    spec = CatalogSpec(path=Path(path), product_id_column=id_col, unit_cost_column=cost_col)
    return tuple(sorted(read_catalog(spec).items()))


def catalog_costs(costs: CostModel) -> tuple[tuple[str, Decimal], ...]:
    """The catalog's unit costs, read once per file version."""
    spec = costs.catalog
    if spec.path is None:
        return ()
    try:
        mtime = spec.path.stat().st_mtime
    except OSError:
        mtime = -1.0  # read_catalog raises the error naming the field
    return _catalog(str(spec.path), spec.product_id_column, spec.unit_cost_column, mtime)


@contextmanager
def _temporary(store: Store, prefix: str, columns: str) -> Iterator[str]:
    """A uniquely named temporary table, dropped afterwards (requests may run side by side)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    store.execute(f"CREATE TEMPORARY TABLE {name} ({columns})")
    try:
        yield name
    finally:
        store.execute(f"DROP TABLE IF EXISTS {name}")


@contextmanager
def materialized_ledger(
    store: Store, costs: CostModel, period: Period, scope: int | None = None
) -> Iterator[str]:
    """Compute the attributed ledger once into a temporary table and yield its name."""
    rows = catalog_costs(costs)
    with (
        _temporary(store, "value_unit_costs", f"product_id VARCHAR, unit_cost {sql.MONEY}") as uc,
        _temporary(store, "value_ledger", sql.LEDGER_COLUMNS) as table,
    ):
        if rows:
            unit_costs = pa.table(
                {
                    "product_id": pa.array([r[0] for r in rows], pa.string()),
                    "unit_cost": pa.array([r[1] for r in rows], pa.decimal128(38, 6)),
                }
            )
            store.write_table(uc, unit_costs)
        query = sql.ledger(costs, uc, store.backend, period, scope)
        store.execute(f"INSERT INTO {table} " + query.sql(), query.params)
        yield table


def _lines(rows: list[tuple[Any, ...]]) -> Breakdown:
    order = {s: k for k, s in enumerate(SECTIONS)}
    lines = [Line(str(s), str(i), Decimal(a or 0), int(n)) for s, i, a, n in rows]
    return Breakdown(tuple(sorted(lines, key=lambda x: (order.get(x.section, 99), x.item))))


def compute(store: Store, costs: CostModel, period: Period | None = None) -> ValueLedger:
    """Per-customer table, company lines, unattributed lines and their reconciliation."""
    period = period or Period()
    with materialized_ledger(store, costs, period) as table:
        company = _lines(store.query(sql.company_breakdown(table)))
        by_reason: dict[str, list[tuple[Any, ...]]] = {}
        for reason, *rest in store.query(sql.unattributed_breakdown(table)):
            by_reason.setdefault(str(reason), []).append(tuple(rest))
        query = sql.profile_table(table, costs, period)
        customers = store.arrow(query.sql(), query.params)
    unattributed = {reason: _lines(rows) for reason, rows in sorted(by_reason.items())}
    ledger = ValueLedger(
        period=period,
        customers=customers,
        company=company,
        unattributed=unattributed,
        reconciliation=Reconciliation(()),
        currency=costs.currency,
    )
    return _with_reconciliation(ledger)


def _with_reconciliation(ledger: ValueLedger) -> ValueLedger:
    rows = []
    for section in SECTIONS:
        company = ledger.company.section(section)
        customers = sum(ledger.money(section), ZERO) if ledger.customers.num_rows else ZERO
        unattributed = sum((b.section(section) for b in ledger.unattributed.values()), ZERO)
        rows.append((section, company, customers, unattributed))
    return ValueLedger(
        period=ledger.period,
        customers=ledger.customers,
        company=ledger.company,
        unattributed=ledger.unattributed,
        reconciliation=Reconciliation(tuple(rows)),
        currency=ledger.currency,
        meta=ledger.meta,
    )


def customer_breakdown(
    store: Store, costs: CostModel, profile_id: int, period: Period | None = None
) -> Breakdown:
    """One customer's traceable P&L (only their events are read)."""
    with materialized_ledger(store, costs, period or Period(), scope=profile_id) as table:
        return _lines(store.query(sql.profile_breakdown(table), [profile_id]))
