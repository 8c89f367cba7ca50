"""Determinism, the catalog, the CRM exports and the truth tables."""

from __future__ import annotations

import hashlib
import pickle
import re
from collections import Counter, defaultdict
from pathlib import Path

import orjson
import phonenumbers
import pytest

from clientcore.demo.generator import generate
from tests.demo.conftest import CUSTOMERS, SEED, Dataset

FILES = (
    "events.ndjson",
    "catalog.csv",
    "crm/crm_sales.csv",
    "crm/crm_callcenter.csv",
    "crm/crm_ecommerce.csv",
    "truth/identifiers.csv",
    "truth/shared_identifiers.csv",
    "truth/crm_records.csv",
    "truth/customers.csv",
    "truth/tastes.csv",
    "truth/params.json",
)


def digests(out: Path) -> dict[str, str]:
    return {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in FILES}


def test_same_seed_same_bytes_other_seed_other_data(dataset: Dataset, tmp_path: Path) -> None:
    again = generate(CUSTOMERS, SEED, tmp_path / "again")
    assert digests(dataset.out) == digests(again.out)
    other = generate(CUSTOMERS, SEED + 1, tmp_path / "other")
    changed = {k for k, v in digests(other.out).items() if v != digests(dataset.out)[k]}
    assert changed == set(FILES)


def test_worker_processes_do_not_change_the_output(dataset: Dataset, tmp_path: Path) -> None:
    pooled = generate(CUSTOMERS, SEED, tmp_path / "pooled", workers=2)
    assert digests(dataset.out) == digests(pooled.out)


def test_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="customers"):
        generate(0, 1, tmp_path)
    with pytest.raises(ValueError, match="seed"):
        generate(10, -1, tmp_path)


def test_summary_counts_what_was_written(dataset: Dataset) -> None:
    s = dataset.summary
    assert s.customers == CUSTOMERS == len(dataset.csv("truth/customers.csv"))
    assert s.products == len(dataset.csv("catalog.csv"))
    crm = sum(len(dataset.csv(f"crm/crm_{x}.csv")) for x in ("sales", "callcenter", "ecommerce"))
    assert s.crm_records == crm == len(dataset.csv("truth/crm_records.csv"))
    data = orjson.loads(orjson.dumps(s.to_dict()))
    assert data["out"] == str(dataset.out)
    assert data["seconds"] >= 0


def test_catalog_has_categories_brands_and_lemons(dataset: Dataset) -> None:
    rows = dataset.csv("catalog.csv")
    assert len(rows) == 200
    assert len({r["product_id"] for r in rows}) == len(rows)
    assert 12 <= len({r["category"] for r in rows}) <= 20
    assert len({r["brand"] for r in rows}) > 30
    for r in rows:
        assert 0 < float(r["unit_cost"]) < float(r["price"])
        assert re.match(r"^\d{4}-\d{2}-\d{2}$", r["launched_at"])
    assert {r["repeatable"] for r in rows} == {"true", "false"}
    assert {r["in_stock"] for r in rows} == {"true", "false"}
    lemons = [
        r for r in rows if float(r["return_rate"]) >= 0.3 and float(r["complaint_rate"]) > 0.1
    ]
    assert 1 <= len(lemons) <= 12


def test_crm_exports_differ_in_schema_and_format(dataset: Dataset) -> None:
    headers = {s: dataset.header(f"crm/crm_{s}.csv") for s in ("sales", "callcenter", "ecommerce")}
    assert len({tuple(h) for h in headers.values()}) == 3
    assert "full_name" in headers["sales"]
    assert {"given_name", "surname", "street_number", "suburb", "postcode"} <= set(
        headers["callcenter"]
    )
    assert {"first_name", "last_name", "zip"} <= set(headers["ecommerce"])
    formats = {
        ("sales", "birth_date"): r"^\d{2}/\d{2}/\d{4}$",
        ("sales", "customer_since"): r"^\d{2}/\d{2}/\d{4}$",
        ("callcenter", "dob"): r"^\d{2}\.\d{2}\.\d{4}$",
        ("callcenter", "last_contact"): r"^\d{2}\.\d{2}\.\d{4}$",
        ("ecommerce", "date_of_birth"): r"^\d{4}-\d{2}-\d{2}$",
    }
    for (source, column), pattern in formats.items():
        values = [r[column] for r in dataset.csv(f"crm/crm_{source}.csv")]
        assert any(values)
        assert all(re.match(pattern, v) for v in values if v), (source, column)
        if column in ("birth_date", "dob", "date_of_birth"):
            assert not all(values)  # some are missing


