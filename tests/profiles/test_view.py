"""The single customer view on DuckDB and PostgreSQL: lookup by any identifier, survivorship
of traits, the summary's arithmetic, and a timeline whose pages never repeat or skip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clientcore.identity.spec import DEFAULT_SPEC
from clientcore.profiles import view as view_module
from clientcore.profiles.history import StoredEvent
from clientcore.profiles.summary import summarize
from clientcore.profiles.timeline import newest_first, page
from clientcore.profiles.traits import TraitObservation, survive
from clientcore.profiles.view import (
    UnknownProfileError,
    find_profile,
    profile_view,
    view_by_identifier,
)
from clientcore.store import Store
from tests.profiles.conftest import ADA, BOB, EVENTS, PLACEHOLDER, TRAP, Scenario

PRIORITY_CRM = DEFAULT_SPEC.model_copy(update={"source_priority": ["crm"]})
ADA_EVENTS = [e["body"]["messageId"] for e in EVENTS if e["body"]["messageId"].startswith("a")]


@pytest.mark.parametrize(
    "typed",
    [
        "ada@example.com",
        "  ADA@Example.COM ",
        "(415) 555-2671",
        "415.555.2671",
        "+1 415 555 2671",
        "u-ada",
        "anon-ada-1",
        "lc 123",
    ],
)
def test_find_profile_by_any_identifier(people: Store, typed: str) -> None:
    assert find_profile(people, typed) == ADA


def test_find_profile_unknown_or_quarantined(people: Store) -> None:
    assert find_profile(people, "bob@EXAMPLE.com") == BOB
    assert find_profile(people, PLACEHOLDER) is None  # quarantined: links nobody
    assert find_profile(people, "nobody@example.com") is None
    assert find_profile(people, "   ") is None


def test_identifiers_with_first_seen(people: Store, scenario: Scenario) -> None:
    view = profile_view(people, ADA)
    assert view.profile_id == ADA
    listed = [(e.type, e.value) for e in view.identifiers]
    assert sorted(listed) == sorted(
        [
            ("user_id", "u-ada"),
            ("email", "ada@example.com"),
            ("phone", "+14155552671"),
            ("anonymous_id", "anon-ada-1"),
            ("loyalty_card", "LC123"),
        ]
    )
    assert listed[0] == ("user_id", "u-ada")  # in the spec's order
    first = {e.type: e.first_seen for e in view.identifiers}
    assert first["anonymous_id"] == datetime(2024, 1, 1, 10, tzinfo=UTC)
    assert first["loyalty_card"] == datetime(2024, 1, 5, 10, tzinfo=UTC)


def test_traits_most_recent_non_empty_wins(people: Store) -> None:
    traits = profile_view(people, ADA).traits
    assert traits["city"].value == "Berlin"  # web, Jan 11, over the CRM's London of Jan 3
    assert traits["city"].source == "web"
    assert traits["city"].timestamp == datetime(2024, 1, 11, 10, tzinfo=UTC)
    assert traits["name"].value == "Ada Lovelace"  # the later "" says nothing
    assert traits["tier"].value == "gold"  # the later null says nothing


def test_traits_priority_source_beats_recent(people: Store, scenario: Scenario) -> None:
    traits = profile_view(people, ADA, spec=PRIORITY_CRM).traits
    assert traits["city"].value == "London"
    assert traits["city"].source == "crm"
    assert traits["city"].seq == scenario.seq("a03")
    assert traits["city"].timestamp == datetime(2024, 1, 3, 10, tzinfo=UTC)


def test_identifier_traits_are_canonical_and_never_quarantined(people: Store) -> None:
    traits = profile_view(people, ADA).traits
    # The placeholder typed at the till on Jan 5 is quarantined; the ticket's e-mail wins.
    assert traits["email"].value == "ada@example.com"
    assert traits["phone"].value == "+14155552671"
    assert traits["loyalty_card"].value == "LC123"
    assert profile_view(people, BOB).traits.get("email") is None


def test_summary(people: Store) -> None:
    summary = profile_view(people, ADA).summary
    assert summary.events == 12
    assert summary.first_seen == datetime(2024, 1, 1, 10, tzinfo=UTC)
    assert summary.last_seen == datetime(2024, 1, 12, 10, tzinfo=UTC)
    assert summary.orders == 3
    assert summary.revenue == pytest.approx(130.75)
    assert summary.returns == 2
    assert summary.refunds_total == pytest.approx(30.0)
    # Service Call, Support Ticket Opened, Address Changed on the phone (not the phone order)
    assert summary.service_contacts == 3
    assert summary.channels == {"web": 5, "store": 3, "call_center": 3, "other": 1}
    assert summary.stores == {"store_001": 3}


def test_timeline_newest_first_each_event_once(people: Store, scenario: Scenario) -> None:
    view = profile_view(people, ADA)
    seqs = [event.seq for event in view.timeline]
    assert sorted(seqs) == sorted(scenario.seq(m) for m in ADA_EVENTS)
    stamps = [event.timestamp for event in view.timeline]
    assert stamps == sorted(stamps, reverse=True)
    assert view.next_before is None
    newest = view.timeline[0]
    assert (newest.channel, newest.type, newest.event, newest.source) == (
        "call_center",
        "track",
        "Address Changed",
        "callcenter",
    )
    order = next(e for e in view.timeline if e.seq == scenario.seq("a04"))
    assert order.properties == {"order_id": "o-1", "revenue": 100.5}
    assert order.payload["context"]["store_id"] == "store_001"


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 7, 11, 12, 50])
def test_pages_cover_every_event_once(people: Store, scenario: Scenario, limit: int) -> None:
    seen: list[int] = []
    before = None
    for _ in range(20):
        view = profile_view(people, ADA, limit=limit, before=before)
        assert view.timeline, "a page with a cursor before it is never empty"
        assert len(view.timeline) <= limit + 1  # +1: the two events at 12:00 stay together
        if before is not None:
            assert all(event.timestamp < before for event in view.timeline)
        seen += [event.seq for event in view.timeline]
        if view.next_before is None:
            break
        before = view.next_before
    assert len(seen) == len(set(seen))
    assert sorted(seen) == sorted(scenario.seq(m) for m in ADA_EVENTS)


def test_before_is_strict_and_naive_means_utc(people: Store, scenario: Scenario) -> None:
    view = profile_view(people, ADA, before=datetime(2024, 1, 8, 12, 0))
    assert [e.seq for e in view.timeline][:2] == [scenario.seq("a07"), scenario.seq("a06")]
    assert profile_view(people, ADA, before=datetime(2023, 1, 1, tzinfo=UTC)).timeline == ()


def test_unknown_profile(people: Store) -> None:
    with pytest.raises(UnknownProfileError):
        profile_view(people, 999)
    with pytest.raises(UnknownProfileError):
        profile_view(people, TRAP)  # the quarantined identifier's own id is no profile


def test_view_by_identifier_looks_again_after_a_merge(
    people: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter([999, ADA])  # the first id was merged away before the view was read
    monkeypatch.setattr(view_module, "find_profile", lambda *_: next(answers))
    found = view_by_identifier(people, "u-ada")
    assert found is not None
    assert found.profile_id == ADA
    monkeypatch.undo()
    assert view_by_identifier(people, "nobody@example.com") is None


def test_to_dict_is_json_ready(people: Store) -> None:
    doc = profile_view(people, ADA, limit=2).to_dict()
    assert list(doc) == [
        "profile_id",
        "identifiers",
        "traits",
        "summary",
        "timeline",
        "next_before",
    ]
    assert doc["identifiers"][0] == {
        "type": "user_id",
        "value": "u-ada",
        "first_seen": "2024-01-02T10:00:00+00:00",
    }
    assert doc["traits"]["city"]["source"] == "web"
    assert doc["summary"]["revenue"] == 130.75
    assert doc["timeline"][0]["timestamp"] == "2024-01-12T10:00:00+00:00"
    assert doc["next_before"] == "2024-01-11T10:00:00+00:00"


# -- pure parts ----------------------------------------------------------------------------

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def _stored(seq: int, minutes: int) -> StoredEvent:
    return StoredEvent(seq, T0 + timedelta(minutes=minutes), "web", "track", "X", "web", {})


def test_page_keeps_same_instant_together() -> None:
    ordered = newest_first([_stored(1, 0), _stored(2, 5), _stored(3, 5), _stored(4, 5)])
    assert [e.seq for e in ordered] == [4, 3, 2, 1]
    shown, cursor = page(ordered, 1)
    assert [e.seq for e in shown] == [4, 3, 2]
    assert cursor == T0 + timedelta(minutes=5)
    rest, cursor = page(ordered, 1, cursor)
    assert [e.seq for e in rest] == [1]
    assert cursor is None
    with pytest.raises(ValueError, match="limit"):
        page(ordered, 0)


def test_summary_counts_track_events_only() -> None:
    def stored(kind: str, name: str, channel: str, **payload: object) -> StoredEvent:
        return StoredEvent(1, T0, "web", kind, name, channel, dict(payload))

    summary = summarize(
        [
            stored("page", "Order Completed", "web"),  # a page named like an order
            stored("track", "Order Completed", "web", properties={"revenue": "12.5"}),
            stored("track", "Order Completed", "web", properties={"revenue": "n/a"}),
            stored("track", "Order Refunded", "store", properties={"revenue": 4}),
            stored("identify", "", "call_center"),
        ]
    )
    assert (summary.orders, summary.revenue) == (2, 12.5)
    assert (summary.returns, summary.refunds_total) == (1, 4.0)
    assert summary.service_contacts == 1
    assert summary.first_seen == summary.last_seen == T0


def test_survive_rules() -> None:
    def seen(value: object, source: str, day: int, seq: int) -> TraitObservation:
        return TraitObservation("k", value, source, T0 + timedelta(days=day), seq)

    plain = [seen("old", "web", 1, 1), seen("new", "web", 2, 2), seen("  ", "web", 3, 3)]
    assert survive(plain)["k"].value == "new"
    trusted = [seen("crm", "crm", 1, 1), seen("pos", "pos", 5, 2), seen("web", "web", 9, 3)]
    assert survive(trusted, ["crm", "pos"])["k"].value == "crm"
    assert survive(trusted, ["pos"])["k"].value == "pos"
    assert survive([seen({}, "web", 1, 1), seen([], "web", 2, 2)]) == {}
