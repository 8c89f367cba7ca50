"""The embedded default: one DuckDB file holds the event log and all operational state.

DuckDB lets one process open a file for writing at a time. Inside that process, one connection
writes (the collector funnels every append through a single writer thread) and `reader()`
hands out cursors for concurrent reads.

A server's appends go into one of two index-free inboxes while a background thread moves the
other into the indexed log and runs the checkpoints (`move_in_background`). DuckDB holds every
commit into a database while it checkpoints that database, so each inbox is a database file
of its own, attached next to the main one (`FILE.inbox-0`, `FILE.inbox-1`): the mover
checkpoints the main file, then the inbox it has just emptied, and the writer's commits into
the other inbox never wait. The writer fills an inbox with exactly as many rows as take the
log to its next row-group boundary (122,880 rows), then turns to the other, and the mover
moves the full inbox whole, so DuckDB writes whole row groups into the log and its checkpoint
has little left to do. Readers see the log and the inboxes through the `events` view
(migration 6); a tool that opens the main file alone must attach the two inbox files under
the names in `migrations.INBOX_DATABASES` to read it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from clientcore.store import migrations
from clientcore.store.base import (
    SAVE_CHECKPOINT_SQL,
    AppendOutcome,
    ImportCheckpoint,
    MigrationError,
    RejectedEvent,
    StoreError,
    StoreLockedError,
    checkpoint_params,
)
from clientcore.store.keyfilter import KeyFilter, hash_message_keys

log = logging.getLogger("clientcore.store")

_COLUMNS = migrations.EVENT_COLUMNS  # the same list the `events` view is built with
REJECTED_COLUMNS = ("source", "origin", "position", "field", "reason", "payload")
_LOW64 = (1 << 64) - 1  # the low half of a 128-bit key
ENGINE_HASHING_FROM = 5_000  # rows; below, one more engine call costs more than hashing here
# DuckDB's row group: inboxes are moved in whole row groups of the log. An inbox is also moved
# when it is this old (a quiet server), and the mover checkpoints when the WAL grows past its
# limit whatever filled it (the identity follower's tables, say).
MOVE_ROWS = 122_880
MOVE_SECONDS = 30.0
# A moved inbox is hidden at once and emptied this much later: a reader's snapshots of the
# main and the inbox database are taken apart, as each is first touched, and a reader that
# saw the main file before the move must still find the rows in the inbox.
EMPTY_AFTER_SECONDS = 1.0
WAL_LIMIT = 512 * 2**20
POLL_SECONDS = 0.1


@dataclass
class _WriterState:
    """What the writing side knows about one database file, shared by every handle on it in
    this process: two handles with their own key sets would store a retry twice."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    keys: KeyFilter | None = None
    next_seq: int | None = None
    inbox: int | None = None  # None: appends go straight into the log
    inbox_rows: list[int] = field(default_factory=lambda: [0, 0])  # committed, not yet moved
    inbox_target: int = MOVE_ROWS  # rows the active inbox takes before the writer turns
    row_group: int = MOVE_ROWS  # rows per move (set by the mover)
    log_rows: int = 0  # rows in the indexed log (kept by the mover)
    holders: int = 0  # handles open on the file in this process

    def next_target(self, leaving: int) -> int:
        """Rows for the inbox the writer turns to: enough to end, once the inbox it leaves
        has moved, on the log's next row-group boundary (a whole row group when aligned)."""
        return self.row_group - (self.log_rows + self.inbox_rows[leaving]) % self.row_group

    def turn_if_full(self) -> None:
        """Turn the writer to the other inbox once its own has reached its target and the
        mover has emptied the other. An append never spans both (a transaction writes to one
        database), so an inbox may end a batch past its target: the next target makes up."""
        active = self.inbox
        if active is None:
            return
        if self.inbox_rows[active] >= self.inbox_target and not self.inbox_rows[1 - active]:
            self.inbox = 1 - active
            self.inbox_target = self.next_target(active)


_STATES: dict[str, _WriterState] = {}
_STATES_LOCK = threading.Lock()


def _in_memory(path: str) -> bool:
    return path in ("", ":memory:") or path.startswith(":memory:")


def _state_key(path: str) -> str | None:
    if _in_memory(path):
        return None  # every in-memory connection is a database of its own
    return os.path.realpath(path)


