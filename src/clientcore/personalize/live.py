"""What happened since the model was trained, at request time: from the server's memory (the
log's tail it follows, see `tail.py`) or, where that does not reach, from the store.

The model holds every profile's history up to its watermark, and the profile's identifier
ids. A request adds, whichever the source:

1. the profile of `profile` (any identifier, normalized as the profile view does) and the
   visit's anonymousId — a signed-in visitor brings their history along;
2. which events carry the profile's identifiers or the visit's anonymousId, with their times
   (the identifier index): the profile's events after the watermark (a purchase an hour ago
   is "just bought") and the visit's events of the last hours;
3. those events, together with the ones collected a moment ago that identity has not
   stitched yet (after the identity watermark, matched on `anonymous_id` / `user_id`).

From the store that is three queries through the indexes (never a scan of the log; on DuckDB
the seq zone maps keep the last to the newest row group), plus one for a profile that did not
exist at training. Identifiers a known profile gained since training are not followed until
the next training, except the visit's own. The visit going on is the trailing run of the
anonymousId's events without a 30-minute pause.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
import orjson

from clientcore.identity.normalize import candidates
from clientcore.identity.spec import IdentitySpec, load_spec
from clientcore.personalize.data import BUY, COMMERCE_EVENTS, KIND_OF_EVENT
from clientcore.personalize.features import Context
from clientcore.personalize.model import Recommender
from clientcore.personalize.sessions import current_session
from clientcore.store import Store

VISIT_HOURS = 6.0  # a visit going on now started at most this long ago
MAX_EVENTS = 500  # newest events read per request
_SENTINEL = -(2**62)  # keeps an IN list from looking like a dense range (see profiles.history)
_COMMERCE = ", ".join(f"'{e}'" for e in COMMERCE_EVENTS)
_PAYLOAD = f"CASE WHEN event IN ({_COMMERCE}) THEN CAST(payload AS VARCHAR) END"
COLUMNS = f"seq, timestamp, event, anonymous_id, user_id, {_PAYLOAD}"
_BY_SEQ = f"SELECT {COLUMNS} FROM events WHERE seq IN ({{marks}})"
_TAIL = f"SELECT {COLUMNS} FROM events WHERE seq > ? AND (anonymous_id = ? OR user_id = ?)"
IDENTITY_WATERMARK = (
    "SELECT coalesce(max(value), 0) FROM identity_state WHERE name = 'identity_watermark'"
)
_NO_PRODUCTS: tuple[str, ...] = ()


@dataclass(frozen=True)
class LiveContext:
    context: Context
    profile_id: int | None
    session_events: int  # product events of the visit going on
    new_events: int  # the profile's product events after the model's watermark


@dataclass(frozen=True, slots=True)
class Row:
    """One event as the recommender needs it: its product ids read from the payload once."""

    seq: int
    t: float
    event: str | None
    anonymous_id: str | None
    user_id: str | None
    kind: int | None  # VIEW, ADD, BUY, RETURN; None for other events
    products: tuple[str, ...]


def row_of(r: tuple[Any, ...]) -> Row:
    """A `Row` from (seq, timestamp, event, anonymous_id, user_id, commerce payload)."""
    seq, when, event, anonymous_id, user_id, payload = r
    kind = KIND_OF_EVENT.get(event or "")
    products = _product_ids(kind, payload) if kind is not None and payload else _NO_PRODUCTS
    t = when.timestamp() if isinstance(when, datetime) else float(when)
    return Row(int(seq), t, event, anonymous_id, user_id, kind, products)


def _product_ids(kind: int, payload: str) -> tuple[str, ...]:
    properties = orjson.loads(payload).get("properties") or {}
    if not isinstance(properties, dict):
        return _NO_PRODUCTS
    if kind == BUY:
        lines = properties.get("products")
        lines = lines if isinstance(lines, list) else []
        ids = [p.get("product_id") for p in lines if isinstance(p, dict)]
    else:
        ids = [properties.get("product_id")]
    return tuple(str(pid) for pid in ids if pid is not None)


@dataclass
class Resolved:
    profile_id: int | None = None
    session_ident: int | None = None
    session_profile: int | None = None
    matched: dict[int, list[int]] = field(default_factory=dict)  # profile -> identifier ids
    user_id: str | None = None  # the userId `profile` was, when it was one


class Source(Protocol):
    """Where a request reads what the model does not hold: the store, or the server's memory."""

    def resolve(self, profile: str | None, session: str | None) -> Resolved: ...

    def identifiers_of(self, profile_id: int) -> Iterable[int]:
        """Every identifier id of a profile the model did not know at training."""
        ...

    def rows(
        self, watermark: int, idents: list[int], found: Resolved, session: str | None, now: float
    ) -> dict[int, Row]:
        """The profile's events after the model's watermark, the visit's recent events, and
        what arrived after the identity watermark for either, by seq."""
        ...


