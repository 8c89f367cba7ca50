"""The storage interface every backend implements, and the errors it raises.

Exceptions::

    StoreError                  anything the store could not do; carries the SQL when relevant
    ├── StoreLockedError        the DuckDB file is owned by another process (a running server)
    ├── MigrationError          the schema could not be brought to the current version
    └── UnsupportedURLError     CLIENTCORE_DB names a backend we do not have

A backend is small on purpose (see duckdb_store.py and postgres_store.py): the capabilities
express their analytics as SQL/Arrow and only ask the store to run it, append, and commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

import pyarrow as pa

Backend = Literal["duckdb", "postgres"]


class StoreError(Exception):
    """A store operation failed; `sql` is the statement that failed, when there was one."""

    def __init__(self, message: str, sql: str | None = None) -> None:
        super().__init__(message)
        self.sql = sql


class StoreLockedError(StoreError):
    """The embedded database file is held by another process."""


class MigrationError(StoreError):
    """The schema could not be migrated."""


class UnsupportedURLError(StoreError):
    """The database URL names no backend we support."""


@dataclass(frozen=True)
class RejectedEvent:
    """An event kept aside with the reason it was refused, so it can be fixed and replayed."""

    source: str
    origin: str  # "http:/v1/batch", "import:/path/file.ndjson"
    position: int  # index in the request, or 1-based row of the file
    field: str
    reason: str
    payload: str


@dataclass(frozen=True)
class ImportCheckpoint:
    """How far an import of one file got, committed with the rows it covers."""

    fingerprint: str
    path: str
    format: str
    source: str
    rows_done: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    status: Literal["running", "done"] = "running"


# The upsert of a checkpoint, the same on both backends (placeholders are `?`).
SAVE_CHECKPOINT_SQL = """INSERT INTO imports (fingerprint, path, format, source, rows_done,
        inserted, duplicates, rejected, status, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, current_timestamp)
    ON CONFLICT (fingerprint) DO UPDATE SET rows_done = excluded.rows_done,
        inserted = excluded.inserted, duplicates = excluded.duplicates,
        rejected = excluded.rejected, status = excluded.status,
        updated_at = excluded.updated_at"""


def checkpoint_params(c: ImportCheckpoint) -> list[Any]:
    return [
        c.fingerprint,
        c.path,
        c.format,
        c.source,
        c.rows_done,
        c.inserted,
        c.duplicates,
        c.rejected,
        c.status,
    ]


@dataclass(frozen=True)
class AppendOutcome:
    """What one committed append did: new events, duplicates skipped, events kept aside."""

    inserted: int
    duplicates: int
    rejected: int
    inserted_positions: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class WriteKeyRecord:
    id: str
    name: str
    scope: Literal["write", "read"]
    key_hash: str
    created_at: datetime
    revoked_at: datetime | None


class Store(Protocol):
    """What the capabilities need from a backend."""

    backend: Backend
    url: str

    def migrate(self) -> list[int]:
        """Apply pending schema migrations; return the versions applied."""
        ...

    def schema_version(self) -> int: ...

    def append_events(
        self,
        events: pa.Table,
        rejected: Sequence[RejectedEvent] = (),
        checkpoint: ImportCheckpoint | None = None,
    ) -> AppendOutcome:
        """Store new events (deduplicated on source + message_id), rejected events and the
        import checkpoint in ONE transaction: after it returns, all of it is durable."""
        ...

    def import_checkpoint(self, fingerprint: str) -> ImportCheckpoint | None: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query (placeholders are `?`) and return its rows."""
        ...

    def arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """Run a read query and return an Arrow table."""
        ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement in its own transaction; return the affected row count."""
        ...

    def write_table(self, name: str, table: pa.Table, replace: bool = False) -> None:
        """Append (or replace the contents of) a table from Arrow in one transaction."""
        ...

    def transaction(self) -> Any:
        """A context manager: statements inside commit together or not at all."""
        ...

    def reader(self) -> Store:
        """A handle for concurrent reads from another thread."""
        ...

    def move_in_background(self) -> None:
        """For a long-running writer (the server): keep commits short while the store
        reorganises in the background (DuckDB's inboxes); a no-op where nothing needs it."""
        ...

    def close(self) -> None: ...
