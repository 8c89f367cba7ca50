"""Storage backends: DuckDB (embedded default) and PostgreSQL (servers), one interface."""

from __future__ import annotations

import os
from pathlib import Path

from clientcore.store.base import (
    AppendOutcome,
    ImportCheckpoint,
    MigrationError,
    RejectedEvent,
    Store,
    StoreError,
    StoreLockedError,
    UnsupportedURLError,
)

DEFAULT_DB = "./clientcore.duckdb"

__all__ = [
    "DEFAULT_DB",
    "AppendOutcome",
    "ImportCheckpoint",
    "MigrationError",
    "RejectedEvent",
    "Store",
    "StoreError",
    "StoreLockedError",
    "UnsupportedURLError",
    "database_url",
    "open_store",
]


def database_url(explicit: str | None = None) -> str:
    """`--db` if given, else CLIENTCORE_DB, else the embedded file in the working directory."""
    return explicit or os.environ.get("CLIENTCORE_DB") or DEFAULT_DB


def open_store(url: str | None = None, migrate: bool = True) -> Store:
    """Open the store named by a path or URL, bringing its schema up to date."""
    url = database_url(url)
    store: Store
    if url.startswith(("postgresql://", "postgres://")):
        from clientcore.store.postgres_store import PostgresStore

        store = PostgresStore(url)
    elif "://" in url:
        scheme = url.split("://", 1)[0]
        raise UnsupportedURLError(
            f"CLIENTCORE_DB: unsupported scheme {scheme!r}; use a file path or postgresql://"
        )
    else:
        from clientcore.store.duckdb_store import DuckDBStore

        if url != ":memory:":
            Path(url).parent.mkdir(parents=True, exist_ok=True)
        store = DuckDBStore(url)
    if migrate:
        store.migrate()
    return store