def read_context(
    store: Store,
    model: Recommender,
    profile: str | None,
    session: str | None,
    now: float,
    channel: int | None,
    spec: IdentitySpec | None = None,
    identity_watermark: int | None = None,
) -> LiveContext:
    """The context of one request, from the store. `identity_watermark` may be a recent
    reading of the identity follower's watermark (a stale, smaller value only widens the last
    query)."""
    source = StoreSource(store, spec or load_spec(), identity_watermark)
    return context_of(source, model, profile, session, now, channel)


def context_of(
    source: Source,
    model: Recommender,
    profile: str | None,
    session: str | None,
    now: float,
    channel: int | None,
) -> LiveContext:
    """The context of one request: the model's history of the person, what the source says
    happened since, and the visit going on."""
    found = source.resolve(profile, session)
    profile_id = found.profile_id if found.profile_id is not None else found.session_profile
    idents: list[int] = []
    if profile_id is not None:
        known = model.history.identifiers(profile_id)
        owned = known.tolist() if known is not None else source.identifiers_of(profile_id)
        idents = sorted(set(owned) | set(found.matched.get(profile_id, [])))
    rows = source.rows(model.watermark, idents, found, session, now)
    ordered = [rows[s] for s in sorted(rows) if rows[s].t <= now]  # `at` replays the past
    visit = [r for r in ordered if session and r.anonymous_id == session]
    open_now = current_session(np.array([r.t for r in visit]), now)
    live_visit = [r for r, is_on in zip(visit, open_now, strict=True) if is_on]
    visit_seqs = {r.seq for r in live_visit}
    start = min((r.t for r in live_visit), default=np.inf)
    fresh = [
        r
        for r in ordered
        if r.seq > model.watermark
        and r.seq not in visit_seqs
        and not (session and r.anonymous_id == session and r.t >= start)
    ]
    if profile_id is not None:
        h_items, h_kinds, h_times, h_channels = model.history.rows(profile_id, min(now, start))
    else:
        h_items, h_kinds, h_times, h_channels = (
            np.zeros(0, np.int32), np.zeros(0, np.int8), np.zeros(0), np.zeros(0, np.int8),
        )  # fmt: skip
    f_items, f_kinds, f_times = _products(fresh, model.index)
    s_items, s_kinds, s_times = _products(live_visit, model.index)
    if channel is None:
        channel = int(h_channels[-1]) if len(h_channels) else 0
    base = Context(
        np.concatenate([h_items, f_items]).astype(np.int32),
        np.concatenate([h_kinds, f_kinds]).astype(np.int8),
        np.concatenate([h_times, f_times]),
        np.zeros(len(h_items) + len(f_items), bool),
        now,
        channel,
    )
    return LiveContext(
        base.with_session(s_items, s_kinds, s_times), profile_id, len(s_items), len(f_items)
    )


def resolve_rows(
    rows: Iterable[tuple[int, str, str, int | None, bool]],
    spellings: list[tuple[str, str]],
    session: str | None,
    spec: IdentitySpec,
) -> Resolved:
    """The profile `profile` denotes and the visit's identifier, from the identifier rows
    (id, type, value, profile_id, quarantined) holding any of their values.

    `profile` is resolved exactly as `profiles.lookup.find_profile` does (every spelling it
    could be; the spelling whose normalizer fits the stored type wins).
    """
    out = Resolved()
    normalizer_of = {rule.type: rule.normalize for rule in spec.identifiers}
    rank_of = {rule.type: position for position, rule in enumerate(spec.identifiers)}
    best: tuple[int, int, int, int] | None = None
    for ident, kind, value, owner, quarantined in rows:
        if session and kind == "anonymous_id" and value == session:
            out.session_ident = int(ident)
            out.session_profile = None if quarantined or owner is None else int(owner)
        if quarantined or owner is None:
            continue
        out.matched.setdefault(int(owner), []).append(int(ident))
        for position, (normalizer, spelled) in enumerate(spellings):
            if spelled == value:
                fits = 0 if normalizer_of.get(kind) == normalizer else 1
                key = (fits, position, rank_of.get(kind, len(rank_of)), int(owner))
                if best is None or key < best:
                    best = key
                    out.user_id = str(value) if kind == "user_id" else None
    out.profile_id = best[3] if best is not None else None
    return out