def inbox_path(path: str, inbox: int) -> str:
    """The file of an inbox, beside the main database file."""
    return ":memory:" if _in_memory(path) else f"{path}.inbox-{inbox}"


def _attach_inboxes(con: duckdb.DuckDBPyConnection, path: str, read_only: bool) -> None:
    """Attach both inbox files (created on first use). A read-only handle attaches them only
    if they exist: a database from before version 6 has none, and cannot be migrated."""
    for inbox, database in enumerate(migrations.INBOX_DATABASES):
        file = inbox_path(path, inbox)
        if read_only and not os.path.exists(file):
            continue
        mode = " (READ_ONLY)" if read_only else ""
        con.execute(f"ATTACH IF NOT EXISTS '{file}' AS {database}{mode}")
        if not read_only:
            for statement in migrations.inbox_tables(database):
                con.execute(statement)


def _acquire_state(path: str) -> _WriterState:
    key = _state_key(path)
    if key is None:
        return _WriterState(holders=1)
    with _STATES_LOCK:
        state = _STATES.setdefault(key, _WriterState())
        state.holders += 1
        return state


def _release_state(path: str, state: _WriterState) -> None:
    key = _state_key(path)
    with _STATES_LOCK:
        state.holders -= 1
        if key is not None and state.holders <= 0 and _STATES.get(key) is state:
            # Another process may write the file before this one opens it again.
            del _STATES[key]


