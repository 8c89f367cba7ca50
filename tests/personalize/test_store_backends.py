"""The store seam on both backends: the same interactions, product facts and live visit from
DuckDB and PostgreSQL (the SQL differs in its JSON fragments only)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import numpy as np

from clientcore.collect.ingest import commit, prepare
from clientcore.identity.spec import load_spec
from clientcore.identity.sync import IdentityService, stitch
from clientcore.personalize.catalog import build_catalog
from clientcore.personalize.data import event_products, read_interactions
from clientcore.personalize.live import context_of, read_context
from clientcore.personalize.model import Recommender
from clientcore.personalize.tail import LogTail
from clientcore.store import Store
from tests.personalize.conftest import Retailer

EVENTS = 4000  # the first lines of the retailer's log: enough of every product event


def _fill(store: Store, retailer: Retailer) -> None:
    with (retailer.data / "events.ndjson").open("rb") as handle:
        raws: list[bytes | None] = [line for line in itertools.islice(handle, EVENTS)]
    commit(store, [prepare(raws, "demo", "test", trust_payload_received_at=True)])
    stitch(store, load_spec(), None)


def _signature(store: Store) -> tuple:  # type: ignore[type-arg]
    products = event_products(store)
    catalog = build_catalog({}, products)
    data = read_interactions(store, catalog)
    order = np.lexsort((data.item, data.seq))
    rows = sorted(
        zip(
            data.seq[order].tolist(),
            data.kind[order].tolist(),
            data.channel[order].tolist(),
            data.qty[order].tolist(),
            catalog.product_id[data.item[order]].tolist(),
            data.anon_ids[data.anon[order]].tolist(),
            np.round(data.t[order], 3).tolist(),
            strict=True,
        )
    )
    facts = sorted((k, v.category, v.brand, v.price) for k, v in products.items())
    return rows, facts, len(data.known_profiles)


def test_both_backends_read_the_same(store: Store, retailer: Retailer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from clientcore.store import open_store

    _fill(store, retailer)
    reference = open_store(str(tmp_path / "reference.duckdb"))
    try:
        _fill(reference, retailer)
        assert _signature(store) == _signature(reference)
    finally:
        reference.close()


def test_live_visit_on_each_backend(store: Store, retailer: Retailer) -> None:
    _fill(store, retailer)
    model = Recommender.load(retailer.models)
    anon, last = store.query(
        "SELECT anonymous_id, max(timestamp) FROM events WHERE event = 'Product Viewed' "
        "GROUP BY anonymous_id ORDER BY count(*) DESC, anonymous_id LIMIT 1"
    )[0]
    now = last.astimezone(UTC).timestamp() + 60
    live = read_context(store, model, None, str(anon), now, None)
    assert live.session_events >= 1
    assert live.context.session.sum() == live.session_events
    assert live.profile_id is not None  # stitched: the visitor's profile comes along
    later = read_context(store, model, None, str(anon), now + 3 * 3600, None)
    assert later.session_events == 0  # the visit closed after 30 minutes without events
    assert isinstance(datetime.fromtimestamp(now, UTC), datetime)


def test_the_log_tail_reads_what_the_store_does_on_each_backend(
    store: Store, retailer: Retailer
) -> None:
    """Following the log (its SQL differs by backend) and resolving people in the identity
    graph give the contexts the store lookups give."""
    _fill(store, retailer)
    model = Recommender.load(retailer.models)
    identity = IdentityService(store.reader(), load_spec())
    last = store.query("SELECT max(timestamp) FROM events")[0][0]
    now = last.astimezone(UTC).timestamp() + 60
    tail = LogTail(store.reader(), 0, lambda: identity, clock=lambda: now)
    try:
        assert tail.covers(now, model.watermark)
        people = store.query(
            """SELECT e.anonymous_id, max(e.user_id) FROM events e
               WHERE e.anonymous_id IS NOT NULL GROUP BY 1 ORDER BY max(e.seq) DESC LIMIT 25"""
        )
        assert people
        for anon, user in people:
            for profile, session in ((user, anon), (None, anon), (user, None)):
                if profile is None and session is None:
                    continue
                memory = context_of(tail, model, profile, session, now, None)
                stored = read_context(store, model, profile, session, now, None)
                assert memory.profile_id == stored.profile_id
                assert memory.session_events == stored.session_events
                assert memory.new_events == stored.new_events
                np.testing.assert_array_equal(memory.context.items, stored.context.items)
                np.testing.assert_array_equal(memory.context.times, stored.context.times)
        # Dropping what no request can need keeps serving the log's last hours (a log in the
        # past, as here, is not overtaken by the clock), and every index consistent.
        held = len(tail.events)
        tail._prune(model.watermark)
        assert tail.covers(now, model.watermark)
        assert len(tail.events) <= held
        for index in (tail.by_anonymous, tail.by_user, tail.by_identifier):
            assert all(seq in tail.events for seqs in index.values() for seq in seqs)
        anon = people[0][0]
        again = context_of(tail, model, None, anon, now, None)
        assert (
            again.session_events == read_context(store, model, None, anon, now, None).session_events
        )
    finally:
        tail.store.close()
        identity.store.close()
