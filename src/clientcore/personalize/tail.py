"""The tail of the event log, kept in server memory, so a recommendation reads no store.

A request needs what the model does not hold (see `live.py`): the person's events after the
model's watermark and the visit's events of the last hours. The server follows the log the way
the identity follower does and keeps exactly those: every event after a base seq (at most the
model's watermark) or newer than a horizon (at most `VISIT_HOURS` before any moment served
from memory), indexed by anonymousId, userId and — once identity has stitched them — by
identifier id (the `event_identifiers` rows of those events). People are resolved in the
identity graph the server already keeps in memory.

Catching up is one query for new events and one for newly stitched identifiers; the service
does it before answering whenever the collector committed since, so an event collected a
moment ago changes the next answer at once. A request the tail does not cover (a replay older
than the horizon, a server without the identity graph) is read from the store instead. An
identity rebuild renumbers identifiers: the tail sees a new graph and indexes them anew. What
it holds grows with the events collected between two trainings (a new model's watermark lets
it drop them), plus a few hours of visits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from clientcore.personalize.live import (
    COLUMNS,
    IDENTITY_WATERMARK,
    VISIT_HOURS,
    Resolved,
    Row,
    chosen_seqs,
    lookup_values,
    resolve_rows,
    row_of,
)
from clientcore.store import Store

if TYPE_CHECKING:
    from clientcore.identity.sync import IdentityService

Key = TypeVar("Key", str, int)
HORIZON_SLACK_SECONDS = 600.0  # the horizon sits this far behind the last visit window
PRUNE_SECONDS = 60.0  # how often the tail drops what no request can need any more
_EVENTS = (
    f"SELECT {COLUMNS} FROM events WHERE seq > ? AND seq <= ? "
    "AND (seq > ? OR timestamp >= to_timestamp(?))"
)
_STITCHED = (
    "SELECT identifier_id, seq FROM event_identifiers WHERE seq > ? AND seq <= ? "
    "AND (seq > ? OR timestamp >= to_timestamp(?))"
)
_NEWEST = "SELECT coalesce(max(seq), 0) FROM events WHERE seq > ?"
_NEWEST_TIME = "SELECT epoch(max(timestamp)) FROM events"
_NEWEST_TIME_PG = "SELECT extract(epoch FROM max(timestamp))::float8 FROM events"


class LogTail:
    """Every event after `base` or newer than `horizon` (`events`, by seq), with three
    indexes."""

    def __init__(
        self,
        store: Store,
        base: int,
        identity: Callable[[], IdentityService | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.identity = identity
        self.clock = clock
        self.base = base
        self.postgres = store.url.startswith(("postgresql://", "postgres://"))
        self.events: dict[int, Row] = {}
        self.by_anonymous: dict[str, list[int]] = {}
        self.by_user: dict[str, list[int]] = {}
        self.by_identifier: dict[int, list[int]] = {}
        self.seq = 0  # events read up to here
        self.stitched = 0  # identifier rows read up to here (identity's watermark then)
        self._lock = threading.Lock()
        self._pruned_at = time.monotonic()
        self._graph: IdentityService | None = None  # the identity service indexed for
        self.newest: float | None = None  # the newest event time seen
        self.horizon = self._horizon()
        self.catch_up()

    def _horizon(self) -> float:
        """The oldest moment a request served from the tail may look back to: some hours
        before the newest event (or the clock, when that is earlier — a log in the past, as
        the demo's, keeps its last hours servable)."""
        if self.newest is None:
            sql = _NEWEST_TIME_PG if self.postgres else _NEWEST_TIME
            found = self.store.query(sql)[0][0]
            self.newest = float(found) if found is not None else None
        now = self.clock()
        latest = min(now, self.newest) if self.newest is not None else now
        return latest - VISIT_HOURS * 3600 - HORIZON_SLACK_SECONDS

    def covers(self, now: float, watermark: int) -> bool:
        """Can a request at `now`, for a model with this watermark, be answered from here?"""
        return self.base <= watermark and now - VISIT_HOURS * 3600 >= self.horizon

    # -- following the log -----------------------------------------------------------------
    def catch_up(self, watermark: int | None = None) -> int:
        """Read what was committed since the last call; the number of new events.

        `watermark` (the model's in service) lets the tail drop, now and then, events no
        request can need: at or before it, and older than a horizon moved up to the clock.
        """
        with self._lock:
            service = self.identity()
            if service is not self._graph:  # a rebuild renumbers identifiers: index anew
                self._graph = service
                self.by_identifier.clear()
                self.stitched = 0
            stitched = self._identity_watermark()
            upto = int(self.store.query(_NEWEST, [self.seq])[0][0])
            new = 0
            if upto > self.seq:
                for raw in self.store.query(_EVENTS, [self.seq, upto, self.base, self.horizon]):
                    self._add(row_of(raw))
                    new += 1
                self.seq = upto
            stitched = min(stitched, self.seq)
            if stitched > self.stitched:
                params = [self.stitched, stitched, self.base, self.horizon]
                for ident, seq in self.store.query(_STITCHED, params):
                    if int(seq) in self.events:
                        self.by_identifier.setdefault(int(ident), []).append(int(seq))
                self.stitched = stitched
            if watermark is not None and time.monotonic() - self._pruned_at > PRUNE_SECONDS:
                self._prune(watermark)
            return new

    def status(self) -> dict[str, Any]:
        return {
            "events": len(self.events),
            "read_to_seq": self.seq,
            "stitched_to_seq": self.stitched,
            "base_seq": self.base,
            "horizon": self.horizon,
        }

    def behind(self) -> bool:
        """Has identity stitched past what the tail has read, or been rebuilt? (Free: the
        graph's own watermark, in memory.)"""
        service = self.identity()
        return service is not self._graph or (
            service is not None and service.watermark > self.stitched
        )

    def _identity_watermark(self) -> int:
        service = self.identity()
        if service is not None:
            return int(service.watermark)
        return int(self.store.query(IDENTITY_WATERMARK)[0][0])

    def _add(self, row: Row) -> None:
        self.events[row.seq] = row
        if self.newest is None or row.t > self.newest:
            self.newest = row.t
        if row.anonymous_id:
            self.by_anonymous.setdefault(row.anonymous_id, []).append(row.seq)
        if row.user_id:
            self.by_user.setdefault(row.user_id, []).append(row.seq)

    def _prune(self, watermark: int) -> None:
        """Drop events at or before the model's watermark and older than the new horizon."""
        self._pruned_at = time.monotonic()
        horizon = max(self.horizon, self._horizon())
        base = max(self.base, watermark)
        gone = {s for s, r in self.events.items() if s <= base and r.t < horizon}
        self.base, self.horizon = base, horizon
        if not gone:
            return
        for seq in gone:
            del self.events[seq]
        _drop(self.by_anonymous, gone)
        _drop(self.by_user, gone)
        _drop(self.by_identifier, gone)

    # -- a request's reads (the `Source` protocol of live.py) ------------------------------
    def resolve(self, profile: str | None, session: str | None) -> Resolved:
        """As the store lookup, in the identity graph: every identifier holding one of the
        values, with its profile (read without compressing paths: the follower owns it)."""
        service = self.identity()
        if service is None:
            raise RuntimeError("the log tail resolves people in the identity graph")
        spellings, values = lookup_values(profile, session, service.spec)
        return resolve_rows(_identifier_rows(service, values), spellings, session, service.spec)

    def identifiers_of(self, profile_id: int) -> list[int]:
        service = self.identity()
        if service is None or profile_id >= len(service.keys):
            return []
        graph = service.graph
        members = graph.members.get(_root(graph, profile_id), [])
        return [m for m in list(members) if _profile(graph, m) == profile_id]

    def rows(
        self, watermark: int, idents: list[int], found: Resolved, session: str | None, now: float
    ) -> dict[int, Row]:
        with self._lock:
            return self._rows(watermark, idents, found, session, now)

    def _rows(
        self, watermark: int, idents: list[int], found: Resolved, session: str | None, now: float
    ) -> dict[int, Row]:
        wanted = [*idents, *([found.session_ident] if found.session_ident is not None else [])]
        chosen = chosen_seqs(self._pairs(wanted), idents, found.session_ident, watermark, now)
        out = {s: self.events[s] for s in chosen}
        tail: list[int] = []
        if session:
            tail += self.by_anonymous.get(session, [])
        if found.user_id:
            tail += self.by_user.get(found.user_id, [])
        for s in tail:
            if s > self.stitched:
                out[s] = self.events[s]
        return out

    def _pairs(self, wanted: list[int]) -> Iterator[tuple[int, int, float]]:
        events = self.events
        for ident in dict.fromkeys(wanted):
            for seq in self.by_identifier.get(ident, ()):
                yield ident, seq, events[seq].t


def _drop(index: dict[Key, list[int]], gone: set[int]) -> None:
    """Remove the `gone` seqs from an index, and the keys left with none."""
    for key in [k for k, seqs in index.items() if any(s in gone for s in seqs)]:
        kept = [s for s in index[key] if s not in gone]
        if kept:
            index[key] = kept
        else:
            del index[key]


def _identifier_rows(
    service: IdentityService, values: list[str]
) -> list[tuple[int, str, str, int | None, bool]]:
    """(id, type, value, profile_id, quarantined) of every identifier with one of the values,
    as the `identifiers` table holds them."""
    graph = service.graph
    out: list[tuple[int, str, str, int | None, bool]] = []
    for value in values:
        for rule in service.spec.identifiers:
            node = service.ids.get((rule.type, value))
            if node is None:
                continue
            quarantined = node in graph.quarantined or node in graph.cut
            profile = None if quarantined else _profile(graph, node)
            out.append((node, rule.type, value, profile, quarantined))
    return out


def _root(graph: Any, node: int) -> int:
    parent = graph.parent
    while parent[node] != node:
        node = parent[node]
    return node


def _profile(graph: Any, node: int) -> int | None:
    """The node's profile without writing to the graph (`IncrementalGraph.profile` compresses
    paths, and the identity follower may be updating it)."""
    if node in graph.quarantined or node in graph.cut:
        return None
    final = graph.final.get(node)
    return int(final) if final is not None else _root(graph, node)
