"""The embedded default: one DuckDB file holds the event log and all operational state.

DuckDB lets one process open a file for writing at a time. Inside that process, one connection
writes (the collector funnels every append through a single writer thread) and `reader()`
hands out cursors for concurrent reads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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

REJECTED_COLUMNS = ("source", "origin", "position", "field", "reason", "payload")
_COLUMNS = (
    "seq, source, message_id, type, event, user_id, anonymous_id, previous_id, group_id, "
    "channel, timestamp, original_timestamp, sent_at, received_at, payload"
)
_LOW64 = (1 << 64) - 1  # the low half of a 128-bit key
ENGINE_HASHING_FROM = 5_000  # rows; below, one more engine call costs more than hashing here


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
        self._con.execute("SET TimeZone = 'UTC'")
        self._depth = 0
        self._keys: KeyFilter | None = None
        self._next_seq: int | None = None

    @classmethod
    def _cursor_of(cls, parent: DuckDBStore) -> DuckDBStore:
        clone = cls.__new__(cls)
        clone.url = parent.url
        clone._lock = threading.RLock()
        clone._con = parent._con.cursor()
        clone._con.execute("SET TimeZone = 'UTC'")
        clone._depth = 0
        clone._keys = None
        clone._next_seq = None
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
                    self._con.execute("BEGIN")
                    for statement in migration.statements:
                        self._con.execute(statement)
                    self._con.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                        [migration.version, migration.name],
                    )
                    self._con.execute("COMMIT")
                except duckdb.Error as error:
                    self._con.execute("ROLLBACK")
                    raise MigrationError(
                        f"migration {migration.version} ({migration.name}) failed: {error}"
                    ) from error
                applied.append(migration.version)
            return applied

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
                raise
            self._depth = 0
            self._con.execute("COMMIT")

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
        self._con.close()

    # -- events -------------------------------------------------------------------------
    def append_events(
        self,
        events: pa.Table,
        rejected: Sequence[RejectedEvent] = (),
        checkpoint: ImportCheckpoint | None = None,
    ) -> AppendOutcome:
        """Append in one transaction; `events` has a `source` column plus EVENT_SCHEMA."""
        con = self._con
        with self._lock:
            high, low, first = self._message_keys(events)
            try:
                with self.transaction():
                    fresh = ~self._already_stored(high, low)
                    positions = first[fresh]
                    self._insert(
                        events.take(pa.array(positions, pa.int64())), high[fresh], low[fresh]
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
                self._keys = None  # rebuilt from the database on the next append
                self._next_seq = None
                raise StoreError(f"appending events failed: {error}") from error
            self._keys.add(low[fresh])  # type: ignore[union-attr]
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
        """Which keys are stored: the filter answers most; the primary-key index the rest."""
        if self._keys is None:
            stored_low = self._con.sql(
                f"SELECT (key & {_LOW64})::UBIGINT AS low FROM message_keys"
            ).fetchnumpy()["low"]
            self._keys = KeyFilter(stored_low)
        found = np.zeros(low.size, dtype=bool)
        for i in np.flatnonzero(self._keys.maybe_stored(low)).tolist():
            key = (int(high[i]) << 64) | int(low[i])
            rows = self._con.execute(
                "SELECT 1 FROM message_keys WHERE key = ?::UHUGEINT", [str(key)]
            ).fetchall()
            found[i] = bool(rows)
        return found

    def _insert(self, events: pa.Table, high: np.ndarray, low: np.ndarray) -> None:
        n = events.num_rows
        if n == 0:
            return
        if self._next_seq is None:
            self._next_seq = int(self._one("SELECT coalesce(max(seq), 0) FROM events")) + 1
        numbered = events.add_column(
            0, "seq", pa.array(range(self._next_seq, self._next_seq + n), pa.int64())
        )
        halves = pa.table({"high": pa.array(high, pa.uint64()), "low": pa.array(low, pa.uint64())})
        con = self._con
        con.register("fresh_events", numbered)
        con.register("fresh_keys", halves)
        try:
            con.execute(
                "INSERT INTO message_keys SELECT (high::UHUGEINT << 64) | low FROM fresh_keys"
            ).fetchall()
            con.execute(
                f"INSERT INTO events ({_COLUMNS}) SELECT {_COLUMNS} FROM fresh_events"
            ).fetchall()
        finally:
            con.unregister("fresh_events")
            con.unregister("fresh_keys")
        self._next_seq += n

    def import_checkpoint(self, fingerprint: str) -> ImportCheckpoint | None:
        rows = self.query(
            "SELECT fingerprint, path, format, source, rows_done, inserted, duplicates, "
            "rejected, status FROM imports WHERE fingerprint = ?",
            [fingerprint],
        )
        return ImportCheckpoint(*rows[0]) if rows else None


def _save_checkpoint(con: duckdb.DuckDBPyConnection, c: ImportCheckpoint) -> None:
    con.execute(SAVE_CHECKPOINT_SQL, checkpoint_params(c))
