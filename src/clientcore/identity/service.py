"""Identity against the store: the batch rebuild, the incremental catch-up, quarantine, unmerge.

`rebuild` recomputes every table from the event log. `IdentityService.sync` takes the events
that arrived since its watermark and updates the same tables incrementally. Both write the
same rows (the property tests and the contract tests check it); the server keeps one service
in memory and syncs after each commit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from clientcore.identity.extract import extract, normalize_occurrences
from clientcore.identity.graph import BLOCKED, SPLIT, batch_profiles
from clientcore.identity.normalize import Normalizers
from clientcore.identity.spec import IdentitySpec
from clientcore.store import Store

WATERMARK = "identity_watermark"
CHUNK_EVENTS = 500_000


@dataclass
class IdentityReport:
    events: int = 0
    identifiers: int = 0
    profiles: int = 0
    quarantined: int = 0
    merges: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _max_seq(store: Store) -> int:
    return int(store.query("SELECT coalesce(max(seq), 0) FROM events")[0][0])


def _watermark(store: Store) -> int:
    rows = store.query("SELECT value FROM identity_state WHERE name = ?", [WATERMARK])
    return int(rows[0][0]) if rows else 0


def _blocklist(store: Store) -> set[tuple[str, str]]:
    return {(t, v) for t, v in store.query("SELECT type, value FROM identity_blocklist")}


def _set_watermark(store: Store, seq: int) -> None:
    store.execute("DELETE FROM identity_state WHERE name = ?", [WATERMARK])
    store.execute("INSERT INTO identity_state (name, value) VALUES (?, ?)", [WATERMARK, seq])


def _occurrence_ids(compute: duckdb.DuckDBPyConnection) -> None:
    """From `occ` and `ids` (type, value, id), build `ei` (seq, identifier_id, timestamp) and
    `pairs` (a, b, first_seq): the distinct identifier pairs and the event that first showed
    each."""
    compute.execute(
        """CREATE OR REPLACE TABLE ei AS
           SELECT DISTINCT o.seq, i.id AS identifier_id, o.timestamp
           FROM occ o JOIN ids i ON o.type = i.type AND o.value = i.value"""
    )
    compute.execute(
        """CREATE OR REPLACE TABLE pairs AS
           WITH multi AS (SELECT seq FROM ei GROUP BY seq HAVING count(*) > 1),
                m AS (SELECT seq, identifier_id FROM ei SEMI JOIN multi USING (seq))
           SELECT x.identifier_id AS a, y.identifier_id AS b, min(x.seq) AS first_seq
           FROM m x JOIN m y ON x.seq = y.seq AND x.identifier_id < y.identifier_id
           GROUP BY 1, 2"""
    )


def rebuild(
    store: Store, spec: IdentitySpec, progress: Callable[[int, int], None] | None = None
) -> IdentityReport:
    """Recompute the whole identity graph from the event log, in one transaction."""
    started = time.perf_counter()
    report = IdentityReport()
    tick = _ticker(report)
    upto = _max_seq(store)
    occurrences = extract(store, spec, 0, upto)
    tick("extract")
    occ = normalize_occurrences(occurrences, spec, Normalizers(spec.default_region))
    tick("normalize")
    compute = duckdb.connect(":memory:")
    compute.register("occ", occ)
    compute.execute(
        """CREATE TABLE ids AS
           SELECT row_number() OVER (ORDER BY first_seq, type_rank, value) - 1 AS id, *
           FROM (SELECT type, value, min(seq) AS first_seq, min(type_rank) AS type_rank
                 FROM occ GROUP BY type, value)"""
    )
    _occurrence_ids(compute)
    ids = compute.sql("SELECT id, type, value, first_seq, type_rank FROM ids ORDER BY id")
    ids_table = ids.to_arrow_table()
    pairs = compute.sql("SELECT a, b, first_seq FROM pairs").fetchnumpy()
    tick("pairs")
    types = ids_table.column("type_rank").to_numpy().astype(np.int64)
    blocked_values = _blocklist(store)
    blocked = np.array(
        [
            (t, v) in blocked_values
            for t, v in zip(
                ids_table.column("type").to_pylist(),
                ids_table.column("value").to_pylist(),
                strict=True,
            )
        ]
        if blocked_values
        else np.zeros(ids_table.num_rows, dtype=bool),
        dtype=bool,
    )
    limits = {spec.rank(kind): limit for kind, limit in spec.limits().items()}
    result = batch_profiles(
        types,
        pairs["a"].astype(np.int64),
        pairs["b"].astype(np.int64),
        pairs["first_seq"].astype(np.int64),
        limits,
        blocked,
    )
    tick("graph")
    profile = result.profile_of
    identifiers = pa.table(
        {
            "id": ids_table.column("id"),
            "type": ids_table.column("type"),
            "value": ids_table.column("value"),
            "profile_id": pa.array(np.where(profile < 0, 0, profile), mask=profile < 0),
            "first_seq": ids_table.column("first_seq"),
            "quarantined": pa.array(result.quarantined),
        }
    )
    q = np.flatnonzero(result.quarantined)
    quarantine = pa.table(
        {
            "identifier_id": pa.array(q, pa.int64()),
            "linked_type": pa.array(
                [_linked_name(spec, int(code)) for code in result.quarantine_type[q]], pa.string()
            ),
            "since_seq": pa.array(result.quarantine_seq[q], pa.int64()),
        }
    )
    merges = pa.table(
        {
            "seq": pa.array(result.merge_seq, pa.int64()),
            "identifier_id": pa.array(result.merge_a, pa.int64()),
            "linked_identifier_id": pa.array(result.merge_b, pa.int64()),
        }
    )
    event_ids = compute.sql("SELECT seq, identifier_id, timestamp FROM ei").to_arrow_table()
    links = compute.sql("SELECT a, b, first_seq FROM pairs").to_arrow_table()
    compute.close()
    with store.transaction():
        store.write_table("identifiers", identifiers, replace=True)
        store.write_table("event_identifiers", event_ids, replace=True)
        store.write_table("identity_links", links, replace=True)
        store.write_table("identity_merges", merges, replace=True)
        store.write_table("identity_quarantine", quarantine, replace=True)
        _set_watermark(store, upto)
    tick("write")
    report.events = upto
    report.identifiers = identifiers.num_rows
    report.profiles = int(np.unique(profile[profile >= 0]).size)
    report.quarantined = int(q.size)
    report.merges = merges.num_rows
    report.seconds = time.perf_counter() - started
    if progress:
        progress(upto, upto)
    return report


def _linked_name(spec: IdentitySpec, code: int) -> str:
    if code == BLOCKED:
        return "blocklist"
    if code == SPLIT:
        return "profile_limit"
    return spec.identifiers[code].type


def _linked_code(spec: IdentitySpec, name: str) -> int:
    if name == "blocklist":
        return BLOCKED
    if name == "profile_limit":
        return SPLIT
    return spec.rank(name)


def _ticker(report: IdentityReport) -> Callable[[str], None]:
    last = [time.perf_counter()]

    def tick(name: str) -> None:
        now = time.perf_counter()
        report.timings[name] = round(now - last[0], 3)
        last[0] = now

    return tick
