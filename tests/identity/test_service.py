"""Identity against the store: incremental sync and batch rebuild write the same tables."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clientcore.collect.ingest import commit, prepare
from clientcore.identity.manage import quarantined as quarantined_rows
from clientcore.identity.service import RulesChangedError, built_under, rebuild, rules_changed
from clientcore.identity.spec import DEFAULT_SPEC
from clientcore.identity.sync import IdentityService, stitch
from clientcore.store import Store, open_store
from tests.eventlog import empty_event_log

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def _ev(n: int, **fields: Any) -> bytes:
    event = {"type": "track", "event": "Product Viewed", "messageId": f"m{n}", **fields}
    event["timestamp"] = f"2025-01-01T00:{n // 60:02d}:{n % 60:02d}Z"
    return orjson.dumps(event)


def scenario() -> list[bytes]:
    """Anna browses, logs in, buys in store; a till types a placeholder email for three
    shoppers; a family shares one email; a store tablet serves two logins. First names come
    with typed details: the Smiths' email is typed by Eve (twice, spelled two ways) and by
    Ben; the Jones' only by Carl, but Dina, who signed up with her name, logs in with it."""
    placeholder = {"email": "noemail@shop.example"}
    return [
        _ev(1, anonymousId="cookie-anna"),
        _ev(
            2,
            type="identify",
            anonymousId="cookie-anna",
            userId="anna",
            traits={"email": " Anna.K@Example.com ", "phone": "(415) 555-2671"},
        ),
        _ev(3, userId="anna", context={"device": {"id": "iphone-anna"}}),
        _ev(
            4,
            anonymousId="pos-1",
            event="Order Completed",
            properties={"loyalty_card": "lc 100", "phone": "+1 415 555 2671"},
        ),
        _ev(5, anonymousId="pos-2", properties={"loyalty_card": "LC200", **placeholder}),
        _ev(6, anonymousId="pos-3", properties={"loyalty_card": "LC300", **placeholder}),
        _ev(7, anonymousId="pos-4", properties={"loyalty_card": "LC400", **placeholder}),
        _ev(8, anonymousId="pos-5", properties={"loyalty_card": "LC500", **placeholder}),
        _ev(9, type="identify", userId="dad", traits={"email": "family@home.example"}),
        _ev(10, type="identify", userId="kid", traits={"email": "family@home.example"}),
        _ev(11, userId="clerk-a", context={"device": {"id": "tablet-1"}}),
        _ev(12, userId="clerk-b", context={"device": {"id": "tablet-1"}}),
        _ev(13, type="alias", previousId="cookie-anna-2", userId="anna"),
        _ev(14, type="identify", userId="bob", traits={"phone": "0000000000"}),
        _ev(
            15,
            type="identify",
            anonymousId="cookie-eve",
            traits={"email": "smiths@home.example", "first_name": "Eve"},
        ),
        _ev(
            16,
            anonymousId="pos-6",
            context={"traits": {"email": "smiths@home.example", "firstName": " ÉVE "}},
        ),
        _ev(
            17,
            anonymousId="pos-7",
            context={"traits": {"email": "Smiths@home.example", "first_name": "Ben"}},
        ),
        _ev(
            18,
            type="identify",
            anonymousId="cookie-carl",
            traits={"email": "jones@home.example", "first_name": "Carl"},
        ),
        _ev(19, type="identify", userId="dina", traits={"first_name": "Dina"}),
        _ev(20, type="identify", userId="dina", traits={"email": "jones@home.example"}),
    ]


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "identifiers": store.query(
            "SELECT id, type, value, profile_id, first_seq, quarantined "
            "FROM identifiers ORDER BY id"
        ),
        "event_identifiers": store.query(
            "SELECT seq, identifier_id FROM event_identifiers ORDER BY seq, identifier_id"
        ),
        "links": store.query("SELECT a, b, first_seq FROM identity_links ORDER BY a, b"),
        "merges": store.query(
            "SELECT seq, identifier_id, linked_identifier_id FROM identity_merges ORDER BY 1, 2, 3"
        ),
        "quarantine": store.query(
            "SELECT identifier_id, linked_type, since_seq FROM identity_quarantine ORDER BY 1"
        ),
    }