@contextmanager
def _in_transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction on a bare connection: committed at the end of the block (a return
    inside it included), rolled back if anything escapes it."""
    con.execute("BEGIN")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def rejected_table(rejected: Sequence[RejectedEvent]) -> pa.Table:
    return pa.table(
        {
            "source": pa.array([r.source for r in rejected], pa.string()),
            "origin": pa.array([r.origin for r in rejected], pa.string()),
            "position": pa.array([r.position for r in rejected], pa.int64()),
            "field": pa.array([r.field for r in rejected], pa.string()),
            "reason": pa.array([r.reason for r in rejected], pa.string()),
            "payload": pa.array([r.payload for r in rejected], pa.string()),
        }
    )


class DuckDBStore:
    backend = "duckdb"

    def __init__(self, path: str, read_only: bool = False) -> None:
        self.url = path
        self._lock = threading.RLock()
        try:
            self._con = duckdb.connect(path, read_only=read_only)
        except duckdb.IOException as error:
            if "lock" in str(error).lower():
                raise StoreLockedError(
                    f"the database {path} is in use by another process "
                    "(is `clientcore serve` running on it?)"
                ) from error
            raise StoreError(f"cannot open {path}: {error}") from error
        try:
            _attach_inboxes(self._con, path, read_only)
        except duckdb.Error as error:
            self._con.close()
            raise StoreError(f"cannot open the event inboxes of {path}: {error}") from error
        self._con.execute("SET TimeZone = 'UTC'")
        self._depth = 0
        self._on_commit: list[Callable[[], None]] = []
        self._state = _acquire_state(path)
        self._owner = True
        self._mover: _Mover | None = None

    @classmethod
    def _cursor_of(cls, parent: DuckDBStore) -> DuckDBStore:
        clone = cls.__new__(cls)
        clone.url = parent.url
        clone._lock = threading.RLock()
        clone._con = parent._con.cursor()
        clone._con.execute("SET TimeZone = 'UTC'")
        clone._depth = 0
        clone._on_commit = []
        clone._state = parent._state
        clone._owner = False
        clone._mover = None
        return clone

    # -- schema -------------------------------------------------------------------------
    def schema_version(self) -> int:
        exists = self._one(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
        )
        if not exists:
            return 0
        return int(self._one("SELECT coalesce(max(version), 0) FROM schema_migrations"))

    def migrate(self) -> list[int]:
        with self._lock:
            self._con.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                "name VARCHAR, applied_at TIMESTAMPTZ DEFAULT current_timestamp)"
            )
            current = self.schema_version()
            applied: list[int] = []
            for migration in migrations.DUCKDB:
                if migration.version <= current:
                    continue
                try:
                    with _in_transaction(self._con):
                        for statement in migration.statements:
                            self._con.execute(statement)
                        self._con.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                            [migration.version, migration.name],
                        )
                except duckdb.Error as error:
                    raise MigrationError(
                        f"migration {migration.version} ({migration.name}) failed: {error}"
                    ) from error
                applied.append(migration.version)
            try:
                self._claim_inboxes()
            except StoreError:
                self.close()
                raise
            return applied

    def _claim_inboxes(self) -> None:
        """Make sure both inbox files belong to this database, or say which does not. An
        inbox file left by a crashed server beside a main file deleted since holds rows that
        were never moved: read through this database's views they would be ghost events."""
        main_id = self._one("SELECT database_id FROM store_identity")
        for inbox, database in enumerate(migrations.INBOX_DATABASES):
            owner = self._con.execute(f"SELECT database_id FROM {database}.inbox_owner").fetchall()
            if owner and owner[0][0] == main_id:
                continue
            rows = self._one(f"SELECT count(*) FROM {migrations.INBOX_EVENT_TABLES[inbox]}")
            if rows:
                raise StoreError(
                    f"{inbox_path(self.url, inbox)} holds {rows} events of another database "
                    f"(not {self.url}): move the file away, or delete it to drop them"
                )
            self._con.execute(f"DELETE FROM {database}.inbox_owner")
            self._con.execute(f"INSERT INTO {database}.inbox_owner VALUES (?)", [main_id])

    # -- generic ------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._lock:
                return self._con.execute(sql, list(params)).fetchall()
        except duckdb.Error as error:
            raise StoreError(f"query failed: {error}", sql) from error

    def arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        try:
            with self._lock:
                return self._con.sql(sql, params=list(params) or None).to_arrow_table()
        except duckdb.Error as error:
            raise StoreError(f"query failed: {error}", sql) from error

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            with self._lock:
                rows = self._con.execute(sql, list(params)).fetchall()
        except duckdb.Error as error:
            raise StoreError(f"statement failed: {error}", sql) from error
        return int(rows[0][0]) if rows and rows[0] and isinstance(rows[0][0], int) else 0

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The single value of a one-row query (DuckDB wants every result read to the end)."""
        with self._lock:
            return self._con.execute(sql, list(params)).fetchall()[0][0]

    @contextmanager
    def transaction(self) -> Iterator[DuckDBStore]:
        """Re-entrant: an inner block joins the outer transaction."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self
                finally:
                    self._depth -= 1
                return
            self._con.execute("BEGIN")
            self._depth = 1
            try:
                yield self
            except BaseException:
                self._depth = 0
                self._con.execute("ROLLBACK")
                self._on_commit.clear()
                self._state.next_seq = None  # numbers handed out in vain: read them again
                raise
            self._depth = 0
            self._con.execute("COMMIT")
            done, self._on_commit = self._on_commit, []
            for action in done:
                action()

    def _after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once what was written is committed: now, or when the outer
        transaction this write joined commits (never, if it rolls back)."""
        if self._depth:
            self._on_commit.append(action)
        else:
            action()

    def write_table(self, name: str, table: pa.Table, replace: bool = False) -> None:
        """On replace, indexes are dropped and rebuilt: one bulk build beats row-by-row."""
        with self.transaction():
            self._con.register("incoming_table", table)
            try:
                indexes: list[str] = []
                if replace:
                    rows = self._con.execute(
                        "SELECT index_name, sql FROM duckdb_indexes() WHERE table_name = ?",
                        [name],
                    ).fetchall()
                    for index_name, sql in rows:
                        self._con.execute(f"DROP INDEX {index_name}").fetchall()
                        indexes.append(sql)
                    self._con.execute(f"DELETE FROM {name}").fetchall()
                columns = ", ".join(table.column_names)
                self._con.execute(
                    f"INSERT INTO {name} ({columns}) SELECT {columns} FROM incoming_table"
                ).fetchall()
                for sql in indexes:
                    self._con.execute(sql).fetchall()
            finally:
                self._con.unregister("incoming_table")

    def reader(self) -> DuckDBStore:
        return DuckDBStore._cursor_of(self)

    def close(self) -> None:
        if self._mover is not None:
            self._mover.stop()
            self._mover = None
        if self._owner:
            if self._state.keys is not None:
                self._state.keys.settle()
            _release_state(self.url, self._state)
            self._owner = False
        self._con.close()

    def move_in_background(self) -> None:
        """From now on appends go into the inboxes, and a thread moves them into the log.

        A serving process also leaves one core to the collector's Python threads: with DuckDB
        on both of two cores, each move starved the requests (open loop at 20,000 events/s
        with stitching: p99 51-60 ms on two DuckDB threads, 44-48 ms on one)."""
        if self._mover is None:
            self._con.execute(f"SET threads = {_serving_threads()}")
            self._mover = _Mover(self)
            self._mover.start()

    # -- events -------------------------------------------------------------------------
    def append_events(
        self,
        events: pa.Table,
        rejected: Sequence[RejectedEvent] = (),
        checkpoint: ImportCheckpoint | None = None,
    ) -> AppendOutcome:
        """Append in one transaction; `events` has a `source` column plus EVENT_SCHEMA.

        A transaction writes to one DuckDB database only, so an append that also writes to
        the main one (rejected events, an import's checkpoint, an enclosing transaction) puts
        its events straight into the log."""
        con = self._con
        state = self._state
        with self._lock, state.lock:
            high, low, first = self._message_keys(events)
            to_log = bool(rejected) or checkpoint is not None or self._depth > 0
            try:
                with self.transaction():
                    fresh = ~self._already_stored(high, low)
                    positions = first[fresh]
                    placed = self._insert(
                        events.take(pa.array(positions, pa.int64())),
                        high[fresh],
                        low[fresh],
                        to_log,
                    )
                    if rejected:
                        con.register("incoming_rejected", rejected_table(rejected))
                        next_id = self._one("SELECT coalesce(max(id), 0) FROM rejected_events")
                        con.execute(
                            f"""INSERT INTO rejected_events (id, {", ".join(REJECTED_COLUMNS)})
                                SELECT ? + row_number() OVER (), {", ".join(REJECTED_COLUMNS)}
                                FROM incoming_rejected""",
                            [next_id],
                        ).fetchall()
                        con.unregister("incoming_rejected")
                    if checkpoint is not None:
                        _save_checkpoint(con, checkpoint)
            except duckdb.Error as error:
                state.keys = None  # rebuilt from the database on the next append
                state.next_seq = None
                raise StoreError(f"appending events failed: {error}") from error
            keys = state.keys
            assert keys is not None  # loaded by _already_stored
            stored_high, stored_low = high[fresh], low[fresh]

            def remember() -> None:
                keys.add(stored_high, stored_low)
                if placed is None:
                    state.log_rows += len(stored_high)
                else:
                    state.inbox_rows[placed] += len(stored_high)
                state.turn_if_full()

            self._after_commit(remember)
        inserted = [int(p) for p in positions]
        return AppendOutcome(
            inserted=len(inserted),
            duplicates=events.num_rows - len(inserted),
            rejected=len(rejected),
            inserted_positions=frozenset(inserted),
        )

    def _message_keys(self, events: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The first occurrence of each key in the batch, keys split in two halves: hashed in
        Python for a request-sized batch, in the engine for an import chunk."""
        if events.num_rows <= ENGINE_HASHING_FROM:
            return hash_message_keys(
                events.column("source").to_pylist(), events.column("message_id").to_pylist()
            )
        positions = pa.array(range(events.num_rows), pa.int64())
        keyed = events.select(["source", "message_id"]).append_column("pos", positions)
        self._con.register("incoming_keys", keyed)
        try:
            found = self._con.sql(
                f"""SELECT (key >> 64)::UBIGINT AS high, (key & {_LOW64})::UBIGINT AS low, pos
                    FROM (SELECT md5_number(source || chr(31) || message_id) AS key,
                                 min(pos) AS pos
                          FROM incoming_keys GROUP BY key)
                    ORDER BY pos"""
            ).fetchnumpy()
        finally:
            self._con.unregister("incoming_keys")
        return found["high"], found["low"], found["pos"].astype(np.int64)

    def _already_stored(self, high: np.ndarray, low: np.ndarray) -> np.ndarray:
        """Which keys are stored, from the writer's in-memory set (loaded once per process)."""
        state = self._state
        if state.keys is None:
            stored = self._con.sql(
                f"""SELECT (key >> 64)::UBIGINT AS high, (key & {_LOW64})::UBIGINT AS low
                    FROM message_keys"""
            ).fetchnumpy()
            state.keys = KeyFilter(stored["high"], stored["low"])
        return state.keys.stored(high, low)

    def _insert(
        self, events: pa.Table, high: np.ndarray, low: np.ndarray, to_log: bool
    ) -> int | None:
        """Number and write the new rows; returns the inbox they went into (None: the log)."""
        state = self._state
        target = None if to_log else self._inbox()
        n = events.num_rows
        if n == 0:
            return target
        if state.next_seq is None:
            state.next_seq = int(self._one("SELECT coalesce(max(seq), 0) FROM events")) + 1
        numbered = events.add_column(
            0, "seq", pa.array(range(state.next_seq, state.next_seq + n), pa.int64())
        )
        halves = pa.table({"high": pa.array(high, pa.uint64()), "low": pa.array(low, pa.uint64())})
        self._write(target, numbered, halves)
        state.next_seq += n
        return target

    def _inbox(self) -> int | None:
        """The inbox appends go into now (None: no mover, straight into the log)."""
        self._state.turn_if_full()  # the mover may have emptied the other since the last one
        return self._state.inbox

    def _write(self, inbox: int | None, events: pa.Table, keys: pa.Table) -> None:
        key_table, event_table = (
            ("message_key_log", "event_log")
            if inbox is None
            else (migrations.INBOX_KEY_TABLES[inbox], migrations.INBOX_EVENT_TABLES[inbox])
        )
        con = self._con
        con.register("fresh_events", events)
        con.register("fresh_keys", keys)
        try:
            con.execute(
                f"INSERT INTO {key_table} SELECT (high::UHUGEINT << 64) | low FROM fresh_keys"
            ).fetchall()
            con.execute(
                f"INSERT INTO {event_table} ({_COLUMNS}) SELECT {_COLUMNS} FROM fresh_events"
            ).fetchall()
        finally:
            con.unregister("fresh_events")
            con.unregister("fresh_keys")

    def import_checkpoint(self, fingerprint: str) -> ImportCheckpoint | None:
        rows = self.query(
            "SELECT fingerprint, path, format, source, rows_done, inserted, duplicates, "
            "rejected, status FROM imports WHERE fingerprint = ?",
            [fingerprint],
        )
        return ImportCheckpoint(*rows[0]) if rows else None


def _save_checkpoint(con: duckdb.DuckDBPyConnection, c: ImportCheckpoint) -> None:
    con.execute(SAVE_CHECKPOINT_SQL, checkpoint_params(c))


def _positive_setting(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise StoreError(f"{name} must be a positive integer; got {raw!r}")
    return int(raw)


def _inbox_rows() -> int:
    """Rows an inbox takes before it moves (CLIENTCORE_INBOX_ROWS; tests make it small)."""
    return _positive_setting("CLIENTCORE_INBOX_ROWS", MOVE_ROWS)


def _serving_threads() -> int:
    """DuckDB's threads in a server: every core this process may use but one
    (CLIENTCORE_DUCKDB_THREADS overrides)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return _positive_setting("CLIENTCORE_DUCKDB_THREADS", max(1, (cores or 2) - 1))


class _Mover:
    """Moves the inbox the writer has filled and left into the indexed log, checkpoints, and
    empties the inbox for the writer to turn back to.

    The writer turns to the other inbox only once the mover has emptied it, so the inbox
    being moved takes no new rows. A move inserts the rows into the log and marks the inbox
    moved in one transaction of the main database, which hides the inbox from the views; the
    inbox is emptied in a transaction of its own database and then unmarked. A crash leaves
    the rows visible in exactly one place, and the next start finishes what was begun.
    """

    def __init__(self, store: DuckDBStore) -> None:
        self._store = store
        self._con = store._con.cursor()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="clientcore-mover", daemon=True)
        self._wal = f"{store.url}.wal"
        self._rows = _inbox_rows()
        self.moves = 0
        self.checkpoints = 0

    def start(self) -> None:
        # Checkpoints are this thread's: a commit that crossed the threshold would run one itself.
        self._con.execute("SET checkpoint_threshold = '1TB'")
        for inbox in (0, 1):
            self._settle(inbox)  # left by a crash, or by a server stopped mid-move
        state = self._store._state
        log_rows = int(self._con.execute("SELECT count(*) FROM event_log").fetchall()[0][0])
        with state.lock:
            state.row_group = self._rows
            state.log_rows = log_rows
            state.inbox_target = state.next_target(1)  # inbox 1 is empty: to the next boundary
            state.inbox = 0
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        state = self._store._state
        with state.lock:
            state.inbox = None
        for inbox in (0, 1):
            self._settle(inbox)
        self._con.execute("RESET checkpoint_threshold")
        try:
            self._checkpoint()
        except duckdb.Error:  # everything is in the WAL: the next open replays it
            log.warning("the closing checkpoint failed; the WAL keeps every commit", exc_info=True)
        self._con.close()

    def _run(self) -> None:
        state = self._store._state
        last_move = time.monotonic()
        while not self._stop.wait(POLL_SECONDS):
            try:
                with state.lock:
                    active = state.inbox
                    if active is None:
                        continue
                    other = 1 - active
                    full = state.inbox_rows[other] > 0  # the writer has turned away from it
                    stale = (
                        not full
                        and state.inbox_rows[active] > 0
                        and time.monotonic() - last_move >= MOVE_SECONDS
                    )
                    if stale:  # a quiet server: turn the writer now, whatever the count
                        state.inbox, other = other, active
                        state.inbox_target = state.next_target(active)
                if full or stale:
                    self._settle(other)
                    last_move = time.monotonic()
                elif self._wal_size() > WAL_LIMIT:
                    self._checkpoint()
            except duckdb.Error:
                # The rows stay where they are, visible to every reader; the next round retries.
                log.exception("moving the event inbox into the log failed; will retry")

    def _settle(self, inbox: int) -> None:
        """Move the inbox (unless a move already did), checkpoint, empty it, and free it."""
        if not self._marked(inbox):
            if not self._move(inbox):
                return
            self._checkpoint()
            self._stop.wait(EMPTY_AFTER_SECONDS)  # cut short at stop: no reader is left then
        self._empty(inbox)
        state = self._store._state
        with state.lock:
            state.inbox_rows[inbox] = 0
            state.turn_if_full()  # the writer may have filled its inbox while this one moved

    def _marked(self, inbox: int) -> bool:
        sql = "SELECT moved FROM inbox_moves WHERE inbox = ?"
        return bool(self._con.execute(sql, [inbox]).fetchall()[0][0])

    def _move(self, inbox: int) -> int:
        """Copy the inbox into the log and mark it moved, in one transaction; the rows moved."""
        con = self._con
        events, keys = migrations.INBOX_EVENT_TABLES[inbox], migrations.INBOX_KEY_TABLES[inbox]
        with _in_transaction(con):
            moved = int(
                con.execute(
                    f"INSERT INTO event_log ({_COLUMNS}) SELECT {_COLUMNS} FROM {events}"
                ).fetchall()[0][0]
            )
            if not moved:
                return 0  # an empty inbox: nothing written, nothing to mark
            con.execute(f"INSERT INTO message_key_log SELECT key FROM {keys}").fetchall()
            con.execute("UPDATE inbox_moves SET moved = true WHERE inbox = ?", [inbox]).fetchall()
        state = self._store._state
        with state.lock:
            state.log_rows += moved
        self.moves += 1
        return moved

    def _empty(self, inbox: int) -> None:
        """Empty a moved inbox in its own database, checkpoint that database (no writer waits
        on it), then unmark it."""
        con = self._con
        database = migrations.INBOX_DATABASES[inbox]
        with _in_transaction(con):
            con.execute(f"DELETE FROM {migrations.INBOX_EVENT_TABLES[inbox]}").fetchall()
            con.execute(f"DELETE FROM {migrations.INBOX_KEY_TABLES[inbox]}").fetchall()
        con.execute(f"CHECKPOINT {database}").fetchall()
        con.execute("UPDATE inbox_moves SET moved = false WHERE inbox = ?", [inbox]).fetchall()

    def _checkpoint(self) -> None:
        self._con.execute("CHECKPOINT").fetchall()
        self.checkpoints += 1

    def _wal_size(self) -> int:
        try:
            return os.path.getsize(self._wal)
        except FileNotFoundError:
            return 0
