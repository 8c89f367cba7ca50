"""The storage contract: the same assertions on DuckDB and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clientcore.collect.ingest import commit, prepare
from clientcore.store import ImportCheckpoint, RejectedEvent, Store, StoreError, open_store
from tests.eventlog import empty_event_log

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def _events(ids: list[str], source: str = "web", bad: int = 0) -> list[bytes]:
    raws = [
        orjson.dumps({"type": "track", "event": "Product Viewed", "userId": "u", "messageId": m})
        for m in ids
    ]
    return raws + [orjson.dumps({"type": "track", "userId": "u"}) for _ in range(bad)]


def _stored(store: Store) -> list[tuple[str, str]]:
    return sorted(store.query("SELECT source, message_id FROM events"))


def test_migrations_are_versioned_and_idempotent(db_url: str) -> None:
    first = open_store(db_url)
    assert first.schema_version() >= 1
    assert first.migrate() == []
    first.close()
    again = open_store(db_url)
    assert again.migrate() == []
    again.close()


def test_a_message_id_is_stored_once_per_source(store: Store) -> None:
    commit(store, [prepare(_events(["a", "b", "a"]), "web", "test", NOW)])
    outcome = commit(store, [prepare(_events(["b", "c"]), "web", "test", NOW)])
    commit(store, [prepare(_events(["a"]), "app", "test", NOW)])
    assert outcome.inserted == 1
    assert outcome.duplicates == 1
    assert _stored(store) == [("app", "a"), ("web", "a"), ("web", "b"), ("web", "c")]


def test_events_keep_their_order_of_arrival(store: Store) -> None:
    commit(store, [prepare(_events(["z", "y"]), "web", "test", NOW)])
    commit(store, [prepare(_events(["x"]), "web", "test", NOW)])
    rows = store.query("SELECT message_id FROM events ORDER BY seq")
    assert [r[0] for r in rows] == ["z", "y", "x"]


def test_rejected_events_are_committed_with_the_good_ones(store: Store) -> None:
    outcome = commit(store, [prepare(_events(["a"], bad=2), "web", "http:/v1/batch", NOW)])
    assert (outcome.inserted, outcome.rejected) == (1, 2)
    rows = store.query("SELECT source, origin, position, field FROM rejected_events ORDER BY id")
    assert rows == [("web", "http:/v1/batch", 1, "event"), ("web", "http:/v1/batch", 2, "event")]


def test_a_failed_append_stores_nothing(store: Store) -> None:
    good = prepare(_events(["a", "b"], bad=1), "web", "test", NOW)
    broken = good.events.set_column(
        good.events.schema.get_field_index("type"),
        "type",
        pa.array([None] * good.events.num_rows, pa.string()),  # NOT NULL column: must fail
    )
    with pytest.raises(StoreError):
        store.append_events(broken, good.rejected)
    assert store.query("SELECT count(*) FROM events") == [(0,)]
    assert store.query("SELECT count(*) FROM rejected_events") == [(0,)]
    # The keys of the failed append were not recorded either: the retry stores everything.
    assert commit(store, [good]).inserted == 2


def test_checkpoint_is_committed_with_the_rows(store: Store) -> None:
    checkpoint = ImportCheckpoint("fp", "/data/x.ndjson", "ndjson", "import", rows_done=3)
    commit(store, [prepare(_events(["a", "b", "c"]), "import", "import:x", NOW)], checkpoint)
    assert store.import_checkpoint("fp") == checkpoint
    assert store.import_checkpoint("other") is None


def test_transactions_roll_back_together(store: Store) -> None:
    def abort_after_commit() -> None:
        with store.transaction():
            commit(store, [prepare(_events(["a"]), "web", "test", NOW)])
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        abort_after_commit()
    assert store.query("SELECT count(*) FROM events") == [(0,)]


def test_payload_keeps_unknown_fields(store: Store) -> None:
    event = {"type": "identify", "userId": "u", "traits": {"tier": "gold"}, "x": {"y": [1, 2]}}
    commit(store, [prepare([orjson.dumps(event)], "web", "test", NOW)])
    (payload,) = store.query("SELECT payload FROM events")[0]
    stored = payload if isinstance(payload, dict) else orjson.loads(payload)
    assert stored == event


def test_rejected_event_helper_types_round_trip(store: Store) -> None:
    rejected = [RejectedEvent("web", "import:f", 7, "timestamp", "bad", "{}")]
    store.append_events(prepare([], "web", "t", NOW).events, rejected)
    assert store.query("SELECT position, field FROM rejected_events") == [(7, "timestamp")]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ids=st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=20),
    cuts=st.lists(st.integers(0, 20), max_size=4),
    reverse=st.booleans(),
)
def test_batch_equals_incremental_in_any_order(
    duckdb_url: str, ids: list[str], cuts: list[int], reverse: bool
) -> None:
    """However the same events are split into requests, and in whatever order the requests
    arrive, the stored set is the same: every distinct message id exactly once."""
    store = open_store(duckdb_url)
    try:
        empty_event_log(store)
        bounds = sorted({0, len(ids), *(c for c in cuts if c < len(ids))})
        parts = [ids[a:b] for a, b in pairwise(bounds)]
        if reverse:
            parts.reverse()
        for part in parts:
            commit(store, [prepare(_events(part), "web", "test", NOW)])
        assert [m for _, m in _stored(store)] == sorted(set(ids))
    finally:
        store.close()