def _profile_of(store: Store, kind: str, value: str) -> int | None:
    rows = store.query(
        "SELECT profile_id FROM identifiers WHERE type = ? AND value = ?", [kind, value]
    )
    return rows[0][0] if rows else None


def test_stitching_the_scenario(store: Store) -> None:
    commit(store, [prepare(scenario(), "web", "test", NOW)])
    IdentityService(store, DEFAULT_SPEC).sync()
    anna = _profile_of(store, "user_id", "anna")
    assert anna is not None
    for kind, value in [
        ("anonymous_id", "cookie-anna"),
        ("email", "anna.k@example.com"),
        ("phone", "+14155552671"),
        ("device_id", "iphone-anna"),
        ("loyalty_card", "LC100"),
        ("anonymous_id", "cookie-anna-2"),
    ]:
        assert _profile_of(store, kind, value) == anna, (kind, value)
    # The traps are quarantined and join nobody.
    quarantined = dict(
        store.query(
            "SELECT i.value, q.linked_type FROM identity_quarantine q "
            "JOIN identifiers i ON i.id = q.identifier_id"
        )
    )
    assert quarantined == {
        "noemail@shop.example": "loyalty_card",
        "family@home.example": "user_id",
        "tablet-1": "user_id",
        "smiths@home.example": "first_name",  # typed by Eve and by Ben
        "jones@home.example": "profile_limit",  # Carl's, and Dina's login: two names
    }
    cards = {_profile_of(store, "loyalty_card", f"LC{n}00") for n in (2, 3, 4, 5)}
    assert len(cards) == 4
    assert _profile_of(store, "user_id", "dad") != _profile_of(store, "user_id", "kid")
    # "0000000000" is not a phone number: it is not an identifier at all.
    assert store.query("SELECT count(*) FROM identifiers WHERE type = 'phone'") == [(1,)]
    # Eve's two spellings are one name; no name links anyone or finds an event.
    names = store.query(
        "SELECT value, profile_id, quarantined FROM identifiers WHERE type = 'first_name' "
        "ORDER BY value"
    )
    assert names == [(n, None, True) for n in ("ben", "carl", "dina", "eve")]
    assert store.query(
        "SELECT count(*) FROM event_identifiers e JOIN identifiers i ON i.id = e.identifier_id "
        "WHERE i.type = 'first_name'"
    ) == [(0,)]
    assert _profile_of(store, "anonymous_id", "cookie-eve") != _profile_of(
        store, "anonymous_id", "pos-7"
    )
    assert _profile_of(store, "anonymous_id", "cookie-carl") != _profile_of(
        store, "user_id", "dina"
    )
    listed = {row["value"]: row for row in quarantined_rows(store)}
    assert listed["smiths@home.example"]["reason"] == "linked to 2 first_name values"
    assert all(row["type"] != "first_name" for row in listed.values())


def test_incremental_in_commits_equals_rebuild(store: Store) -> None:
    events = scenario()
    service = IdentityService(store, DEFAULT_SPEC)
    for lo in range(0, len(events), 3):
        commit(store, [prepare(events[lo : lo + 3], "web", "test", NOW)])
        service.sync()
    incremental = snapshot(store)
    rebuild(store, DEFAULT_SPEC)
    assert snapshot(store) == incremental
    # A fresh service (as a new CLI process would load) continues from the stored state.
    commit(store, [prepare([_ev(99, userId="anna", anonymousId="cookie-new")], "web", "t", NOW)])
    IdentityService(store, DEFAULT_SPEC).sync()
    assert _profile_of(store, "anonymous_id", "cookie-new") == _profile_of(store, "user_id", "anna")


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000), chunk=st.integers(2, 6))
def test_batch_equals_incremental_whatever_the_arrival_order(
    duckdb_url: str, seed: int, chunk: int
) -> None:
    events = scenario()
    random.Random(seed).shuffle(events)
    store = open_store(duckdb_url)
    try:
        empty_event_log(store)
        for table in (
            "identifiers",
            "event_identifiers",
            "identity_links",
            "identity_merges",
            "identity_quarantine",
            "identity_state",
        ):
            store.execute(f"DELETE FROM {table}")
        service = IdentityService(store, DEFAULT_SPEC)
        for lo in range(0, len(events), chunk):
            commit(store, [prepare(events[lo : lo + chunk], "web", "test", NOW)])
            service.sync()
        incremental = snapshot(store)
        rebuild(store, DEFAULT_SPEC)
        assert snapshot(store) == incremental
        # Whatever the order, the traps end quarantined and Anna whole.
        assert len(incremental["quarantine"]) == 5
    finally:
        store.close()


