"""PostgreSQL for servers: many processes may read and write at once.

Deduplication is a real unique constraint on (source, message_id); appends go through COPY
into a temporary table and one INSERT … ON CONFLICT DO NOTHING, committed with the rejected
events and the import checkpoint.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import pyarrow as pa

from clientcore.store import migrations
from clientcore.store.base import (
    SAVE_CHECKPOINT_SQL,
    AppendOutcome,
    ImportCheckpoint,
    MigrationError,
    RejectedEvent,
    StoreError,
    checkpoint_params,
)

_EVENT_COLUMNS = (
    "source",
    "message_id",
    "type",
    "event",
    "user_id",
    "anonymous_id",
    "previous_id",
    "group_id",
    "channel",
    "timestamp",
    "original_timestamp",
    "sent_at",
    "received_at",
    "payload",
)


def _pg(sql: str) -> str:
    """Our SQL uses `?` placeholders (DuckDB's); psycopg wants `%s`."""
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresStore:
    backend = "postgres"

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.RLock()
        try:
            self._con = psycopg.connect(url, autocommit=True)
        except psycopg.Error as error:
            raise StoreError(f"cannot connect to PostgreSQL at {url}: {error}") from error
        self._con.execute("SET TIME ZONE 'UTC'")

    def schema_version(self) -> int:
        row = self._con.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
        if not row or not row[0]:
            return 0
        row = self._con.execute(
            "SELECT coalesce(max(version), 0) FROM schema_migrations"
        ).fetchone()
        return int(row[0]) if row else 0

    def migrate(self) -> list[int]:
        applied: list[int] = []
        with self._lock, self._con.transaction():
            # Serialize concurrent migrators (several server processes starting at once).
            self._con.execute("SELECT pg_advisory_xact_lock(727274)")
            self._con.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                "name TEXT, applied_at TIMESTAMPTZ DEFAULT now())"
            )
            current = self.schema_version()
            for migration in migrations.POSTGRES:
                if migration.version <= current:
                    continue
                try:
                    for statement in migration.statements:
                        self._con.execute(statement)
                except psycopg.Error as error:
                    raise MigrationError(
                        f"migration {migration.version} ({migration.name}) failed: {error}"
                    ) from error
                self._con.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    [migration.version, migration.name],
                )
                applied.append(migration.version)
        return applied

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._lock:
                return self._con.execute(_pg(sql), list(params)).fetchall()
        except psycopg.Error as error:
            raise StoreError(f"query failed: {error}", sql) from error

    def arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        try:
            with self._lock, self._con.cursor() as cur:
                cur.execute(_pg(sql), list(params))
                names = [d.name for d in cur.description or []]
                rows = cur.fetchall()
        except psycopg.Error as error:
            raise StoreError(f"query failed: {error}", sql) from error
        return pa.table({name: [row[i] for row in rows] for i, name in enumerate(names)})

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            with self._lock:
                cur = self._con.execute(_pg(sql), list(params))
                return max(cur.rowcount, 0)
        except psycopg.Error as error:
            raise StoreError(f"statement failed: {error}", sql) from error

    @contextmanager
    def transaction(self) -> Iterator[PostgresStore]:
        with self._lock, self._con.transaction():
            yield self

    def write_table(self, name: str, table: pa.Table, replace: bool = False) -> None:
        columns = ", ".join(table.column_names)
        with self.transaction():
            if replace:
                self._con.execute(f"DELETE FROM {name}")
            with self._con.cursor().copy(f"COPY {name} ({columns}) FROM STDIN") as copy:
                for row in zip(*(col.to_pylist() for col in table.columns), strict=True):
                    copy.write_row(row)

    def reader(self) -> PostgresStore:
        return PostgresStore(self.url)

    def close(self) -> None:
        self._con.close()

    def move_in_background(self) -> None:
        """PostgreSQL commits while it checkpoints: nothing to move."""

    def append_events(
        self,
        events: pa.Table,
        rejected: Sequence[RejectedEvent] = (),
        checkpoint: ImportCheckpoint | None = None,
    ) -> AppendOutcome:
        con = self._con
        columns = [events.column(name).to_pylist() for name in _EVENT_COLUMNS]
        try:
            with self._lock, con.transaction():
                con.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS incoming (pos BIGINT, source TEXT, "
                    "message_id TEXT, type TEXT, event TEXT, user_id TEXT, anonymous_id TEXT, "
                    "previous_id TEXT, group_id TEXT, channel TEXT, timestamp TIMESTAMPTZ, "
                    "original_timestamp TIMESTAMPTZ, sent_at TIMESTAMPTZ, "
                    "received_at TIMESTAMPTZ, payload TEXT) ON COMMIT DELETE ROWS"
                )
                with con.cursor().copy(
                    f"COPY incoming (pos, {', '.join(_EVENT_COLUMNS)}) FROM STDIN"
                ) as copy:
                    for pos, row in enumerate(zip(*columns, strict=True)):
                        copy.write_row((pos, *row))
                cur = con.execute(
                    f"""INSERT INTO events ({", ".join(_EVENT_COLUMNS)})
                        SELECT {", ".join(_EVENT_COLUMNS[:-1])}, payload::jsonb FROM (
                            SELECT DISTINCT ON (source, message_id) *
                            FROM incoming ORDER BY source, message_id, pos
                        ) AS first_seen
                        ORDER BY pos
                        ON CONFLICT (source, message_id) DO NOTHING
                        RETURNING message_id, source"""
                )
                stored = {(row[0], row[1]) for row in cur.fetchall()}
                if rejected:
                    with con.cursor().copy(
                        "COPY rejected_events (source, origin, position, field, reason, payload) "
                        "FROM STDIN"
                    ) as copy:
                        for r in rejected:
                            copy.write_row(
                                (r.source, r.origin, r.position, r.field, r.reason, r.payload)
                            )
                if checkpoint is not None:
                    _save_checkpoint(con, checkpoint)
        except psycopg.Error as error:
            raise StoreError(f"appending events failed: {error}") from error
        positions: set[int] = set()
        seen: set[tuple[str, str]] = set()
        for pos, key in enumerate(zip(columns[1], columns[0], strict=True)):
            if key in stored and key not in seen:
                positions.add(pos)
                seen.add(key)
        return AppendOutcome(
            inserted=len(positions),
            duplicates=events.num_rows - len(positions),
            rejected=len(rejected),
            inserted_positions=frozenset(positions),
        )

    def import_checkpoint(self, fingerprint: str) -> ImportCheckpoint | None:
        rows = self.query(
            "SELECT fingerprint, path, format, source, rows_done, inserted, duplicates, "
            "rejected, status FROM imports WHERE fingerprint = ?",
            [fingerprint],
        )
        return ImportCheckpoint(*rows[0]) if rows else None


def _save_checkpoint(con: psycopg.Connection[Any], c: ImportCheckpoint) -> None:
    con.execute(_pg(SAVE_CHECKPOINT_SQL), checkpoint_params(c))