def test_crm_records_are_dirty_copies_of_the_same_people(dataset: Dataset) -> None:
    truth = dataset.csv("truth/crm_records.csv")
    people = {r["person_id"]: r for r in dataset.csv("truth/customers.csv")}
    assert len({r["record_id"] for r in truth}) == len(truth)
    per_person = Counter(r["person_id"] for r in truth)
    assert set(per_person) <= set(people)
    assert len(per_person) > 0.8 * CUSTOMERS
    assert 1.8 <= sum(per_person.values()) / len(per_person) <= 3.2
    sources: dict[str, Counter[str]] = defaultdict(Counter)
    for r in truth:
        sources[r["person_id"]][r["source"]] += 1
    assert any(len(s) == 1 for s in sources.values())
    assert any(len(s) == 3 for s in sources.values())
    assert any(max(s.values()) > 1 for s in sources.values())  # duplicates within a source

    owner = {r["record_id"]: people[r["person_id"]] for r in truth}
    ecommerce = dataset.csv("crm/crm_ecommerce.csv")
    first_differs = sum(r["first_name"] != owner[r["account_id"]]["first_name"] for r in ecommerce)
    assert 0.03 * len(ecommerce) < first_differs < 0.4 * len(ecommerce)
    name_in_email = sum(
        re.sub(r"[^a-z]", "", owner[r["account_id"]]["last_name"].lower()) in r["email"].lower()
        for r in ecommerce
    )
    assert name_in_email > 0.5 * len(ecommerce)
    sales = dataset.csv("crm/crm_sales.csv")
    assert any(r["full_name"].isupper() for r in sales)
    assert any(not r["email"] for r in sales)


def test_crm_phones_parse_in_their_many_formats(dataset: Dataset) -> None:
    shapes = set()
    for source, column in (
        ("sales", "phone"),
        ("callcenter", "phone_number"),
        ("ecommerce", "mobile"),
    ):
        for row in dataset.csv(f"crm/crm_{source}.csv"):
            raw = row[column]
            if not raw or raw == "0000000000":
                continue
            region = "GB" if raw.startswith("07") else "US"
            assert phonenumbers.is_valid_number(phonenumbers.parse(raw, region)), raw
            shapes.add(re.sub(r"\d", "9", raw))
    assert len(shapes) >= 5


def test_identifier_truth_is_canonical_and_unique(dataset: Dataset) -> None:
    rows = dataset.csv("truth/identifiers.csv")
    keys = [(r["type"], r["value"]) for r in rows]
    assert len(set(keys)) == len(keys)
    types = {r["type"] for r in rows}
    assert types == {
        "email", "phone", "anonymous_id", "user_id", "device_id", "loyalty_card",
        "pos_customer_id",
    }  # fmt: skip
    shared = {(r["type"], r["value"]) for r in dataset.csv("truth/shared_identifiers.csv")}
    assert not shared & set(keys)
    for kind, value in keys:
        if kind == "email":
            assert value == value.strip().lower()
            assert "@" in value
        elif kind == "phone":
            number = phonenumbers.parse(value)
            assert phonenumbers.is_valid_number(number), value
            assert value == phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        elif kind == "loyalty_card":
            assert luhn_ok(value)
    countries = Counter(v[:3] for t, v in keys if t == "phone")
    assert countries["+44"] > 0
    assert countries["+44"] < 0.2 * sum(countries.values())


def luhn_ok(number: str) -> bool:
    total = 0
    for k, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if k % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def test_customer_truth_matches_the_events(dataset: Dataset) -> None:
    customers = dataset.csv("truth/customers.csv")
    header = dataset.header("truth/customers.csv")
    for column in (
        "segment", "acquisition_channel", "acquisition_date", "purchase_rate_per_year",
        "dropout_prob", "dropout_at", "mean_order_value", "home_store", "preferred_channel",
        "alive_at_end", "bgnbd_x", "bgnbd_t_x_days", "bgnbd_T_days", "profit",
    ):  # fmt: skip
        assert column in header
    orders = [e for e in dataset.events if e.get("event") == "Order Completed"]
    revenue = sum(o["properties"]["revenue"] for o in orders)
    assert sum(float(c["revenue"]) for c in customers) == pytest.approx(revenue, abs=0.05)
    assert sum(int(c["n_orders"]) for c in customers) == len(orders)
    for c in customers:
        if c["bgnbd_x"]:
            extra = 1 if c["experiment_incremental_order"] == "true" else 0
            assert int(c["bgnbd_x"]) == int(c["n_orders"]) - 1 - extra
            assert 0 <= float(c["bgnbd_t_x_days"]) <= float(c["bgnbd_T_days"])
        if c["dropout_at"]:
            assert c["alive_at_end"] == "false"
    segments = Counter(c["segment"] for c in customers)
    assert len(segments) >= 5
    non_buyers = [c for c in customers if c["buyer"] == "false"]
    assert non_buyers
    assert all(int(c["n_orders"]) == 0 for c in non_buyers)


