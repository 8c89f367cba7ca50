"""The event log's books: what is stored, by type, channel and source, and what was refused."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from clientcore.collect import CollectError
from clientcore.collect.ingest import commit, prepare
from clientcore.store import Store


@dataclass(frozen=True)
class EventStats:
    total: int
    rejected: int
    rejected_pending: int
    by_type: dict[str, int]
    by_channel: dict[str, int]
    by_source: dict[str, int]
    by_event: dict[str, int]
    first_timestamp: str | None
    last_timestamp: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _counts(store: Store, column: str, limit: int | None = None) -> dict[str, int]:
    sql = (
        f"SELECT coalesce({column}, '(none)') AS k, count(*) AS n FROM events "
        f"GROUP BY 1 ORDER BY n DESC, k"
    )
    if limit:
        sql += f" LIMIT {int(limit)}"
    return {str(k): int(n) for k, n in store.query(sql)}


def event_stats(store: Store) -> EventStats:
    total, first, last = store.query("SELECT count(*), min(timestamp), max(timestamp) FROM events")[
        0
    ]
    rejected, pending = store.query(
        "SELECT count(*), count(*) FILTER (WHERE replayed_at IS NULL) FROM rejected_events"
    )[0]
    return EventStats(
        total=int(total),
        rejected=int(rejected),
        rejected_pending=int(pending or 0),
        by_type=_counts(store, "type"),
        by_channel=_counts(store, "channel"),
        by_source=_counts(store, "source"),
        by_event=_counts(store, "event", limit=30),
        first_timestamp=first.astimezone(UTC).isoformat() if first else None,
        last_timestamp=last.astimezone(UTC).isoformat() if last else None,
    )


def rejected_events(
    store: Store, limit: int = 100, include_replayed: bool = False
) -> list[dict[str, Any]]:
    where = "" if include_replayed else "WHERE replayed_at IS NULL"
    rows = store.query(
        f"SELECT id, source, origin, position, field, reason, payload, rejected_at, replayed_at "
        f"FROM rejected_events {where} ORDER BY id LIMIT ?",
        [limit],
    )
    names = ("id", "source", "origin", "position", "field", "reason", "payload")
    out = []
    for row in rows:
        item = dict(zip(names, row[:7], strict=True))
        item["rejected_at"] = row[7].isoformat() if row[7] else None
        item["replayed_at"] = row[8].isoformat() if row[8] else None
        out.append(item)
    return out


@dataclass(frozen=True)
class ReplayOutcome:
    replayed: int
    stored: int
    still_rejected: int
    duplicates: int

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def replay_rejected(
    store: Store, ids: list[int] | None = None, fixed_payloads: dict[int, str] | None = None
) -> ReplayOutcome:
    """Judge kept-aside events again (after a fix to the payload or to the rules).

    Those that now pass are stored and marked replayed; those that still fail stay where they
    are, untouched, so nothing is lost either way.
    """
    fixed_payloads = fixed_payloads or {}
    where = "WHERE replayed_at IS NULL"
    params: list[Any] = []
    if ids:
        where += f" AND id IN ({', '.join('?' for _ in ids)})"
        params.extend(ids)
    rows = store.query(
        f"SELECT id, source, payload FROM rejected_events {where} ORDER BY id", params
    )
    if ids and len(rows) != len(set(ids)):
        found = {row[0] for row in rows}
        missing = sorted(set(ids) - found)
        raise CollectError(f"no pending rejected event with id {missing[0]}", field="id")
    stored = duplicates = still = 0
    now = datetime.now(UTC)
    by_source: dict[str, list[tuple[int, str]]] = {}
    for rid, source, payload in rows:
        by_source.setdefault(source, []).append((rid, fixed_payloads.get(rid, payload)))
    for source, items in by_source.items():
        prepared = prepare(
            [payload.encode() for _, payload in items], source, "replay", received_at=now
        )
        failed = {r.index for r in prepared.rejections}
        passed = [rid for i, (rid, _) in enumerate(items) if i not in failed]
        still += len(failed)
        if not passed:
            continue
        # Those still failing stay kept aside as they are: store the batch without them, and
        # mark the originals replayed in the same transaction.
        clean = replace(prepared, rejected=())
        with store.transaction():
            outcome = commit(store, [clean])
            store.execute(
                f"UPDATE rejected_events SET replayed_at = current_timestamp "
                f"WHERE id IN ({', '.join('?' for _ in passed)})",
                passed,
            )
        stored += outcome.inserted
        duplicates += outcome.duplicates
    return ReplayOutcome(len(rows) - still, stored, still, duplicates)
