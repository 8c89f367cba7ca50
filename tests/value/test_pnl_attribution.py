"""The ledger on a hand-made shop, on DuckDB and PostgreSQL: golden P&L lines per customer,
attribution (an anonymous visitor, an event whose only identifier is quarantined, an event
touching two profiles), periods, and the traceable per-line event counts.

Identity rows are written by hand so these tests do not depend on the stitching code.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest

from clientcore.collect.ingest import commit, prepare
from clientcore.store import Store, open_store
from clientcore.value.costs import CostModel, parse_costs
from clientcore.value.customer import customer_value
from clientcore.value.pnl import compute, customer_breakdown
from clientcore.value.sql import UNCOSTED, Period
from tests.conftest import _pg_or_skip as pg_or_skip

ADA, BOB, GHOST = 0, 4, 5
USER, EMAIL, ANON, PHONE, BOB_USER, GHOST_ANON, TRAP = range(7)
IDENTIFIERS: list[tuple[int, str, str, int | None]] = [
    (USER, "user_id", "u-ada", ADA),
    (EMAIL, "email", "ada@example.com", ADA),
    (ANON, "anonymous_id", "anon-ada", ADA),
    (PHONE, "phone", "+14155552671", ADA),
    (BOB_USER, "user_id", "u-bob", BOB),
    (GHOST_ANON, "anonymous_id", "anon-ghost", GHOST),
    (TRAP, "email", "noemail@store.com", None),  # quarantined: links nobody
]

COSTS: dict[str, Any] = {
    "catalog": {"path": "catalog.csv"},
    "fulfilment": {
        "default": 7.5,
        "by_channel": {"store": 1.5},
        "by_device_type": {"kiosk": 7.5},
        "fee_rate_by_channel": {"marketplace": 0.15},
    },
    "returns": {"handling_per_refund": 5, "writeoff_rate": 0.3},
    "marketing": {"Email Sent": {"per_event": 0.003}, "Ad Clicked": {
        "per_event": 1.10, "amount_property": "cost"}},
    "service": {
        "Service Call": {"per_minute": 0.9},
        "Incident Reported": {"per_event": 1, "by_value": {"lost_parcel": 25}},
    },
    "acquisition": {"default": 0.5, "by_channel": {"cpc": 2}},
}  # fmt: skip


def _e(mid: str, day: int, event: str, ids: tuple[int, ...], **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "track",
        "messageId": mid,
        "event": event,
        "timestamp": f"2024-01-{day:02d}T10:00:00Z",
        "anonymousId": "a-" + mid,
    }
    body.update(fields)
    return {"ids": ids, "body": body}


WEB = {"channel": "web"}
EVENTS = [
    _e("a08", 1, "Ad Clicked", (ANON,), properties={"cost": 0.8},
       context={"channel": "web", "campaign": {"medium": "cpc", "source": "google"}}),
    _e("a01", 2, "Order Completed", (USER,), context=WEB, properties={
        "order_id": "o1", "revenue": 100.5, "discount": 10, "shipping": 5.99, "products": [
            {"product_id": "p1", "quantity": 2}, {"product_id": "p2", "quantity": 1,
                                                   "cost": 7.25}]}),
    _e("a02", 3, "Order Completed", (USER, EMAIL), properties={
        "order_id": "o2", "revenue": 40, "products": [{"product_id": "p3"}]},
       context={"channel": "store", "device": {"id": "tab-1", "type": "kiosk"}}),
    _e("a03", 4, "Order Refunded", (USER,), context=WEB, properties={"order_id": "o1",
                                                                       "total": 30}),
    _e("a04", 4, "Product Returned", (USER,), context=WEB,
       properties={"order_id": "o1", "product_id": "p1", "quantity": 1}),
    _e("a05", 5, "Service Call", (PHONE,), context={"channel": "call_center"},
       properties={"duration_seconds": 150}),
    _e("a06", 6, "Email Sent", (USER, EMAIL), context={"channel": "email"}),
    _e("a07", 7, "Incident Reported", (USER,), context=WEB, properties={"type": "lost_parcel"}),
    _e("m01", 8, "Email Sent", (USER, BOB_USER), context={"channel": "email"}),
    _e("b01", 9, "Order Completed", (BOB_USER,), context={"channel": "marketplace"},
       properties={"order_id": "o3", "revenue": 50}),
    _e("g01", 10, "Ad Clicked", (GHOST_ANON,), context=WEB),
    _e("q01", 11, "Order Completed", (TRAP,), context=WEB,
       properties={"order_id": "o4", "revenue": 12}),
]  # fmt: skip

# (section, item) -> (amount, events), per scope
ADA_LINES = {
    ("gross_sales", "Order Completed"): ("150.5", 2),
    ("discounts", "Order Completed"): ("-10", 1),
    ("refunds", "Order Refunded"): ("-30", 1),
    ("shipping_charged", "Order Completed"): ("5.99", 1),
    ("cogs", "Order Completed"): ("-47.25", 1),
    ("cogs", UNCOSTED): ("0", 1),
    ("cogs", "Product Returned"): ("14", 1),
    ("fulfilment", "default"): ("-7.5", 1),
    ("fulfilment", "kiosk"): ("-7.5", 1),
    ("returns", "Order Refunded"): ("-5", 1),
    ("marketing", "Ad Clicked"): ("-0.8", 1),
    ("marketing", "Email Sent"): ("-0.006", 2),
    ("service", "Service Call"): ("-2.25", 1),
    ("service", "Incident Reported · lost_parcel"): ("-26", 1),
    ("acquisition", "cpc"): ("-2", 1),
}
BOB_LINES = {
    ("gross_sales", "Order Completed"): ("50", 1),
    ("fulfilment", "default"): ("-7.5", 1),
    ("channel_fees", "marketplace"): ("-7.5", 1),
    ("acquisition", "marketplace"): ("-0.5", 1),
}


def populate(store: Store) -> None:
    """Events through the ingest step, then the identity rows by hand."""
    raws = [orjson.dumps(item["body"]) for item in EVENTS]
    prepared = prepare(raws, "test", "test")
    assert not prepared.rejections, prepared.rejections
    commit(store, [prepared])
    rows = store.query("SELECT message_id, seq, timestamp FROM events")
    seq = {mid: (int(s), ts) for mid, s, ts in rows}
    first: dict[int, int] = {}
    carried = []
    for item in EVENTS:
        s, ts = seq[item["body"]["messageId"]]
        for identifier in item["ids"]:
            first[identifier] = min(first.get(identifier, s), s)
            carried.append((s, identifier, ts))
    store.execute(
        "INSERT INTO identifiers (id, type, value, profile_id, first_seq, quarantined) VALUES "
        + ", ".join("(?, ?, ?, ?, ?, ?)" for _ in IDENTIFIERS),
        [f for i, kind, value, p in IDENTIFIERS for f in (i, kind, value, p, first[i], p is None)],
    )
    store.execute(
        "INSERT INTO event_identifiers (seq, identifier_id, timestamp) VALUES "
        + ", ".join("(?, ?, ?)" for _ in carried),
        [f for row in carried for f in row],
    )


def shop_costs(folder: Path) -> CostModel:
    (folder / "catalog.csv").write_text("product_id,unit_cost\np1,20.00\np2,99\n")
    return parse_costs(COSTS, folder)


@pytest.fixture(
    scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def shop(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, CostModel]]:
    """(database URL, cost model) of the hand-made shop on each backend."""
    folder = tmp_path_factory.mktemp("shop")
    if request.param == "duckdb":
        url = str(folder / "shop.duckdb")
        schema = None
    else:
        import psycopg

        base = pg_or_skip()
        schema = f"cc_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(base, autocommit=True) as con:
            con.execute(f"CREATE SCHEMA {schema}")
        sep = "&" if "?" in base else "?"
        url = f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    store = open_store(url)
    try:
        populate(store)
    finally:
        store.close()
    yield url, shop_costs(folder)
    if schema is not None:
        import psycopg

        with psycopg.connect(pg_or_skip(), autocommit=True) as con:
            con.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def shop_store(shop: tuple[str, CostModel]) -> Iterator[Store]:
    store = open_store(shop[0])
    yield store
    store.close()


def _as_map(lines: Any) -> dict[tuple[str, str], tuple[Decimal, int]]:
    return {(line.section, line.item): (line.amount, line.events) for line in lines}


def _golden(lines: dict[tuple[str, str], tuple[str, int]]) -> dict[Any, tuple[Decimal, int]]:
    return {key: (Decimal(amount), n) for key, (amount, n) in lines.items()}


def test_each_customer_line_is_golden(shop: tuple[str, CostModel], shop_store: Store) -> None:
    costs = shop[1]
    assert _as_map(customer_breakdown(shop_store, costs, ADA).lines) == _golden(ADA_LINES)
    assert _as_map(customer_breakdown(shop_store, costs, BOB).lines) == _golden(BOB_LINES)
    statement = customer_breakdown(shop_store, costs, ADA).statement()
    assert statement["revenue"] == Decimal("140.5")
    assert statement["cogs"] == Decimal("33.25")  # 2 x 20 + 7.25 own cost - 70% of 20 back
    assert statement["contribution"] == Decimal("32.184")


def test_unattributed_part_has_its_reasons(shop: tuple[str, CostModel], shop_store: Store) -> None:
    ledger = compute(shop_store, shop[1])
    assert ledger.customers["profile_id"].to_pylist() == [ADA, BOB]
    anonymous = ledger.unattributed["anonymous"]
    assert _as_map(anonymous.lines) == {("marketing", "Ad Clicked"): (Decimal("-1.1"), 1)}
    unidentified = _as_map(ledger.unattributed["unidentified"].lines)
    assert unidentified[("gross_sales", "Order Completed")] == (Decimal(12), 1)
    assert ledger.company.statement()["contribution"] == Decimal("70.084")
    assert ledger.reconciliation.max_abs_difference == 0
    assert ledger.statement_column("contribution") == [Decimal("32.184"), Decimal("34.5")]


def test_periods_partition_the_ledger(shop: tuple[str, CostModel], shop_store: Store) -> None:
    cut = datetime(2024, 1, 5, tzinfo=UTC)
    whole = compute(shop_store, shop[1]).company
    early = compute(shop_store, shop[1], Period(None, cut)).company
    late = compute(shop_store, shop[1], Period(cut, None)).company
    for section in ("gross_sales", "refunds", "cogs", "service", "marketing", "acquisition"):
        assert whole.section(section) == early.section(section) + late.section(section)
    assert early.section("service") == 0  # the call is on the 5th: the later period's
    assert _as_map(late.lines)[("service", "Service Call")] == (Decimal("-2.25"), 1)


def test_customer_document(shop: tuple[str, CostModel], shop_store: Store) -> None:
    doc = customer_value(shop_store, shop[1], ADA, with_clv=False)
    assert doc["identifier"] == "ada@example.com"
    assert doc["statement"]["contribution"] == "32.18"
    assert {(x["section"], x["item"], x["events"]) for x in doc["lines"]} == {
        (s, i, n) for (s, i), (_, n) in ADA_LINES.items()
    }
    ghost = customer_value(shop_store, shop[1], GHOST, with_clv=False)
    assert ghost["lines"] == []
    assert "anonymous" in ghost["note"]
