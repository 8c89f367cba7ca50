"""The event stream: Segment shapes, identifiers that match the truth, time order, orders."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

import phonenumbers
import pytest

from tests.demo.conftest import Dataset

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
CHANNELS = {"web", "mobile", "store", "call_center", "email", "social", "marketplace", "other"}
ID_KEYS = ("email", "phone", "loyalty_card", "pos_customer_id")


def ms(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


def true_time(event: dict[str, Any]) -> int:
    """Segment's clock-skew correction: receivedAt - (sentAt - timestamp)."""
    if "sentAt" in event:
        return ms(event["receivedAt"]) - (ms(event["sentAt"]) - ms(event["timestamp"]))
    return ms(event["timestamp"])


def canonical_phone(raw: str) -> str:
    number = phonenumbers.parse(raw, "US")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def identifiers(event: dict[str, Any]) -> list[tuple[str, str]]:
    """(type, canonical value) of every identifier in the documented places."""
    found: list[tuple[str, str]] = []
    if "userId" in event:
        found.append(("user_id", event["userId"]))
    for key in ("anonymousId", "previousId"):
        if key in event:
            found.append(("anonymous_id", event[key]))
    context = event.get("context", {})
    if "device" in context:
        found.append(("device_id", context["device"]["id"]))
    for bag in (event.get("traits"), context.get("traits"), event.get("properties")):
        for key in ID_KEYS:
            if bag and key in bag:
                value = bag[key]
                if key == "email":
                    value = value.strip().lower()
                elif key == "phone":
                    value = canonical_phone(value)
                found.append((key, value))
    return found


@pytest.fixture(scope="module")
def owners(dataset: Dataset) -> list[str]:
    """The person behind each event, from the unique identifiers in the truth."""
    truth = {(r["type"], r["value"]): r["person_id"] for r in dataset.csv("truth/identifiers.csv")}
    shared = {(r["type"], r["value"]) for r in dataset.csv("truth/shared_identifiers.csv")}
    result = []
    for event in dataset.events:
        people = set()
        for key in identifiers(event):
            if key in shared:
                continue
            assert key in truth, f"{key} of {event['messageId']} is not in the truth"
            people.add(truth[key])
        assert len(people) == 1, f"{event['messageId']} mixes people {people}"
        result.append(people.pop())
    return result


def test_every_line_is_a_segment_call(dataset: Dataset) -> None:
    assert len(dataset.events) == dataset.summary.events > 40 * dataset.summary.customers
    ids = set()
    for event in dataset.events:
        assert event["type"] in {"track", "identify", "page", "screen", "alias"}
        assert UUID.match(event["messageId"])
        ids.add(event["messageId"])
        assert ISO.match(event["timestamp"])
        assert event.get("userId") or event.get("anonymousId")
        context = event["context"]
        assert context["channel"] in CHANNELS
        if context["channel"] == "store":
            assert context["store_id"].startswith("store_")
        if context["channel"] == "call_center":
            assert context["agent_id"].startswith("agt_")
        if context["channel"] == "mobile":
            assert context["device"]["id"]
            assert ISO.match(event["sentAt"])
            assert ISO.match(event["receivedAt"])
        if event["type"] == "track":
            assert event["event"]
            assert isinstance(event["properties"], dict)
        elif event["type"] == "identify":
            assert event["traits"]
        elif event["type"] == "alias":
            assert event["userId"]
            assert event["previousId"]
        else:
            assert event["name"]
    assert len(ids) == len(dataset.events)


def test_all_journeys_are_present(dataset: Dataset) -> None:
    names = Counter(e.get("event") or e["type"] for e in dataset.events)
    expected = {
        "page", "screen", "identify", "alias", "Product Viewed", "Product List Viewed",
        "Products Searched", "Product Added", "Checkout Started", "Order Completed",
        "Service Call", "Email Sent", "Email Opened", "Email Clicked", "Direct Mail Sent",
        "Ad Clicked", "Social Message", "Unsubscribed", "Support Ticket Opened",
        "Product Returned", "Order Refunded", "Experiment Viewed",
    }  # fmt: skip
    assert expected <= set(names)
    assert names == Counter(dataset.summary.event_counts)
    channels = Counter(e["context"]["channel"] for e in dataset.events)
    assert set(channels) == CHANNELS
    orders = [e for e in dataset.events if e.get("event") == "Order Completed"]
    order_channels = Counter(e["context"]["channel"] for e in orders)
    assert {"web", "mobile", "store", "call_center", "marketplace"} <= set(order_channels)


