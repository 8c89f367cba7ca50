"""One cross-channel timeline, newest first, in pages that neither repeat nor skip an event.

A page holds the `limit` newest events strictly older than `before`; the next page starts
before the oldest event shown (`next_before`). Events sharing that exact timestamp all go on
the same page — a page may then run a little over `limit` — because a timestamp cursor could
otherwise never reach the ones left behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from clientcore.profiles.history import StoredEvent


@dataclass(frozen=True)
class TimelineItem:
    seq: int
    timestamp: datetime
    channel: str
    type: str
    event: str | None
    source: str
    properties: dict[str, Any]
    payload: dict[str, Any]

    @property
    def title(self) -> str:
        """What happened, as a person would name it ("Order Completed", "identify")."""
        return self.event or self.type

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "timestamp": self.timestamp.isoformat(),
            "channel": self.channel,
            "type": self.type,
            "event": self.event,
            "source": self.source,
            "properties": self.properties,
            "payload": self.payload,
        }


def utc(moment: datetime) -> datetime:
    """A naive timestamp is taken as UTC, like the event log's."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def newest_first(events: Iterable[StoredEvent]) -> list[StoredEvent]:
    """Newest first; of events at the same instant, the later stored (higher seq) first."""
    return sorted(events, key=lambda e: (e.timestamp, e.seq), reverse=True)


def page(
    ordered: Sequence[StoredEvent], limit: int, before: datetime | None = None
) -> tuple[list[StoredEvent], datetime | None]:
    """The page of `ordered` (newest first) strictly before `before`, and the next cursor."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    start = 0
    if before is not None:
        cutoff = utc(before)
        while start < len(ordered) and ordered[start].timestamp >= cutoff:
            start += 1
    end = min(start + limit, len(ordered))
    while start < end < len(ordered) and ordered[end].timestamp == ordered[end - 1].timestamp:
        end += 1
    shown = list(ordered[start:end])
    more = end < len(ordered)
    return shown, (shown[-1].timestamp if more and shown else None)


def properties_of(payload: Mapping[str, Any]) -> dict[str, Any]:
    """What the event says: `properties` for track/page/screen, `traits` for identify/group."""
    for key in ("properties", "traits"):
        value = payload.get(key)
        if isinstance(value, dict) and value:
            return value
    return {}


def item(stored: StoredEvent) -> TimelineItem:
    """The timeline's view of one stored event."""
    return TimelineItem(
        seq=stored.seq,
        timestamp=stored.timestamp,
        channel=stored.channel,
        type=stored.type,
        event=stored.event,
        source=stored.source,
        properties=properties_of(stored.payload),
        payload=stored.payload,
    )
