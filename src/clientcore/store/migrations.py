"""Versioned schema migrations, one list per backend, applied in order and recorded.

A migration is never edited once released: add a new version instead. The two lists describe
the same logical schema; the contract tests run the same suite on both.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


_EXPERIMENTS_NAME = "experiments: definitions, exposures, bandit rewards, settings"


def _experiments(text: str, now: str) -> tuple[str, ...]:
    """Experiments, identical on both backends but for the text type and the clock function.

    JSON documents (variants, metrics, bandit state, decision context) are kept as text: the
    server reads them whole, never queries inside them.
    """
    return (
        f"""CREATE TABLE experiments (
            id {text} PRIMARY KEY,
            name {text} NOT NULL,
            kind {text} NOT NULL,
            status {text} NOT NULL,
            layer {text} NOT NULL,
            bucket_start INTEGER NOT NULL,
            bucket_end INTEGER NOT NULL,
            config {text} NOT NULL,
            state {text},
            created_at TIMESTAMPTZ NOT NULL DEFAULT {now},
            started_at TIMESTAMPTZ NOT NULL,
            stopped_at TIMESTAMPTZ,
            stop_reason {text}
        )""",
        f"""CREATE TABLE experiment_exposures (
            experiment_id {text} NOT NULL,
            unit {text} NOT NULL,
            identifier {text} NOT NULL,
            variant {text} NOT NULL,
            probability DOUBLE PRECISION NOT NULL,
            channel {text},
            decision_id {text},
            context {text},
            exposed_at TIMESTAMPTZ NOT NULL
        )""",
        "CREATE INDEX experiment_exposures_experiment ON experiment_exposures (experiment_id)",
        f"""CREATE TABLE bandit_rewards (
            decision_id {text} PRIMARY KEY,
            experiment_id {text} NOT NULL,
            reward DOUBLE PRECISION NOT NULL,
            rewarded_at TIMESTAMPTZ NOT NULL DEFAULT {now}
        )""",
        f"CREATE TABLE experiment_settings (name {text} PRIMARY KEY, value {text} NOT NULL)",
    )


_RECONCILE_NAME = "reconcile: customer records, links, review decisions, clusters, models"


def _reconcile(text: str, now: str) -> tuple[str, ...]:
    """Customer records from CRM imports and their probabilistic linkage, the same on both
    backends but for the text type and the clock function. Models and evidence are JSON kept
    as text: read whole, never queried inside."""
    return (
        f"""CREATE TABLE customer_records (
            record_key BIGINT PRIMARY KEY,
            source {text} NOT NULL,
            record_id {text} NOT NULL,
            given_name {text},
            surname {text},
            full_name {text},
            birth_date {text},
            email {text},
            phone {text},
            street_number {text},
            address_1 {text},
            address_2 {text},
            suburb {text},
            city {text},
            postcode {text},
            state {text},
            country {text},
            national_id {text},
            loyalty_card {text},
            user_id {text},
            raw {text},
            import_batch BIGINT NOT NULL,
            imported_at TIMESTAMPTZ NOT NULL DEFAULT {now},
            UNIQUE (source, record_id)
        )""",
        # A profile finds its records by the identifiers they share with it.
        "CREATE INDEX customer_records_email ON customer_records (email)",
        "CREATE INDEX customer_records_phone ON customer_records (phone)",
        "CREATE INDEX customer_records_card ON customer_records (loyalty_card)",
        "CREATE INDEX customer_records_user ON customer_records (user_id)",
        f"""CREATE TABLE record_links (
            a BIGINT NOT NULL,
            b BIGINT NOT NULL,
            match_weight DOUBLE PRECISION NOT NULL,
            match_probability DOUBLE PRECISION NOT NULL,
            status {text} NOT NULL,
            model_version INTEGER NOT NULL,
            evidence {text},
            PRIMARY KEY (a, b)
        )""",
        "CREATE INDEX record_links_status ON record_links (status)",
        f"""CREATE TABLE record_decisions (
            a BIGINT NOT NULL,
            b BIGINT NOT NULL,
            decision {text} NOT NULL,
            match_probability DOUBLE PRECISION,
            model_version INTEGER,
            decided_by {text},
            note {text},
            decided_at TIMESTAMPTZ NOT NULL DEFAULT {now},
            PRIMARY KEY (a, b)
        )""",
        """CREATE TABLE record_clusters (
            record_key BIGINT PRIMARY KEY,
            cluster_id BIGINT NOT NULL,
            match_probability DOUBLE PRECISION
        )""",
        "CREATE INDEX record_clusters_cluster ON record_clusters (cluster_id)",
        f"""CREATE TABLE reconcile_models (
            version INTEGER PRIMARY KEY,
            model {text} NOT NULL,
            summary {text} NOT NULL,
            created_at TIMESTAMPTZ NOT NULL DEFAULT {now}
        )""",
        f"CREATE TABLE reconcile_state (name {text} PRIMARY KEY, value BIGINT NOT NULL)",
    )


_INBOX_NAME = "event log: an indexed log and two index-free inboxes; message keys unindexed"
_INBOX_DDL = """(
    seq BIGINT USING COMPRESSION uncompressed NOT NULL,
    source VARCHAR USING COMPRESSION uncompressed NOT NULL,
    message_id VARCHAR USING COMPRESSION uncompressed NOT NULL,
    type VARCHAR USING COMPRESSION uncompressed NOT NULL,
    event VARCHAR USING COMPRESSION uncompressed,
    user_id VARCHAR USING COMPRESSION uncompressed,
    anonymous_id VARCHAR USING COMPRESSION uncompressed,
    previous_id VARCHAR USING COMPRESSION uncompressed,
    group_id VARCHAR USING COMPRESSION uncompressed,
    channel VARCHAR USING COMPRESSION uncompressed NOT NULL,
    timestamp TIMESTAMPTZ USING COMPRESSION uncompressed NOT NULL,
    original_timestamp TIMESTAMPTZ USING COMPRESSION uncompressed,
    sent_at TIMESTAMPTZ USING COMPRESSION uncompressed,
    received_at TIMESTAMPTZ USING COMPRESSION uncompressed NOT NULL,
    payload VARCHAR USING COMPRESSION uncompressed NOT NULL
)"""
EVENT_COLUMNS = (
    "seq, source, message_id, type, event, user_id, anonymous_id, previous_id, group_id, "
    "channel, timestamp, original_timestamp, sent_at, received_at, payload"
)


def _union_view(name: str, tables: tuple[str, ...], columns: str) -> str:
    return f"CREATE VIEW {name} AS " + " UNION ALL ".join(
        f"SELECT {columns} FROM {table}" for table in tables
    )


def _duckdb_inboxes() -> tuple[str, ...]:
    """DuckDB stops every commit into a table while a checkpoint writes it, and rewrites a
    primary-key index of random keys whole at each checkpoint. So the collector appends into
    one of two index-free inboxes while a background step moves the other into the indexed
    log and checkpoints (store/duckdb_store.py); `events` and `message_keys` become views over
    all three, so every reader sees every committed event. The writer keeps the message keys
    in memory (store/keyfilter.py): the table needs no index. An inbox keeps the payload as
    text: the collector wrote it from parsed JSON, and DuckDB's check of every payload on
    insert cost the writer 3 µs per event; the view and the move read it as JSON. Inbox
    columns are stored uncompressed: a checkpoint holds every commit while it writes the rows
    the inbox took since the last one, and compressing them took 3x longer (80 vs 30 ms per
    20,000 rows); the move compresses them into the log in the background."""
    return (
        "DROP INDEX events_seq",
        "ALTER TABLE events RENAME TO event_log",
        "CREATE UNIQUE INDEX event_log_seq ON event_log (seq)",
        f"CREATE TABLE event_inbox_0 {_INBOX_DDL}",
        f"CREATE TABLE event_inbox_1 {_INBOX_DDL}",
        "CREATE TABLE message_key_log (key UHUGEINT NOT NULL)",
        "INSERT INTO message_key_log SELECT key FROM message_keys",
        "DROP TABLE message_keys",
        "CREATE TABLE message_key_inbox_0 (key UHUGEINT USING COMPRESSION uncompressed NOT NULL)",
        "CREATE TABLE message_key_inbox_1 (key UHUGEINT USING COMPRESSION uncompressed NOT NULL)",
        _union_view("events", _V5_EVENT_TABLES, EVENT_COLUMNS),
        _union_view("message_keys", _V5_KEY_TABLES, "key"),
    )


_V5_EVENT_TABLES = ("event_log", "event_inbox_0", "event_inbox_1")
_V5_KEY_TABLES = ("message_key_log", "message_key_inbox_0", "message_key_inbox_1")

_INBOX_FILES_NAME = "event inboxes in database files of their own, hidden once moved"
# The databases the store attaches, one per inbox (store/duckdb_store.py names their files).
INBOX_DATABASES = ("clientcore_inbox_0", "clientcore_inbox_1")
# Each inbox's event and message-key table, by inbox number.
INBOX_EVENT_TABLES = tuple(f"{db}.event_inbox" for db in INBOX_DATABASES)
INBOX_KEY_TABLES = tuple(f"{db}.message_key_inbox" for db in INBOX_DATABASES)
# Every table that holds events, and every table that holds message keys.
EVENT_TABLES = ("event_log", *INBOX_EVENT_TABLES)
KEY_TABLES = ("message_key_log", *INBOX_KEY_TABLES)


def inbox_tables(database: str) -> tuple[str, ...]:
    """An inbox's tables, created when the store attaches its file: a migration runs in one
    transaction, and DuckDB lets a transaction write to one database only."""
    return (
        f"CREATE TABLE IF NOT EXISTS {database}.event_inbox {_INBOX_DDL}",
        f"CREATE TABLE IF NOT EXISTS {database}.message_key_inbox "
        "(key UHUGEINT USING COMPRESSION uncompressed NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {database}.inbox_owner (database_id VARCHAR NOT NULL)",
    )


def _visible_union(name: str, log: str, inbox_table: str, columns: str) -> str:
    """The log and every inbox not yet emptied after its move (`inbox_moves.moved`)."""
    inboxes = " UNION ALL ".join(
        f"SELECT {columns} FROM {db}.{inbox_table} "
        f"WHERE NOT (SELECT moved FROM inbox_moves WHERE inbox = {number})"
        for number, db in enumerate(INBOX_DATABASES)
    )
    return f"CREATE VIEW {name} AS SELECT {columns} FROM {log} UNION ALL {inboxes}"


def _duckdb_inbox_files() -> tuple[str, ...]:
    """DuckDB holds the commits into a database while it checkpoints it, but not the commits
    into another attached database (measured on 2.0.0: 1.6 s of stalled writes became none).
    So each inbox lives in a file of its own: the mover checkpoints the main file, and then
    the inbox it emptied, while the writer commits into the other inbox. A move cannot
    empty the inbox in the same transaction any more, so it marks the inbox moved
    (`inbox_moves`), which hides its rows from the views at once; the mover empties it and
    clears the mark later."""
    moves = []
    for number in range(len(INBOX_DATABASES)):
        moves += [
            f"INSERT INTO event_log ({EVENT_COLUMNS}) "
            f"SELECT {EVENT_COLUMNS} FROM event_inbox_{number}",
            f"INSERT INTO message_key_log SELECT key FROM message_key_inbox_{number}",
        ]
    return (
        "CREATE TABLE inbox_moves (inbox INTEGER PRIMARY KEY, moved BOOLEAN NOT NULL)",
        # Which inbox files are this database's: a main file deleted after a crash must not
        # adopt a stale inbox's rows (store/duckdb_store.py checks on open).
        "CREATE TABLE store_identity (database_id VARCHAR NOT NULL)",
        "INSERT INTO store_identity SELECT uuid()::VARCHAR",
        "INSERT INTO inbox_moves VALUES (0, false), (1, false)",
        "DROP VIEW events",
        "DROP VIEW message_keys",
        *moves,  # rows a version-5 server left in its inboxes
        *(f"DROP TABLE {table}" for table in (*_V5_EVENT_TABLES[1:], *_V5_KEY_TABLES[1:])),
        _visible_union("events", "event_log", "event_inbox", EVENT_COLUMNS),
        _visible_union("message_keys", "message_key_log", "message_key_inbox", "key"),
    )


DUCKDB: tuple[Migration, ...] = (
    Migration(
        1,
        "event log, rejected events, write keys, imports",
        (
            """CREATE TABLE events (
                seq BIGINT NOT NULL,
                source VARCHAR NOT NULL,
                message_id VARCHAR NOT NULL,
                type VARCHAR NOT NULL,
                event VARCHAR,
                user_id VARCHAR,
                anonymous_id VARCHAR,
                previous_id VARCHAR,
                group_id VARCHAR,
                channel VARCHAR NOT NULL,
                timestamp TIMESTAMPTZ NOT NULL,
                original_timestamp TIMESTAMPTZ,
                sent_at TIMESTAMPTZ,
                received_at TIMESTAMPTZ NOT NULL,
                payload JSON NOT NULL
            )""",
            # Deduplication without a time window: a 128-bit digest of (source, message_id).
            # A separate narrow table keeps the index small and the event log append-only.
            "CREATE TABLE message_keys (key UHUGEINT PRIMARY KEY)",
            """CREATE TABLE rejected_events (
                id BIGINT PRIMARY KEY,
                source VARCHAR NOT NULL,
                origin VARCHAR NOT NULL,
                position BIGINT NOT NULL,
                field VARCHAR NOT NULL,
                reason VARCHAR NOT NULL,
                payload VARCHAR NOT NULL,
                rejected_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
                replayed_at TIMESTAMPTZ
            )""",
            """CREATE TABLE write_keys (
                id VARCHAR PRIMARY KEY,
                name VARCHAR NOT NULL,
                scope VARCHAR NOT NULL,
                key_hash VARCHAR NOT NULL UNIQUE,
                created_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
                revoked_at TIMESTAMPTZ
            )""",
            """CREATE TABLE imports (
                fingerprint VARCHAR PRIMARY KEY,
                path VARCHAR NOT NULL,
                format VARCHAR NOT NULL,
                source VARCHAR NOT NULL,
                rows_done BIGINT NOT NULL,
                inserted BIGINT NOT NULL,
                duplicates BIGINT NOT NULL,
                rejected BIGINT NOT NULL,
                status VARCHAR NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
            )""",
        ),
    ),
    Migration(
        2,
        "identity graph: identifiers, their events, merges, quarantine, blocklist",
        (
            """CREATE TABLE identifiers (
                id BIGINT PRIMARY KEY,
                type VARCHAR NOT NULL,
                value VARCHAR NOT NULL,
                profile_id BIGINT,
                first_seq BIGINT NOT NULL,
                quarantined BOOLEAN NOT NULL DEFAULT false
            )""",
            "CREATE INDEX identifiers_value ON identifiers (value)",
            "CREATE INDEX identifiers_profile ON identifiers (profile_id)",
            """CREATE TABLE event_identifiers (
                seq BIGINT NOT NULL,
                identifier_id BIGINT NOT NULL,
                timestamp TIMESTAMPTZ NOT NULL
            )""",
            "CREATE INDEX event_identifiers_identifier ON event_identifiers (identifier_id)",
            "CREATE UNIQUE INDEX events_seq ON events (seq)",
            """CREATE TABLE identity_links (
                a BIGINT NOT NULL,
                b BIGINT NOT NULL,
                first_seq BIGINT NOT NULL,
                PRIMARY KEY (a, b)
            )""",
            """CREATE TABLE identity_merges (
                seq BIGINT NOT NULL,
                identifier_id BIGINT NOT NULL,
                linked_identifier_id BIGINT NOT NULL
            )""",
            """CREATE TABLE identity_quarantine (
                identifier_id BIGINT PRIMARY KEY,
                linked_type VARCHAR NOT NULL,
                since_seq BIGINT NOT NULL
            )""",
            """CREATE TABLE identity_blocklist (
                type VARCHAR NOT NULL,
                value VARCHAR NOT NULL,
                reason VARCHAR,
                created_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
                PRIMARY KEY (type, value)
            )""",
            "CREATE TABLE identity_state (name VARCHAR PRIMARY KEY, value BIGINT NOT NULL)",
        ),
    ),
    Migration(3, _EXPERIMENTS_NAME, _experiments("VARCHAR", "current_timestamp")),
    Migration(4, _RECONCILE_NAME, _reconcile("VARCHAR", "current_timestamp")),
    Migration(5, _INBOX_NAME, _duckdb_inboxes()),
    Migration(6, _INBOX_FILES_NAME, _duckdb_inbox_files()),
)

POSTGRES: tuple[Migration, ...] = (
    Migration(
        1,
        "event log, rejected events, write keys, imports",
        (
            """CREATE TABLE events (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                source TEXT NOT NULL,
                message_id TEXT NOT NULL,
                type TEXT NOT NULL,
                event TEXT,
                user_id TEXT,
                anonymous_id TEXT,
                previous_id TEXT,
                group_id TEXT,
                channel TEXT NOT NULL,
                timestamp TIMESTAMPTZ NOT NULL,
                original_timestamp TIMESTAMPTZ,
                sent_at TIMESTAMPTZ,
                received_at TIMESTAMPTZ NOT NULL,
                payload JSONB NOT NULL,
                UNIQUE (source, message_id)
            )""",
            """CREATE TABLE rejected_events (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                source TEXT NOT NULL,
                origin TEXT NOT NULL,
                position BIGINT NOT NULL,
                field TEXT NOT NULL,
                reason TEXT NOT NULL,
                payload TEXT NOT NULL,
                rejected_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                replayed_at TIMESTAMPTZ
            )""",
            """CREATE TABLE write_keys (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                scope TEXT NOT NULL,
                key_hash TEXT NOT NULL UNIQUE,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                revoked_at TIMESTAMPTZ
            )""",
            """CREATE TABLE imports (
                fingerprint TEXT PRIMARY KEY,
                path TEXT NOT NULL,
                format TEXT NOT NULL,
                source TEXT NOT NULL,
                rows_done BIGINT NOT NULL,
                inserted BIGINT NOT NULL,
                duplicates BIGINT NOT NULL,
                rejected BIGINT NOT NULL,
                status TEXT NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )""",
        ),
    ),
    Migration(
        2,
        "identity graph: identifiers, their events, merges, quarantine, blocklist",
        (
            """CREATE TABLE identifiers (
                id BIGINT PRIMARY KEY,
                type TEXT NOT NULL,
                value TEXT NOT NULL,
                profile_id BIGINT,
                first_seq BIGINT NOT NULL,
                quarantined BOOLEAN NOT NULL DEFAULT false
            )""",
            "CREATE INDEX identifiers_value ON identifiers (value)",
            "CREATE INDEX identifiers_profile ON identifiers (profile_id)",
            """CREATE TABLE event_identifiers (
                seq BIGINT NOT NULL,
                identifier_id BIGINT NOT NULL,
                timestamp TIMESTAMPTZ NOT NULL
            )""",
            "CREATE INDEX event_identifiers_identifier ON event_identifiers (identifier_id)",
            """CREATE TABLE identity_links (
                a BIGINT NOT NULL,
                b BIGINT NOT NULL,
                first_seq BIGINT NOT NULL,
                PRIMARY KEY (a, b)
            )""",
            """CREATE TABLE identity_merges (
                seq BIGINT NOT NULL,
                identifier_id BIGINT NOT NULL,
                linked_identifier_id BIGINT NOT NULL
            )""",
            """CREATE TABLE identity_quarantine (
                identifier_id BIGINT PRIMARY KEY,
                linked_type TEXT NOT NULL,
                since_seq BIGINT NOT NULL
            )""",
            """CREATE TABLE identity_blocklist (
                type TEXT NOT NULL,
                value TEXT NOT NULL,
                reason TEXT,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                PRIMARY KEY (type, value)
            )""",
            "CREATE TABLE identity_state (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
        ),
    ),
    Migration(3, _EXPERIMENTS_NAME, _experiments("TEXT", "now()")),
    Migration(4, _RECONCILE_NAME, _reconcile("TEXT", "now()")),
    # PostgreSQL commits during its checkpoints: the log stays one table.
    Migration(5, _INBOX_NAME + " (DuckDB only)", ()),
    Migration(6, _INBOX_FILES_NAME + " (DuckDB only)", ()),
)