def test_each_event_belongs_to_exactly_one_person(dataset: Dataset, owners: list[str]) -> None:
    assert len(set(owners)) > 0.8 * dataset.summary.customers


def test_events_are_in_true_time_order_per_person(dataset: Dataset, owners: list[str]) -> None:
    last: dict[str, int] = {}
    start, end = ms("2024-01-01T00:00:00.000Z"), ms("2026-01-01T00:00:00.000Z")
    for event, person in zip(dataset.events, owners, strict=True):
        t = true_time(event)
        assert start <= t < end
        assert t >= last.get(person, start), event["messageId"]
        last[person] = t


def test_some_app_clocks_are_skewed_and_correctable(dataset: Dataset) -> None:
    app = [e for e in dataset.events if "sentAt" in e]
    assert all(e["context"]["channel"] == "mobile" for e in app)
    skews = [ms(e["sentAt"]) - ms(e["receivedAt"]) for e in app]
    skewed = [s for s in skews if abs(s) > 60_000]
    assert 0 < len(skewed) < 0.5 * len(app)
    assert max(abs(s) for s in skewed) < 7 * 3_600_000


def test_phones_in_events_are_valid_or_the_known_placeholder(dataset: Dataset) -> None:
    formats = set()
    for event in dataset.events:
        for bag in (event.get("traits"), event["context"].get("traits")):
            if bag and "phone" in bag:
                raw = bag["phone"]
                if raw == "0000000000":
                    continue
                assert phonenumbers.is_valid_number(phonenumbers.parse(raw, "US")), raw
                formats.add(re.sub(r"\d", "9", raw))
    assert {"+9 999-999-9999", "(999) 999-9999", "9999999999", "+99999999999"} <= formats


def test_emails_are_typed_in_varied_case_and_spacing(dataset: Dataset) -> None:
    emails = [
        bag["email"]
        for e in dataset.events
        for bag in (e.get("traits"), e["context"].get("traits"))
        if bag and "email" in bag
    ]
    assert any(e != e.strip() for e in emails)
    assert any(e != e.lower() for e in emails)
    assert sum(e == e.strip().lower() for e in emails) > 0.6 * len(emails)


def test_identity_calls_link_anonymous_and_known(dataset: Dataset, owners: list[str]) -> None:
    aliases = [e for e in dataset.events if e["type"] == "alias"]
    assert aliases
    identifies = [e for e in dataset.events if e["type"] == "identify"]
    assert any("userId" in e and "anonymousId" in e for e in identifies)
    assert any("userId" not in e and "email" in e["traits"] for e in identifies)  # guests
    anonymous_then_known = set()
    seen_anonymous: dict[str, bool] = {}
    for event, person in zip(dataset.events, owners, strict=True):
        if event["context"]["channel"] != "web":
            continue
        anon = event.get("anonymousId")
        if anon and "userId" not in event:
            seen_anonymous[anon] = True
        elif anon and seen_anonymous.get(anon):
            anonymous_then_known.add(person)
    assert len(anonymous_then_known) > 10


def test_traps_are_shared_by_several_people(dataset: Dataset, owners: list[str]) -> None:
    shared = dataset.csv("truth/shared_identifiers.csv")
    kinds = {r["kind"] for r in shared}
    assert kinds == {"family_email", "placeholder_email", "placeholder_phone", "shared_device"}
    people_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    for event, person in zip(dataset.events, owners, strict=True):
        for key in identifiers(event):
            people_of[key].add(person)
    for row in shared:
        key = (row["type"], row["value"])
        if row["kind"] != "family_email":
            assert len(people_of[key]) >= 1, row
        assert int(row["n_people"]) >= len(people_of[key])
    by_kind = defaultdict(list)
    for row in shared:
        by_kind[row["kind"]].append(len(people_of[(row["type"], row["value"])]))
    assert max(by_kind["placeholder_email"]) >= 3
    assert max(by_kind["shared_device"]) >= 3
    assert max(by_kind["placeholder_phone"]) >= 2
    assert max(by_kind["family_email"]) >= 2
    assert ("phone", "+10000000000") in people_of