def test_changed_rules_refuse_the_incremental_path_until_a_rebuild(store: Store) -> None:
    """A graph built under one set of limits, extended under another, would be neither: the
    service refuses, `stitch` rebuilds, and the store remembers the rules it was built under."""
    looser = DEFAULT_SPEC.model_copy(
        update={
            "identifiers": [
                rule.model_copy(update={"max_per_profile": 50}) if rule.type == "email" else rule
                for rule in DEFAULT_SPEC.identifiers
            ]
        }
    )
    assert looser.fingerprint() != DEFAULT_SPEC.fingerprint()
    priority = DEFAULT_SPEC.model_copy(update={"source_priority": ["crm", "web"]})
    assert priority.fingerprint() == DEFAULT_SPEC.fingerprint()  # read-time only

    commit(store, [prepare(scenario(), "web", "test", NOW)])
    IdentityService(store, DEFAULT_SPEC).sync()
    assert built_under(store) == DEFAULT_SPEC.fingerprint()
    assert not rules_changed(store, priority)
    with pytest.raises(RulesChangedError, match="identity rebuild"):
        IdentityService(store, looser)

    stitch(store, looser)  # the import path: a rebuild under the new rules
    assert built_under(store) == looser.fingerprint()
    IdentityService(store, looser).sync()  # now consistent
    with pytest.raises(RulesChangedError):
        IdentityService(store, DEFAULT_SPEC)


def test_a_graph_from_before_fingerprints_adopts_the_rules(store: Store) -> None:
    commit(store, [prepare(scenario(), "web", "test", NOW)])
    IdentityService(store, DEFAULT_SPEC).sync()
    store.execute("DELETE FROM identity_state WHERE name = 'identity_rules'")
    assert built_under(store) is None
    IdentityService(store, DEFAULT_SPEC).sync()
    assert built_under(store) == DEFAULT_SPEC.fingerprint()


def test_serve_refuses_to_stitch_under_changed_rules(
    duckdb_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from clientcore.cli import app

    store = open_store(duckdb_url)
    commit(store, [prepare(scenario(), "web", "test", NOW)])
    rebuild(store, DEFAULT_SPEC)
    store.close()
    rules = tmp_path / "identity.yaml"
    rules.write_text(
        "identifiers:\n  - {type: user_id, columns: [user_id], max_per_profile: 1}\n"
        "  - {type: anonymous_id, columns: [anonymous_id, previous_id]}\n"
    )
    monkeypatch.setenv("CLIENTCORE_IDENTITY", str(rules))
    refused = CliRunner().invoke(app, ["serve", "--db", duckdb_url])
    assert refused.exit_code == 2
    assert "identity rules changed" in refused.stderr
    synced = CliRunner().invoke(app, ["identity", "sync", "--db", duckdb_url])
    assert (synced.exit_code, "identity rebuild" in synced.stderr) == (2, True)
    shown = CliRunner().invoke(app, ["identity", "rules", "--db", duckdb_url, "--json"])
    assert json.loads(shown.stdout)["profiles_built_under_these_rules"] is False


def test_an_empty_graph_takes_the_rules_in_effect(store: Store) -> None:
    """A server started once on an empty store, then under new rules, builds under those."""
    other = DEFAULT_SPEC.model_copy(update={"default_region": "GB"})
    IdentityService(store, DEFAULT_SPEC)  # nothing stored yet
    assert built_under(store) == DEFAULT_SPEC.fingerprint()
    service = IdentityService(store, other)
    commit(store, [prepare(scenario(), "web", "test", NOW)])
    service.sync()
    assert built_under(store) == other.fingerprint()
    IdentityService(store, other)  # and a restart under them is accepted
