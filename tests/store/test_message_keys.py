"""Message keys hashed in Python must equal the engine's, or deduplication breaks across the
request path (Python) and the import path (DuckDB) of the same log."""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from clientcore.collect.ingest import commit, prepare
from clientcore.store import duckdb_store, open_store
from clientcore.store.duckdb_store import DuckDBStore

_text = st.text(min_size=1, max_size=12)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["web", "pos", "çrm"]), _text), max_size=60))
def test_python_and_engine_hashing_agree(tmp_path_factory, pairs: list[tuple[str, str]]) -> None:
    store = DuckDBStore(str(tmp_path_factory.mktemp("keys") / "k.duckdb"))
    try:
        table = pa.table(
            {
                "source": pa.array([s for s, _ in pairs], pa.string()),
                "message_id": pa.array([m for _, m in pairs], pa.string()),
            }
        )
        in_python = store._message_keys(table)
        threshold = duckdb_store.ENGINE_HASHING_FROM
        duckdb_store.ENGINE_HASHING_FROM = -1
        try:
            in_engine = store._message_keys(table)
        finally:
            duckdb_store.ENGINE_HASHING_FROM = threshold
    finally:
        store.close()
    for mine, theirs in zip(in_python, in_engine, strict=True):
        assert mine.tolist() == theirs.tolist()
    assert len(in_python[0]) == len(set(pairs))


def test_a_retry_after_an_import_is_a_duplicate(tmp_path: Path, monkeypatch) -> None:
    """Events imported in a large chunk (engine hashing), then retried one by one over HTTP
    (Python hashing), are stored once."""
    raws = [
        orjson.dumps({"type": "track", "event": "Viewed", "userId": f"u{i}", "messageId": f"m{i}"})
        for i in range(30)
    ]
    store = open_store(str(tmp_path / "k.duckdb"))
    try:
        monkeypatch.setattr(duckdb_store, "ENGINE_HASHING_FROM", 10)
        imported = commit(store, [prepare(raws, "web", "import")])
        monkeypatch.setattr(duckdb_store, "ENGINE_HASHING_FROM", 100)
        retried = commit(store, [prepare(raws[:5], "web", "http")])
        total = store.query("SELECT count(*) FROM events")[0][0]
    finally:
        store.close()
    assert (imported.inserted, retried.inserted, retried.duplicates, total) == (30, 0, 5, 30)
