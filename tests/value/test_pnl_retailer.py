"""The customer P&L on a generated retailer (300 customers), on DuckDB and PostgreSQL.

1. Reconciliation: for every P&L section, the company total (summed straight from the ledger,
   before attribution) equals the sum over customers plus the unattributed part — exactly,
   in DECIMAL, so certainly to the cent; and the company's revenue, discounts, shipping and
   refunds equal the sums over the raw events.ndjson file.
2. Truth: for customers whose profile is unambiguous (every identifier the generator gave the
   person is in one profile, and that profile holds nobody else's), each statement line is
   within half a cent of truth/customers.csv. The shipped cost model uses the generator's cost
   assumptions (demo/config.py) and the catalog's unit costs, so they must agree; the truth is
   a float rounded to the cent, hence the half cent.

The retailer is generated once per test session and imported once per backend; the report
tests reuse it (`retailer` is imported there).
"""

from __future__ import annotations

import csv
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import orjson
import pytest

from clientcore.collect.importer import import_events
from clientcore.demo.generator import generate
from clientcore.identity.spec import DEFAULT_SPEC
from clientcore.identity.sync import stitch
from clientcore.store import Store, open_store
from clientcore.value.costs import CostModel, load_costs
from clientcore.value.pnl import STATEMENT, ValueLedger, compute
from tests.conftest import _pg_or_skip as pg_or_skip

CUSTOMERS, SEED = 300, 11
_DATA: list[Path] = []


@dataclass(frozen=True)
class Retailer:
    url: str
    data: Path
    costs: CostModel


def _data(factory: pytest.TempPathFactory) -> Path:
    """Generate once per session, whichever module asks first."""
    if not _DATA:
        out = factory.mktemp("retailer")
        generate(customers=CUSTOMERS, seed=SEED, out=out, workers=1)
        _DATA.append(out)
    return _DATA[0]


@pytest.fixture(
    scope="session", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def retailer(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Retailer]:
    """The generated retailer imported and stitched into each backend."""
    data = _data(tmp_path_factory)
    schema = None
    if request.param == "duckdb":
        url = str(tmp_path_factory.mktemp("retailer_db") / "cc.duckdb")
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
        import_events(store, data / "events.ndjson")
        stitch(store, DEFAULT_SPEC)
    finally:
        store.close()
    yield Retailer(url, data, load_costs().with_catalog(data / "catalog.csv"))
    if schema is not None:
        import psycopg

        with psycopg.connect(pg_or_skip(), autocommit=True) as con:
            con.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(scope="session")
def retailer_ledger(retailer: Retailer) -> tuple[Retailer, ValueLedger, dict[int, str]]:
    """The all-time ledger and the unambiguous profile -> person map."""
    store = open_store(retailer.url)
    try:
        return retailer, compute(store, retailer.costs), _unambiguous(store, retailer.data)
    finally:
        store.close()


def _unambiguous(store: Store, data: Path) -> dict[int, str]:
    with (data / "truth" / "identifiers.csv").open(newline="") as handle:
        owner = {(r["type"], r["value"]): r["person_id"] for r in csv.DictReader(handle)}
    profiles_of: dict[str, set[int]] = defaultdict(set)
    people_in: dict[int, set[str | None]] = defaultdict(set)
    for kind, value, profile in store.query(
        "SELECT type, value, profile_id FROM identifiers WHERE profile_id IS NOT NULL"
    ):
        person = owner.get((kind, value))
        people_in[int(profile)].add(person)
        if person is not None:
            profiles_of[person].add(int(profile))
    found = {}
    for person, profiles in profiles_of.items():
        (only,) = profiles if len(profiles) == 1 else (None,)
        if only is not None and people_in[only] == {person}:
            found[only] = person
    return found


def test_reconciles_to_the_cent(
    retailer_ledger: tuple[Retailer, ValueLedger, dict[int, str]],
) -> None:
    _, ledger, _ = retailer_ledger
    recon = ledger.reconciliation
    assert recon.max_abs_difference == 0, recon.to_dict()
    for _section, company, customers, unattributed in recon.rows:
        assert company == customers + unattributed
    assert ledger.customers.num_rows > CUSTOMERS * 0.8
    company = ledger.company.statement()
    assert company["revenue"] > 0
    assert company["cogs"] > 0
    assert company["marketing_cost"] > 0
    print(f"reconciliation: max |company - customers - unattributed| = {recon.max_abs_difference}")


def test_company_money_equals_the_raw_events(
    retailer_ledger: tuple[Retailer, ValueLedger, dict[int, str]],
) -> None:
    retailer, ledger, _ = retailer_ledger
    sums: dict[str, Decimal] = defaultdict(Decimal)
    with (retailer.data / "events.ndjson").open("rb") as handle:
        for raw in handle:
            event = orjson.loads(raw)
            props = event.get("properties") or {}
            if event.get("event") == "Order Completed":
                for key in ("revenue", "discount", "shipping"):
                    sums[key] += Decimal(str(props.get(key) or 0))
            elif event.get("event") == "Order Refunded":
                sums["refunds"] += Decimal(str(props.get("total") or 0))
    company = ledger.company.statement()
    assert company["revenue"] == sums["revenue"]
    assert company["discounts"] == sums["discount"]
    assert company["shipping_charged"] == sums["shipping"]
    assert company["refunds"] == sums["refunds"]


TRUTH_COLUMNS = {
    "revenue": "revenue",
    "refunds": "refunds",
    "shipping_charged": "shipping_charged",
    "cogs": "cogs",
    "fulfilment_cost": "fulfilment_cost",
    "returns_cost": "returns_cost",
    "marketing_cost": "marketing_cost",
    "service_cost": "service_cost",
    "contribution": "profit",
}


def test_pnl_matches_the_generators_truth(
    retailer_ledger: tuple[Retailer, ValueLedger, dict[int, str]],
) -> None:
    retailer, ledger, unambiguous = retailer_ledger
    with (retailer.data / "truth" / "customers.csv").open(newline="") as handle:
        truth = {row["person_id"]: row for row in csv.DictReader(handle)}
    columns = {name: ledger.statement_column(name) for name, _, _ in STATEMENT}
    compared = 0
    for k, profile in enumerate(ledger.customers["profile_id"].to_pylist()):
        person = unambiguous.get(profile)
        if person is None:
            continue
        compared += 1
        for ours, theirs in TRUTH_COLUMNS.items():
            gap = abs(columns[ours][k] - Decimal(truth[person][theirs]))
            assert gap <= Decimal("0.005"), (profile, person, ours, columns[ours][k])
    assert compared >= 100, compared