@lru_cache(maxsize=65_536)
def _spellings(raw: str, region: str) -> tuple[tuple[str, str], ...]:
    """Cached: a person asks again on every page, and parsing a phone costs ~0.2 ms."""
    return tuple(candidates(raw, region))


def lookup_values(
    profile: str | None, session: str | None, spec: IdentitySpec
) -> tuple[list[tuple[str, str]], list[str]]:
    """(spellings of `profile`, every value to look up: those and the visit's anonymousId)."""
    spellings = list(_spellings(profile, spec.default_region)) if profile else []
    values = list(dict.fromkeys([v for _, v in spellings] + ([session] if session else [])))
    return spellings, values


def chosen_seqs(
    pairs: Iterable[tuple[int, int, float]],
    idents: list[int],
    session_ident: int | None,
    watermark: int,
    now: float,
) -> list[int]:
    """Of the (identifier id, seq, time) index entries, the events that can matter — the
    profile's after the watermark, the visit's in the last hours — newest MAX_EVENTS, in seq
    order."""
    profile_set = set(idents)
    recent = now - VISIT_HOURS * 3600
    seqs: set[int] = set()
    for ident, seq, t in pairs:
        if t > now:
            continue
        if (ident in profile_set and seq > watermark) or (ident == session_ident and t >= recent):
            seqs.add(seq)
    return sorted(seqs)[-MAX_EVENTS:]


class StoreSource:
    """The store as a `Source`: three indexed queries a request."""

    def __init__(self, store: Store, spec: IdentitySpec, identity_watermark: int | None) -> None:
        self.store = store
        self.spec = spec
        self.identity_watermark = identity_watermark

    def resolve(self, profile: str | None, session: str | None) -> Resolved:
        """One query: every identifier row holding one of the values."""
        spellings, values = lookup_values(profile, session, self.spec)
        if not values:
            return Resolved()
        marks = ", ".join("?" for _ in values)
        rows = self.store.query(
            "SELECT id, type, value, profile_id, quarantined FROM identifiers "
            f"WHERE value IN ({marks})",
            values,
        )
        return resolve_rows(rows, spellings, session, self.spec)

    def identifiers_of(self, profile_id: int) -> list[int]:
        rows = self.store.query("SELECT id FROM identifiers WHERE profile_id = ?", [profile_id])
        return [int(r[0]) for r in rows]

    def rows(
        self, watermark: int, idents: list[int], found: Resolved, session: str | None, now: float
    ) -> dict[int, Row]:
        """The identifier index carries each event's time, so only events that can matter are
        read from the log (reading a payload decompresses its row group: the costly part)."""
        wanted = [*idents, *([found.session_ident] if found.session_ident is not None else [])]
        chosen: list[int] = []
        if wanted:
            marks = ", ".join("?" for _ in range(len(wanted) + 1))
            pairs = self.store.query(
                "SELECT identifier_id, seq, timestamp FROM event_identifiers "
                f"WHERE identifier_id IN ({marks})",
                [*wanted, _SENTINEL],
            )
            chosen = chosen_seqs(
                ((int(i), int(s), w.timestamp()) for i, s, w in pairs),
                idents,
                found.session_ident,
                watermark,
                now,
            )
        parts: list[str] = []
        params: list[Any] = []
        if chosen:
            parts.append(_BY_SEQ.format(marks=", ".join("?" for _ in chosen)))
            params += chosen
        if session or found.user_id:
            if self.identity_watermark is None:
                self.identity_watermark = int(self.store.query(IDENTITY_WATERMARK)[0][0])
            parts.append(_TAIL)
            params += [self.identity_watermark, session or "", found.user_id or ""]
        if not parts:
            return {}
        sql = " UNION ALL ".join(parts)
        return {int(r[0]): row_of(r) for r in self.store.query(sql, params)}


def _products(rows: list[Row], index: dict[str, int]) -> tuple[np.ndarray, ...]:
    """(items, kinds, times) of the product events among `rows`."""
    items: list[int] = []
    kinds: list[int] = []
    times: list[float] = []
    for r in rows:
        if r.kind is None:
            continue
        for pid in r.products:
            item = index.get(pid)
            if item is not None:
                items.append(item)
                kinds.append(r.kind)
                times.append(r.t)
    return (np.array(items, np.int32), np.array(kinds, np.int8), np.array(times, np.float64))
