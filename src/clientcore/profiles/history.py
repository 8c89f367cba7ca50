"""The profile's events, read through the indexes only: never a scan of the event log.

Two point lookups: which events carry the profile's identifiers (index on
`event_identifiers.identifier_id`, only `seq` read: the narrow column DuckDB fetches cheaply),
then those events by `events.seq`. One read of the events serves the summary, the traits and
the timeline page; the payload is decoded here, with orjson, not by the engine, so the SQL is
the same on both backends.

Two DuckDB habits shape the SQL: it turns `IN` over consecutive ids into a range filter and
scans the whole table, so the identifier list carries one far-away sentinel id (rows for it,
should one exist, are dropped here); and a very long IN list costs more to plan than to
answer, so seq lists go in chunks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from clientcore.store import Store

CHUNK = 1000  # ids per IN list
_SENTINEL = -(2**62)  # never next to a real id, so the IN list is never a dense range

_SEQS = "SELECT identifier_id, seq FROM event_identifiers WHERE identifier_id IN ({marks})"
_EVENTS = """SELECT seq, timestamp, source, type, event, channel, CAST(payload AS VARCHAR)
    FROM events WHERE seq IN ({marks})"""


@dataclass(frozen=True)
class StoredEvent:
    """One event of the profile, its payload decoded."""

    seq: int
    timestamp: datetime
    source: str
    type: str
    event: str | None
    channel: str
    payload: dict[str, Any]

    def section(self, *path: str) -> dict[str, Any] | None:
        """A JSON object inside the payload (`traits`, `context.traits`), if it is one."""
        node: Any = self.payload
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        return node if isinstance(node, dict) else None

    def text(self, *path: str) -> str | None:
        """A scalar inside the payload as text (amounts as sent: 12.5 or "12.50")."""
        node: Any = self.payload
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node is None or isinstance(node, dict | list | bool):
            return None
        return str(node)


def _chunks(values: Sequence[int], size: int = CHUNK) -> Iterator[list[int]]:
    for start in range(0, len(values), size):
        yield [int(v) for v in values[start : start + size]]


def _marks(n: int) -> str:
    return ", ".join("?" for _ in range(n))


def event_seqs(store: Store, identifier_ids: Sequence[int]) -> dict[int, set[int]]:
    """The seqs of the events carrying each identifier, from the identifier index."""
    wanted = {int(i) for i in identifier_ids}
    found: dict[int, set[int]] = {i: set() for i in wanted}
    for chunk in _chunks(sorted(wanted)):
        params = [*chunk, _SENTINEL]
        for identifier_id, seq in store.query(_SEQS.format(marks=_marks(len(params))), params):
            if int(identifier_id) in found:
                found[int(identifier_id)].add(int(seq))
    return found


def events(store: Store, seqs: Sequence[int]) -> list[StoredEvent]:
    """These events, by the seq index, payloads decoded."""
    loaded: list[StoredEvent] = []
    for chunk in _chunks(sorted({int(s) for s in seqs})):
        for seq, timestamp, source, kind, event, channel, payload in store.query(
            _EVENTS.format(marks=_marks(len(chunk))), chunk
        ):
            decoded = orjson.loads(payload) if payload else {}
            loaded.append(
                StoredEvent(
                    int(seq),
                    timestamp,
                    source,
                    kind,
                    event,
                    channel,
                    decoded if isinstance(decoded, dict) else {},
                )
            )
    return loaded
