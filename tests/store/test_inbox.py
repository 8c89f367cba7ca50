"""DuckDB's inboxes: while a server appends into one, a thread moves the other into the indexed
log. Whatever the timing, every committed event is readable exactly once, and a retry of any of
them — before a move, after it, after a restart or a crash between moves — is a duplicate."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import orjson
import pytest

from clientcore.collect.ingest import commit, prepare
from clientcore.store import duckdb_store, migrations, open_store
from clientcore.store.base import StoreError
from clientcore.store.duckdb_store import DuckDBStore

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def _batch(lo: int, hi: int) -> list[bytes]:
    return [
        orjson.dumps(
            {"type": "track", "event": "Viewed", "userId": f"u{i % 7}", "messageId": f"m{i}"}
        )
        for i in range(lo, hi)
    ]


INBOX_0, INBOX_1 = migrations.INBOX_EVENT_TABLES


def _mover_caught_up(store: DuckDBStore) -> None:
    """Wait until the mover has emptied the inbox the writer left (at most 10 s)."""
    state = store._state
    deadline = time.monotonic() + 10
    while state.inbox_rows[1 - state.inbox] and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.002)


def _counts(store: DuckDBStore, table: str) -> int:
    return int(store.query(f"SELECT count(*) FROM {table}")[0][0])


def test_moves_under_load_keep_every_event_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(duckdb_store, "MOVE_ROWS", 60)
    monkeypatch.setattr(duckdb_store, "POLL_SECONDS", 0.005)
    monkeypatch.setattr(duckdb_store, "EMPTY_AFTER_SECONDS", 0.005)
    store = open_store(str(tmp_path / "c.duckdb"))
    assert isinstance(store, DuckDBStore)
    store.move_in_background()
    acknowledged = 0
    problems: list[str] = []
    done = threading.Event()

    def read() -> None:
        reader = store.reader()
        seen = 0
        while not done.is_set():
            before = acknowledged
            total, distinct = reader.query("SELECT count(*), count(DISTINCT seq) FROM events")[0]
            if total != distinct:
                problems.append(f"{total} rows but {distinct} distinct seqs")
            if total < max(before, seen):
                problems.append(f"{total} rows visible after {max(before, seen)}")
            seen = total
        reader.close()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for k in range(40):
            outcome = commit(store, [prepare(_batch(k * 25, k * 25 + 25), "web", "t", NOW)])
            assert outcome.inserted == 25
            acknowledged += 25
            if k % 5 == 4:  # let a loaded machine's mover catch up now and then
                _mover_caught_up(store)
    finally:
        done.set()
        reader.join()
    mover = store._mover
    assert mover is not None
    assert mover.moves >= 8  # the moves did happen under load
    assert mover.checkpoints >= 3
    assert problems == []
    retry = commit(store, [prepare(_batch(0, 1000), "web", "t", NOW)])
    assert (retry.inserted, retry.duplicates) == (0, 1000)
    store.close()  # stops the mover: everything ends in the log

    again = open_store(str(tmp_path / "c.duckdb"))
    assert isinstance(again, DuckDBStore)
    assert _counts(again, "event_log") == 1000
    assert _counts(again, INBOX_0) + _counts(again, INBOX_1) == 0
    assert again.query("SELECT min(seq), max(seq), count(DISTINCT seq) FROM events") == [
        (1, 1000, 1000)
    ]
    retry = commit(again, [prepare(_batch(990, 1010), "web", "t", NOW)])
    assert (retry.inserted, retry.duplicates) == (10, 10)
    again.close()


def test_rows_left_in_an_inbox_are_read_and_moved_at_the_next_start(tmp_path: Path) -> None:
    """A crash between moves leaves committed rows in an inbox: readers see them, a retry is a
    duplicate, and the next server start moves them into the log."""
    path = str(tmp_path / "c.duckdb")
    store = open_store(path)
    assert isinstance(store, DuckDBStore)
    commit(store, [prepare(_batch(0, 10), "web", "t", NOW)])
    store._state.inbox = 1  # as a server would, with its mover killed
    commit(store, [prepare(_batch(10, 30), "web", "t", NOW)])
    store._state.inbox = None
    store.close()

    crashed = open_store(path)
    assert isinstance(crashed, DuckDBStore)
    assert _counts(crashed, INBOX_1) == 20
    assert _counts(crashed, "events") == 30
    assert commit(crashed, [prepare(_batch(0, 30), "web", "t", NOW)]).duplicates == 30
    crashed.move_in_background()
    assert _counts(crashed, INBOX_1) == 0
    assert _counts(crashed, "event_log") == 30
    history = crashed.query("SELECT message_id FROM events WHERE seq IN (11, 30) ORDER BY seq")
    assert history == [("m10",), ("m29",)]
    crashed.close()


def test_a_crash_between_a_move_and_the_emptying_shows_each_row_once(tmp_path: Path) -> None:
    """A move marks its inbox moved in the transaction that copies it into the log; the inbox
    is emptied later, in its own file. A crash in between leaves the rows in both places:
    readers and retries see them once, and the next start empties the inbox."""
    path = str(tmp_path / "c.duckdb")
    store = open_store(path)
    assert isinstance(store, DuckDBStore)
    commit(store, [prepare(_batch(0, 10), "web", "t", NOW)])
    store._state.inbox = 1
    commit(store, [prepare(_batch(10, 30), "web", "t", NOW)])
    store._state.inbox = None
    assert duckdb_store._Mover(store)._move(1) == 20  # ...and the process dies here
    store.close()

    crashed = open_store(path)
    assert isinstance(crashed, DuckDBStore)
    assert (_counts(crashed, "event_log"), _counts(crashed, INBOX_1)) == (30, 20)
    assert crashed.query("SELECT count(*), count(DISTINCT seq) FROM events") == [(30, 30)]
    assert crashed.query("SELECT count(*) FROM message_keys") == [(30,)]
    assert commit(crashed, [prepare(_batch(0, 31), "web", "t", NOW)]).inserted == 1
    crashed.move_in_background()
    assert (_counts(crashed, "event_log"), _counts(crashed, INBOX_1)) == (31, 0)
    crashed.close()


# Where each earlier version kept its events and message keys.
_OLD_TABLES = {4: ("events", "message_keys"), 5: ("event_inbox_1", "message_key_inbox_1")}


@pytest.mark.parametrize("version", sorted(_OLD_TABLES))
def test_a_store_from_an_earlier_version_keeps_its_events_and_keys(
    tmp_path: Path, version: int
) -> None:
    """Version 4 wrote into `events` and a primary-keyed `message_keys`; a version-5 server
    may have left rows in an inbox inside the main file."""
    path = str(tmp_path / "old.duckdb")
    con = duckdb.connect(path)
    con.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, "
        "applied_at TIMESTAMPTZ DEFAULT current_timestamp)"
    )
    for migration in migrations.DUCKDB[:version]:
        for statement in migration.statements:
            con.execute(statement)
        con.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
            [migration.version, migration.name],
        )
    event_table, key_table = _OLD_TABLES[version]
    con.execute(
        f"INSERT INTO {key_table} SELECT md5_number('web' || chr(31) || 'm' || i) "
        "FROM range(5) t(i)"
    )
    con.execute(
        f"INSERT INTO {event_table} (seq, source, message_id, type, channel, timestamp, "
        "received_at, payload) SELECT i + 1, 'web', 'm' || i, 'track', 'web', now(), now(), "
        "'{}' FROM range(5) t(i)"
    )
    con.close()

    store = open_store(path)
    assert isinstance(store, DuckDBStore)
    assert store.schema_version() == migrations.DUCKDB[-1].version
    assert _counts(store, "event_log") == 5
    assert _counts(store, "message_key_log") == 5
    outcome = commit(store, [prepare(_batch(3, 8), "web", "t", NOW)])
    assert (outcome.inserted, outcome.duplicates) == (3, 2)
    assert store.query("SELECT max(seq) FROM events") == [(8,)]
    indexes = store.query("SELECT index_name FROM duckdb_indexes() WHERE table_name = 'event_log'")
    assert indexes == [("event_log_seq",)]
    store.close()


def test_each_move_ends_the_log_just_past_a_row_group_boundary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer fills an inbox with what takes the log to its next boundary, so DuckDB
    writes the moved rows as whole row groups and the checkpoint has little left."""
    monkeypatch.setattr(duckdb_store, "MOVE_ROWS", 60)
    monkeypatch.setattr(duckdb_store, "POLL_SECONDS", 0.002)
    monkeypatch.setattr(duckdb_store, "EMPTY_AFTER_SECONDS", 0.002)
    store = open_store(str(tmp_path / "c.duckdb"))
    assert isinstance(store, DuckDBStore)
    commit(store, [prepare(_batch(0, 25), "web", "t", NOW)])  # the log starts mid row group
    store.move_in_background()

    sizes = set()
    for k in range(1, 30):
        _mover_caught_up(store)
        commit(store, [prepare(_batch(k * 25, k * 25 + 25), "web", "t", NOW)])
        _mover_caught_up(store)
        sizes.add(_counts(store, "event_log"))
    assert len(sizes) >= 8
    # A batch never spans two inboxes, so a move may end past a boundary, by less than one
    # batch; the next inbox's target makes up for it (25: before the first move).
    assert all(size % 60 < 25 for size in sizes - {25})
    assert _counts(store, "events") == 30 * 25
    store.close()


