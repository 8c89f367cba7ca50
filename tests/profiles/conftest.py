"""A small hand-made customer base, written straight into the identity tables, so the profile
tests do not depend on the identity graph code.

Ada (profile 0) shops on the web, in store 001 with her loyalty card, and calls the call
center; the CRM knows her too. Bob (profile 5) has two events. A placeholder e-mail typed at
the till for both of them is quarantined (no profile). Identifier ids are dense from 0 and a
profile's id is its smallest identifier id, as the identity graph writes them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import orjson
import pytest

from clientcore.collect.ingest import commit, prepare
from clientcore.store import Store, open_store
from tests.conftest import _pg_or_skip as pg_or_skip

ADA, BOB = 0, 5
PLACEHOLDER = "noemail@store.com"

# id, type, value, profile (None: quarantined)
IDENTIFIERS: list[tuple[int, str, str, int | None]] = [
    (0, "user_id", "u-ada", ADA),
    (1, "email", "ada@example.com", ADA),
    (2, "phone", "+14155552671", ADA),
    (3, "anonymous_id", "anon-ada-1", ADA),
    (4, "loyalty_card", "LC123", ADA),
    (5, "user_id", "u-bob", BOB),
    (6, "email", "bob@example.com", BOB),
    (7, "email", PLACEHOLDER, None),
]
USER, EMAIL, PHONE, ANON, CARD, BOB_USER, BOB_EMAIL, TRAP = range(8)


def _event(
    mid: str, kind: str, when: str, ids: tuple[int, ...], source: str, **fields: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind, "messageId": mid, "timestamp": when}
    body.update(fields)
    return {"source": source, "ids": ids, "body": body}


STORE = {"channel": "store", "store_id": "store_001"}
CALL = {"channel": "call_center", "agent_id": "agent-7"}
EVENTS: list[dict[str, Any]] = [
    _event("a01", "page", "2024-01-01T10:00:00Z", (ANON,), "web",
           anonymousId="anon-ada-1", name="Home", context={"channel": "web"}),
    _event("a02", "identify", "2024-01-02T10:00:00Z", (USER, EMAIL, ANON), "web",
           userId="u-ada", anonymousId="anon-ada-1", context={"channel": "web"},
           traits={"email": " Ada@Example.com", "name": "Ada L", "city": "Paris"}),
    _event("a03", "identify", "2024-01-03T10:00:00Z", (USER,), "crm",
           userId="u-ada", traits={"name": "Ada Lovelace", "city": "London", "tier": "gold"}),
    _event("a04", "track", "2024-01-05T10:00:00Z", (CARD, TRAP), "pos",
           anonymousId="till-1", event="Order Completed",
           context={**STORE, "traits": {"loyalty_card": "lc 123", "email": PLACEHOLDER}},
           properties={"order_id": "o-1", "revenue": 100.5}),
    _event("a05", "track", "2024-01-06T10:00:00Z", (USER,), "web",
           userId="u-ada", event="Order Completed", context={"channel": "web"},
           properties={"order_id": "o-2", "revenue": 20.25}),
    _event("a06", "track", "2024-01-07T10:00:00Z", (CARD,), "pos",
           anonymousId="till-2", event="Product Returned", context=STORE,
           properties={"order_id": "o-1", "product_id": "p-9", "reason": "defective"}),
    _event("a07", "track", "2024-01-07T10:00:02Z", (CARD,), "pos",
           anonymousId="till-2", event="Order Refunded", context=STORE,
           properties={"order_id": "o-1", "total": 30}),
    _event("a08", "track", "2024-01-08T12:00:00Z", (PHONE,), "callcenter",
           anonymousId="call-1", event="Service Call",
           context={**CALL, "traits": {"phone": "(415) 555-2671"}},
           properties={"reason": "late_delivery", "duration_seconds": 300}),
    _event("a09", "track", "2024-01-08T12:00:00Z", (PHONE,), "callcenter",
           anonymousId="call-1", event="Order Completed",
           context={**CALL, "traits": {"phone": "415 555 2671"}},
           properties={"order_id": "o-3", "revenue": 10}),
    _event("a10", "track", "2024-01-10T10:00:00Z", (USER, EMAIL), "web",
           userId="u-ada", event="Support Ticket Opened",
           context={"channel": "web", "traits": {"email": "ada@example.com"}},
           properties={"ticket_id": "t-1", "reason": "damaged"}),
    _event("a11", "identify", "2024-01-11T10:00:00Z", (USER,), "web",
           userId="u-ada", context={"channel": "web"},
           traits={"city": "Berlin", "name": "", "tier": None}),
    _event("a12", "track", "2024-01-12T10:00:00Z", (PHONE,), "callcenter",
           anonymousId="call-2", event="Address Changed", context=CALL),
    _event("b01", "page", "2024-01-04T10:00:00Z", (BOB_USER,), "web",
           userId="u-bob", name="Home", context={"channel": "web"}),
    _event("b02", "track", "2024-01-09T10:00:00Z", (BOB_USER, BOB_EMAIL, TRAP), "pos",
           userId="u-bob", event="Order Completed",
           context={**STORE, "traits": {"email": PLACEHOLDER}},
           properties={"order_id": "o-9", "revenue": 5}),
]  # fmt: skip


@dataclass(frozen=True)
class Scenario:
    url: str
    seqs: dict[str, int]  # messageId -> seq

    def seq(self, message_id: str) -> int:
        return self.seqs[message_id]


def populate(store: Store) -> dict[str, int]:
    """Store the events through the ingest step, then the identity rows by hand."""
    by_source: dict[str, list[bytes | None]] = {}
    for item in EVENTS:
        by_source.setdefault(item["source"], []).append(orjson.dumps(item["body"]))
    for source, raws in by_source.items():
        prepared = prepare(raws, source, "test")
        assert not prepared.rejections, prepared.rejections
        commit(store, [prepared])
    rows = store.query("SELECT message_id, seq, timestamp FROM events")
    seqs = {mid: int(seq) for mid, seq, _ in rows}
    stamps: dict[str, datetime] = {mid: ts for mid, _, ts in rows}
    first: dict[int, int] = {}
    for item in EVENTS:
        for identifier in item["ids"]:
            seq = seqs[item["body"]["messageId"]]
            first[identifier] = min(first.get(identifier, seq), seq)
    store.execute(
        "INSERT INTO identifiers (id, type, value, profile_id, first_seq, quarantined) VALUES "
        + ", ".join("(?, ?, ?, ?, ?, ?)" for _ in IDENTIFIERS),
        [
            field
            for identifier, kind, value, profile in IDENTIFIERS
            for field in (identifier, kind, value, profile, first[identifier], profile is None)
        ],
    )
    carried = [
        (seqs[item["body"]["messageId"]], identifier, stamps[item["body"]["messageId"]])
        for item in EVENTS
        for identifier in item["ids"]
    ]
    store.execute(
        "INSERT INTO event_identifiers (seq, identifier_id, timestamp) VALUES "
        + ", ".join("(?, ?, ?)" for _ in carried),
        [field for row in carried for field in row],
    )
    return seqs


@pytest.fixture(
    scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def scenario_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty database on each backend, shared by a module's read-only tests."""
    if request.param == "duckdb":
        yield str(tmp_path_factory.mktemp("profiles") / "clientcore.duckdb")
        return
    import psycopg

    base = pg_or_skip()
    schema = f"cc_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    with psycopg.connect(base, autocommit=True) as con:
        con.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(scope="module")
def scenario(scenario_url: str) -> Scenario:
    """The scenario, written once per module and backend (closed: an app may open it)."""
    store = open_store(scenario_url)
    try:
        seqs = populate(store)
    finally:
        store.close()
    return Scenario(scenario_url, seqs)


@pytest.fixture(scope="module")
def people(scenario: Scenario) -> Iterator[Store]:
    """The scenario's store, open."""
    store = open_store(scenario.url)
    yield store
    store.close()