def test_profit_is_concentrated_and_some_customers_lose_money(dataset: Dataset) -> None:
    profit = sorted((float(c["profit"]) for c in dataset.csv("truth/customers.csv")), reverse=True)
    top = profit[: len(profit) // 5]
    assert sum(top) > 0.6 * sum(p for p in profit if p > 0)
    assert sum(p < 0 for p in profit) > 0.05 * len(profit)


def test_tastes_are_distributions(dataset: Dataset) -> None:
    totals: dict[str, float] = defaultdict(float)
    for row in dataset.csv("truth/tastes.csv"):
        totals[row["person_id"]] += float(row["weight"])
    assert len(totals) == CUSTOMERS
    assert all(t == pytest.approx(1.0, abs=1e-4) for t in totals.values())


def test_experiment_truth(dataset: Dataset) -> None:
    customers = dataset.csv("truth/customers.csv")
    variants = Counter(c["experiment_variant"] for c in customers)
    viewed = [e for e in dataset.events if e.get("event") == "Experiment Viewed"]
    assert len(viewed) == variants["control"] + variants["treatment"] > 20
    lifted = [c for c in customers if c["experiment_incremental_order"] == "true"]
    assert all(c["experiment_variant"] == "treatment" for c in lifted)
    coupons = [
        e
        for e in dataset.events
        if e.get("event") == "Order Completed" and e["properties"].get("coupon") == "WINBACK15"
    ]
    assert len(coupons) == len(lifted)


def test_params_describe_the_population(dataset: Dataset) -> None:
    params = orjson.loads((dataset.out / "truth/params.json").read_bytes())
    for key in ("r", "alpha", "a", "b", "gg_p", "gg_q", "gg_gamma", "start", "end"):
        assert key in params
    assert params["seed"] == SEED
    assert params["customers"] == CUSTOMERS
    assert params["experiment"]["true_incremental_order_prob"] > 0


def test_what_workers_receive_survives_pickling() -> None:
    """Spawned worker processes get the world, catalog and people by pickle."""
    import numpy as np

    from clientcore.demo.catalog import build_catalog
    from clientcore.demo.config import Params
    from clientcore.demo.contact import EmailRegistry
    from clientcore.demo.people import build_people
    from clientcore.demo.world import build_world

    params = Params()
    world = build_world(np.random.default_rng(1), 100, params)
    catalog = build_catalog(np.random.default_rng(2), 200, params)
    people = build_people(np.random.default_rng(3), 0, 50, world, params, EmailRegistry())
    for thing in (world, catalog, people):
        again = pickle.loads(pickle.dumps(thing))
        assert type(again) is type(thing)
    restored = pickle.loads(pickle.dumps(catalog))
    assert orjson.dumps(restored.props_json(7)) == orjson.dumps(catalog.props_json(7))
    assert restored.props(7) == catalog.props(7)


def test_one_generation_of_a_household_never_repeats_a_first_name() -> None:
    """Two brothers are never both William; a namesake son is, and so are strangers."""
    import numpy as np

    from clientcore.demo.config import DAY_MS
    from clientcore.demo.names import NICKNAMES, first_names
    from clientcore.demo.people import _one_name_per_generation

    year = int(365.25 * DAY_MS)
    first = ["William", "William", "William", "Anna", "Anna"]
    birth = np.array([0, year // 2, 30 * year, 0, 0])
    family = np.array([10, 10, 10, -1, -1])
    _one_name_per_generation(first, ["M", "M", "M", "F", "F"], birth, family)
    assert first[0] == first[2] == "William"
    assert first[1] != "William"
    assert first[1] in first_names("M").values
    assert first[1] in NICKNAMES  # the CRM's nickname draw stays in step
    assert first[3:] == ["Anna", "Anna"]
