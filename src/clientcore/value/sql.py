"""All the SQL of the customer P&L, in one place, for DuckDB and PostgreSQL.

The heart is the *ledger*: one row per (event, P&L line) with a signed DECIMAL amount — what
that event adds to contribution (revenue positive, costs negative). Every figure the value
package shows is a sum over the ledger, so each one can be traced to the events behind it,
and the per-customer sums plus the unattributed part add up exactly to the company's.

Attribution: an event belongs to the profile of its identifiers (the smallest profile id if a
guardrail left it touching two). Profiles holding only anonymous identifiers (cookies,
devices) are visitors, not customers: their events, and events whose identifiers are all
quarantined, form the unattributed part, with that reason.

The two engines differ in two fragments only (unnesting a JSON array, reading a JSON value as
a number leniently); everything from the cost model is a bound parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from clientcore.value.costs import CostModel

Dialect = Literal["duckdb", "postgres"]
MONEY = "DECIMAL(38,6)"
RATE = "DECIMAL(38,10)"

#: P&L sections in statement order; ledger amounts are signed effects on contribution.
SECTIONS: tuple[str, ...] = (
    "gross_sales",
    "discounts",
    "refunds",
    "shipping_charged",
    "cogs",
    "fulfilment",
    "channel_fees",
    "returns",
    "marketing",
    "service",
    "acquisition",
)
ANONYMOUS_TYPES: tuple[str, ...] = ("anonymous_id", "device_id")
UNCOSTED = "lines without a unit cost"
_PG_NUMBER = r"'^ *-{0,1}[0-9]+(\.[0-9]+){0,1}([eE][-+]{0,1}[0-9]{1,2}){0,1} *$'"


@dataclass(frozen=True)
class Period:
    """[start, end): events at or after start and strictly before end; None is unbounded."""

    start: datetime | None = None
    end: datetime | None = None

    def where(self, column: str) -> tuple[str, list[Any]]:
        parts: list[str] = []
        params: list[Any] = []
        if self.start is not None:
            parts.append(f"{column} >= ?")
            params.append(self.start)
        if self.end is not None:
            parts.append(f"{column} < ?")
            params.append(self.end)
        return (" AND ".join(parts) or "TRUE"), params


@dataclass
class Sql:
    """SQL text with its `?` parameters in order, composed piece by piece."""

    text: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, text: str, *params: Any) -> Sql:
        self.text.append(text)
        self.params.extend(params)
        return self

    def sql(self) -> str:
        return "".join(self.text)


def number(dialect: Dialect, text: str) -> str:
    """A JSON value read as text -> MONEY, or NULL when it is not a number."""
    if dialect == "duckdb":
        return f"TRY_CAST({text} AS {MONEY})"
    return f"(CASE WHEN {text} ~ {_PG_NUMBER} THEN CAST({text} AS {MONEY}) END)"


def _products(dialect: Dialect, order: str) -> str:
    """Join each order row to its `properties.products[]` elements as `item.product`."""
    array = f"{order}.payload->'properties'->'products'"
    if dialect == "duckdb":
        return f" CROSS JOIN unnest(CAST({array} AS JSON[])) AS item(product)"
    return (
        " CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof("
        f"{array}) = 'array' THEN {array} END) AS item(product)"
    )


def _values(q: Sql, rows: Sequence[tuple[Any, ...]], types: Sequence[str], names: str) -> None:
    """An inline table of bound values; an empty one has no rows but the right types."""
    if not rows:
        nulls = ", ".join(f"CAST(NULL AS {t})" for t in types)
        q.add(f"(SELECT {nulls} WHERE FALSE) AS {names}")
        return
    q.add("(VALUES ")
    for k, row in enumerate(rows):
        q.add(", " if k else "")
        q.add("(" + ", ".join(f"CAST(? AS {t})" for t in types) + ")", *row)
    q.add(f") AS {names}")


def _per_second(per_minute: Decimal) -> Decimal:
    return (per_minute / 60).quantize(Decimal("1e-10"))


def _attribution(q: Sql, scope: int | None) -> None:
    """CTEs scope_seqs (when scoped), event_profile and customers."""
    if scope is not None:
        q.add(
            "scope_seqs AS (SELECT DISTINCT ei.seq FROM event_identifiers ei "
            "JOIN identifiers i ON i.id = ei.identifier_id WHERE i.profile_id = ?),\n",
            scope,
        )
    q.add(
        "event_profile AS (SELECT ei.seq, MIN(i.profile_id) AS profile_id "
        "FROM event_identifiers ei JOIN identifiers i ON i.id = ei.identifier_id "
        "WHERE i.profile_id IS NOT NULL"
    )
    if scope is not None:
        q.add(" AND ei.seq IN (SELECT seq FROM scope_seqs)")
    q.add(" GROUP BY ei.seq),\n")
    marks = ", ".join("?" for _ in ANONYMOUS_TYPES)
    q.add(
        "customers AS (SELECT DISTINCT profile_id FROM identifiers WHERE profile_id IS NOT NULL"
        f" AND NOT quarantined AND type NOT IN ({marks})",
        *ANONYMOUS_TYPES,
    )
    if scope is not None:
        q.add(" AND profile_id = ?", scope)
    q.add("),\n")


def ledger(
    costs: CostModel, unit_costs: str, dialect: Dialect, period: Period, scope: int | None = None
) -> Sql:
    """`WITH … SELECT seq, section, item, amount, profile_id, reason`: the attributed ledger.

    `unit_costs` names a (product_id, unit_cost) table the caller filled from the catalog;
    `scope` restricts the work to the events of one profile. `reason` is NULL for a customer's
    line, else why no customer owns it ('anonymous' visitor, 'unidentified').
    """
    names = costs.events
    q = Sql().add("WITH ")
    _attribution(q, scope)
    when, when_params = period.where("e.timestamp")
    q.add(
        "ev AS (SELECT e.seq, e.event, e.channel, e.timestamp, e.payload FROM events e "
        f"WHERE e.type = 'track' AND {when}",
        *when_params,
    )
    if scope is not None:
        q.add(" AND e.seq IN (SELECT seq FROM scope_seqs)")
    q.add("),\n")

    def prop(key: str, alias: str = "payload") -> str:
        return number(dialect, f"({alias}->'properties'->>'{key}')")

    # Project JSON fields in subqueries before joining on them: DuckDB plans joins on raw
    # JSON expressions badly.
    q.add(
        f"orders AS (SELECT seq, channel, {prop('revenue')} AS revenue, "
        f"{prop('discount')} AS discount, {prop('shipping')} AS shipping, "
        "(payload->'context'->'device'->>'type') AS device_type FROM ev WHERE event = ?),\n",
        names.order,
    )
    q.add(
        "order_items AS (SELECT o.seq, (item.product->>'product_id') AS product_id, coalesce("
        + number(dialect, "(item.product->>'quantity')")
        + ", 1) AS qty, "
        + number(dialect, "(item.product->>'cost')")
        + " AS own_cost FROM ev o"
        + _products(dialect, "o")
        + " WHERE o.event = ?),\n",
        names.order,
    )
    q.add(
        "order_lines AS (SELECT i.seq, i.qty, coalesce(i.own_cost, uc.unit_cost) AS unit_cost "
        f"FROM order_items i LEFT JOIN {unit_costs} uc ON uc.product_id = i.product_id),\n"
    )
    q.add(
        "returned AS (SELECT r.seq, r.qty, coalesce(r.own_cost, uc.unit_cost) AS unit_cost FROM "
        "(SELECT seq, (payload->'properties'->>'product_id') AS product_id, "
        f"coalesce({prop('quantity')}, 1) AS qty, {prop('cost')} AS own_cost FROM ev "
        f"WHERE event = ?) AS r LEFT JOIN {unit_costs} uc ON uc.product_id = r.product_id),\n",
        names.returned_item,
    )
    rules = [
        (name, section, r.per_event, _per_second(r.per_minute), r.duration_property,
         r.amount_property, r.value_property)
        for section, name, r in costs.event_costs()
    ]  # fmt: skip
    q.add(
        "touches AS (SELECT e.seq, e.event, r.section, r.per_event, r.per_second, "
        + number(dialect, "(e.payload->'properties'->>r.amount_property)")
        + " AS own, "
        + number(dialect, "(e.payload->'properties'->>r.duration_property)")
        + " AS duration, (e.payload->'properties'->>r.value_property) AS value_key FROM ev e JOIN "
    )
    _values(
        q,
        rules,
        ("VARCHAR", "VARCHAR", MONEY, RATE, "VARCHAR", "VARCHAR", "VARCHAR"),
        "r(event, section, per_event, per_second, duration_property, amount_property, "
        "value_property)",
    )
    q.add(" ON r.event = e.event),\n")
    q.add(
        "first_events AS (SELECT profile_id, seq, timestamp, channel_key FROM ("
        "SELECT ep.profile_id, e.seq, e.timestamp, coalesce("
        "(e.payload->'context'->'campaign'->>'medium'), e.channel) AS channel_key, "
        "row_number() OVER (PARTITION BY ep.profile_id ORDER BY e.timestamp, e.seq) AS rn "
        "FROM events e JOIN event_profile ep ON ep.seq = e.seq "
        "JOIN customers c ON c.profile_id = ep.profile_id) AS ranked WHERE rn = 1),\n"
    )
    q.add("lines AS (\n")
    q.add(
        "SELECT seq, 'gross_sales' AS section, CAST(? AS VARCHAR) AS item, "
        f"CAST(coalesce(revenue, 0) + coalesce(discount, 0) AS {MONEY}) AS amount FROM orders\n",
        names.order,
    )
    q.add(
        "UNION ALL SELECT seq, 'discounts', ?, -discount FROM orders WHERE discount <> 0\n",
        names.order,
    )
    q.add(
        "UNION ALL SELECT seq, 'shipping_charged', ?, shipping FROM orders WHERE shipping <> 0\n",
        names.order,
    )
    q.add(
        f"UNION ALL SELECT seq, 'refunds', ?, -coalesce({prop('total')}, 0) FROM ev "
        "WHERE event = ?\n",
        names.refund,
        names.refund,
    )
    q.add(
        f"UNION ALL SELECT seq, 'cogs', ?, -CAST(SUM(qty * unit_cost) AS {MONEY}) "
        "FROM order_lines WHERE unit_cost IS NOT NULL GROUP BY seq\n",
        names.order,
    )
    q.add(
        f"UNION ALL SELECT seq, 'cogs', ?, CAST(0 AS {MONEY}) FROM order_lines "
        "WHERE unit_cost IS NULL GROUP BY seq\n",
        UNCOSTED,
    )
    q.add(
        f"UNION ALL SELECT seq, 'cogs', ?, CAST(qty * unit_cost * CAST(? AS {RATE}) AS {MONEY}) "
        "FROM returned WHERE unit_cost IS NOT NULL\n",
        names.returned_item,
        Decimal(1) - costs.returns.writeoff_rate,
    )
    fulfil = costs.fulfilment
    q.add("UNION ALL SELECT o.seq, 'fulfilment', coalesce(d.k, c.k, 'default'), -coalesce(")
    q.add(f"d.cost, c.cost, CAST(? AS {MONEY})) FROM orders o LEFT JOIN ", fulfil.default)
    _values(q, sorted(fulfil.by_device_type.items()), ("VARCHAR", MONEY), "d(k, cost)")
    q.add(" ON d.k = o.device_type LEFT JOIN ")
    _values(q, sorted(fulfil.by_channel.items()), ("VARCHAR", MONEY), "c(k, cost)")
    q.add(" ON c.k = o.channel\n")
    q.add("UNION ALL SELECT o.seq, 'channel_fees', f.k, -CAST(coalesce(o.revenue, 0) * f.rate ")
    q.add(f"AS {MONEY}) FROM orders o JOIN ")
    _values(q, sorted(fulfil.fee_rate_by_channel.items()), ("VARCHAR", RATE), "f(k, rate)")
    q.add(" ON f.k = o.channel\n")
    for event, amount in (
        (names.refund, costs.returns.handling_per_refund),
        (names.returned_item, costs.returns.handling_per_item),
    ):
        if amount:
            q.add(
                f"UNION ALL SELECT seq, 'returns', ?, -CAST(? AS {MONEY}) FROM ev "
                "WHERE event = ?\n",
                event,
                amount,
                event,
            )
    by_value = [
        (name, value, cost)
        for _, name, r in costs.event_costs()
        for value, cost in sorted(r.by_value.items())
    ]
    q.add(
        "UNION ALL SELECT t.seq, t.section, CASE WHEN v.cost IS NULL THEN t.event "
        "ELSE t.event || ' · ' || v.value END, -CAST(coalesce(t.own, t.per_event) + "
        f"t.per_second * coalesce(t.duration, 0) + coalesce(v.cost, 0) AS {MONEY}) "
        "FROM touches t LEFT JOIN "
    )
    _values(q, by_value, ("VARCHAR", "VARCHAR", MONEY), "v(event, value, cost)")
    q.add(" ON v.event = t.event AND v.value = t.value_key\n")
    acq = costs.acquisition
    first_when, first_params = period.where("f.timestamp")
    q.add(
        "UNION ALL SELECT f.seq, 'acquisition', f.channel_key, -coalesce(a.cost, "
        f"CAST(? AS {MONEY})) FROM first_events f LEFT JOIN ",
        acq.default,
    )
    _values(q, sorted(acq.by_channel.items()), ("VARCHAR", MONEY), "a(k, cost)")
    q.add(f" ON a.k = f.channel_key WHERE {first_when}\n)\n", *first_params)
    q.add(
        "SELECT l.seq, l.section, l.item, l.amount, c.profile_id, "
        "CASE WHEN ep.profile_id IS NULL THEN 'unidentified' "
        "WHEN c.profile_id IS NULL THEN 'anonymous' END AS reason FROM lines l "
        "LEFT JOIN event_profile ep ON ep.seq = l.seq "
        "LEFT JOIN customers c ON c.profile_id = ep.profile_id"
    )
    return q


LEDGER_COLUMNS = (
    f"seq BIGINT, section VARCHAR, item VARCHAR, amount {MONEY}, profile_id BIGINT, reason VARCHAR"
)


def company_breakdown(table: str) -> str:
    """Company totals per line straight from the ledger, ignoring attribution."""
    return (
        "SELECT section, item, SUM(amount) AS amount, COUNT(DISTINCT seq) AS events "
        f"FROM {table} GROUP BY section, item"
    )


def unattributed_breakdown(table: str) -> str:
    """Lines no customer profile owns, by reason (anonymous visitor, unidentified)."""
    return (
        "SELECT reason, section, item, SUM(amount) AS amount, COUNT(DISTINCT seq) AS events "
        f"FROM {table} WHERE profile_id IS NULL GROUP BY reason, section, item"
    )


def profile_breakdown(table: str) -> str:
    """One customer's lines with their event counts (placeholder: the profile id)."""
    return (
        "SELECT section, item, SUM(amount) AS amount, COUNT(DISTINCT seq) AS events "
        f"FROM {table} WHERE profile_id = ? GROUP BY section, item"
    )


