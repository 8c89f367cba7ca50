"""Test support: empty a store's event log between hypothesis examples, on either backend."""

from __future__ import annotations

from clientcore.store import Store
from clientcore.store.migrations import EVENT_TABLES, KEY_TABLES


def empty_event_log(store: Store) -> None:
    """Delete every stored event (and, on DuckDB, every message key), and make the writing
    side forget what it knew about them."""
    if store.backend != "duckdb":
        store.execute("DELETE FROM events")
        return
    for table in (*EVENT_TABLES, *KEY_TABLES):
        store.execute(f"DELETE FROM {table}")
    state = store._state  # type: ignore[attr-defined]
    state.keys = None
    state.next_seq = None