def test_a_server_leaves_duckdb_the_threads_it_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLIENTCORE_DUCKDB_THREADS", "3")
    store = open_store(str(tmp_path / "c.duckdb"))
    assert isinstance(store, DuckDBStore)
    store.move_in_background()
    assert store.query("SELECT current_setting('threads')") == [(3,)]
    store.close()
    monkeypatch.setenv("CLIENTCORE_DUCKDB_THREADS", "all")
    again = open_store(str(tmp_path / "c.duckdb"))
    with pytest.raises(StoreError, match="CLIENTCORE_DUCKDB_THREADS must be a positive integer"):
        again.move_in_background()
    again.close()


def test_an_inbox_left_beside_a_deleted_database_is_refused_not_adopted(tmp_path: Path) -> None:
    """After a crash, the main file deleted to start over: the inbox still holding the crashed
    server's rows must not show them as this new database's events."""
    path = tmp_path / "c.duckdb"
    store = open_store(str(path))
    assert isinstance(store, DuckDBStore)
    store._state.inbox = 1  # as a server would, with its mover killed
    commit(store, [prepare(_batch(0, 20), "web", "t", NOW)])
    store._state.inbox = None
    store.close()
    path.unlink()
    Path(f"{path}.wal").unlink(missing_ok=True)

    with pytest.raises(StoreError, match=r"c\.duckdb\.inbox-1 holds 20 events of another"):
        open_store(str(path))
    Path(f"{path}.inbox-1").unlink()
    fresh = open_store(str(path))  # the empty inbox-0 of the old database is simply adopted
    assert _counts(fresh, "events") == 0  # type: ignore[arg-type]
    fresh.close()