def profile_table(table: str, costs: CostModel, period: Period) -> Sql:
    """One row per customer active in the period: P&L sections, orders, channel, cohort."""
    q = Sql().add("WITH ")
    _attribution(q, None)
    q.add("sections AS (SELECT profile_id, ")
    q.add(
        ", ".join(f"SUM(CASE WHEN section = '{s}' THEN amount ELSE 0 END) AS {s}" for s in SECTIONS)
    )
    q.add(f", SUM(amount) AS contribution FROM {table} WHERE profile_id IS NOT NULL ")
    q.add("GROUP BY profile_id),\n")
    when, when_params = period.where("e.timestamp")
    q.add(
        "active AS (SELECT ep.profile_id, COUNT(*) AS events FROM events e "
        "JOIN event_profile ep ON ep.seq = e.seq JOIN customers c ON c.profile_id = ep.profile_id "
        f"WHERE {when} GROUP BY ep.profile_id),\n",
        *when_params,
    )
    until = "TRUE" if period.end is None else "e.timestamp < ?"
    q.add(
        "orders AS (SELECT ep.profile_id, e.seq, e.channel, e.timestamp "
        "FROM events e JOIN event_profile ep ON ep.seq = e.seq "
        "JOIN customers c ON c.profile_id = ep.profile_id "
        f"WHERE e.type = 'track' AND e.event = ? AND {until}),\n",
        costs.events.order,
        *([period.end] if period.end is not None else []),
    )
    in_period, in_params = period.where("timestamp")
    q.add(
        "order_stats AS (SELECT profile_id, MIN(timestamp) AS first_order_ever_at, "
        f"SUM(CASE WHEN {in_period} THEN 1 ELSE 0 END) AS orders, "
        f"MIN(CASE WHEN {in_period} THEN timestamp END) AS first_order_at, "
        f"MAX(CASE WHEN {in_period} THEN timestamp END) AS last_order_at "
        "FROM orders GROUP BY profile_id),\n",
        *in_params,
        *in_params,
        *in_params,
    )
    q.add(
        "channel_rank AS (SELECT profile_id, channel, row_number() OVER (PARTITION BY "
        "profile_id ORDER BY COUNT(*) DESC, MAX(timestamp) DESC, channel) AS rn "
        f"FROM orders WHERE {in_period} GROUP BY profile_id, channel)\n",
        *in_params,
    )
    columns = ", ".join(f"coalesce(s.{name}, 0) AS {name}" for name in (*SECTIONS, "contribution"))
    q.add(
        f"SELECT a.profile_id, {columns}, a.events, "
        "CAST(coalesce(o.orders, 0) AS BIGINT) AS orders, "
        "o.first_order_at, o.last_order_at, o.first_order_ever_at, ch.channel AS primary_channel "
        "FROM active a LEFT JOIN sections s ON s.profile_id = a.profile_id "
        "LEFT JOIN order_stats o ON o.profile_id = a.profile_id "
        "LEFT JOIN channel_rank ch ON ch.profile_id = a.profile_id AND ch.rn = 1 "
        "ORDER BY a.profile_id"
    )
    return q


def transactions(costs: CostModel, until: datetime | None) -> Sql:
    """(customer_id, day, amount) of customers' orders: the CLV package's input relation."""
    q = Sql().add("WITH ")
    _attribution(q, None)
    q.add(
        "txn AS (SELECT ep.profile_id AS customer_id, "
        "CAST(CAST(e.timestamp AS DATE) - DATE '1970-01-01' AS BIGINT) AS day, "
        "CAST(coalesce(CAST((e.payload->'properties'->>'revenue') AS DOUBLE PRECISION), 0) "
        "AS DOUBLE PRECISION) AS amount FROM events e JOIN event_profile ep ON ep.seq = e.seq "
        "JOIN customers c ON c.profile_id = ep.profile_id "
        "WHERE e.type = 'track' AND e.event = ?",
        costs.events.order,
    )
    if until is not None:
        q.add(" AND e.timestamp < ?", until)
    q.add(")\nSELECT customer_id, day, amount FROM txn")
    return q