def test_order_money_adds_up(dataset: Dataset) -> None:
    catalog = {r["product_id"]: r for r in dataset.csv("catalog.csv")}
    orders = [e["properties"] for e in dataset.events if e.get("event") == "Order Completed"]
    assert len(orders) == dataset.summary.orders
    assert len({o["order_id"] for o in orders}) == len(orders)
    for order in orders:
        subtotal = sum(p["price"] * p["quantity"] for p in order["products"])
        assert order["revenue"] == pytest.approx(subtotal - order["discount"], abs=0.006)
        assert order["tax"] == pytest.approx(order["revenue"] * 0.07, abs=0.011)
        assert order["currency"] == "USD"
        assert order["shipping"] >= 0
        for item in order["products"]:
            product = catalog[item["product_id"]]
            assert item["price"] == float(product["price"])
            assert (item["sku"], item["category"], item["brand"], item["name"]) == (
                product["sku"],
                product["category"],
                product["brand"],
                product["name"],
            )
            assert item["quantity"] >= 1
    assert any(o["discount"] > 0 for o in orders)


def test_checkout_returns_and_refunds_match_their_order(dataset: Dataset) -> None:
    orders = {
        e["properties"]["order_id"]: e["properties"]
        for e in dataset.events
        if e.get("event") == "Order Completed"
    }
    checkouts = [e["properties"] for e in dataset.events if e.get("event") == "Checkout Started"]
    assert checkouts
    for checkout in checkouts:
        assert checkout["revenue"] == orders[checkout["order_id"]]["revenue"]
    returned: dict[str, float] = defaultdict(float)
    for event in dataset.events:
        props = event.get("properties", {})
        if event.get("event") == "Product Returned":
            lines = {p["product_id"]: p for p in orders[props["order_id"]]["products"]}
            line = lines[props["product_id"]]
            assert props["quantity"] <= line["quantity"]
            assert props["price"] == line["price"]
            returned[props["order_id"]] += props["price"] * props["quantity"]
        elif event.get("event") == "Order Refunded":
            order = orders[props["order_id"]]
            assert 0 < props["total"] <= order["revenue"] + 0.01
    assert returned


def test_views_precede_purchases(dataset: Dataset, owners: list[str]) -> None:
    viewed: dict[str, dict[str, int]] = defaultdict(dict)
    online_orders = 0
    for event, person in zip(dataset.events, owners, strict=True):
        name = event.get("event")
        if name == "Product Viewed":
            viewed[person].setdefault(event["properties"]["product_id"], true_time(event))
        elif name == "Order Completed" and event["context"]["channel"] in ("web", "mobile"):
            online_orders += 1
            t = true_time(event)
            for item in event["properties"]["products"]:
                assert viewed[person].get(item["product_id"], t + 1) <= t
    assert online_orders > 50


def test_tastes_drive_views_and_purchases(dataset: Dataset, owners: list[str]) -> None:
    tastes: dict[str, set[str]] = defaultdict(set)
    for row in dataset.csv("truth/tastes.csv"):
        tastes[row["person_id"]].add(row["category"])
    views = hits = 0
    for event, person in zip(dataset.events, owners, strict=True):
        name = event.get("event")
        if name == "Product Viewed":
            views += 1
            hits += event["properties"]["category"] in tastes[person]
        elif name == "Order Completed":
            for item in event["properties"]["products"]:
                assert item["category"] in tastes[person]
    assert hits / views > 0.98


def test_typed_contact_details_come_with_the_persons_own_name(
    dataset: Dataset, owners: list[str]
) -> None:
    """A guest checkout, a till, an agent, a ticket form: who types an e-mail or a phone
    types their name too (a placeholder at the till included), and it is their own."""
    people = {r["person_id"]: r for r in dataset.csv("truth/customers.csv")}
    named: Counter[str] = Counter()
    for event, person in zip(dataset.events, owners, strict=True):
        for bag in (event.get("traits"), event["context"].get("traits")):
            if not bag:
                continue
            if "first_name" in bag:
                assert bag["first_name"] == people[person]["first_name"]
                assert bag["last_name"] == people[person]["last_name"]
                named[event["context"]["channel"]] += 1
            elif event["type"] == "track" and event["context"]["channel"] in (
                "store",
                "call_center",
            ):
                assert not {"email", "phone"} & set(bag), event["messageId"]
    assert {"web", "store", "call_center"} <= set(named)
