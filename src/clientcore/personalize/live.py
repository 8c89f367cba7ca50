"""What happened since the model was trained, read from the store at request time.

The model holds every profile's history up to its watermark, and the profile's identifier
ids. A request adds, through the indexes only (never a scan of the log), in three queries:

1. the profile of `profile` (any identifier, normalized as the profile view does) and the
   visit's anonymousId, in one lookup — a signed-in visitor brings their history along;
2. which events carry the profile's identifiers or the visit's anonymousId, with their times
   (the identifier index): the profile's events after the watermark (a purchase an hour ago
   is "just bought") and the visit's events of the last hours;
3. those events by seq, together with the ones collected a moment ago that identity has not
   stitched yet (after the identity watermark, matched on `anonymous_id` / `user_id`; on
   DuckDB the seq zone maps keep that to the newest row group).

A profile that did not exist at training is looked up in the store instead (one more query).
Identifiers a known profile gained since training are not followed until the next training,
except the visit's own. The visit going on is the trailing run of the anonymousId's events
without a 30-minute pause.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
_COLUMNS = f"seq, timestamp, event, anonymous_id, {_PAYLOAD}"
_BY_SEQ = f"SELECT {_COLUMNS} FROM events WHERE seq IN ({{marks}})"
_TAIL = f"SELECT {_COLUMNS} FROM events WHERE seq > ? AND (anonymous_id = ? OR user_id = ?)"
IDENTITY_WATERMARK = (
    "SELECT coalesce(max(value), 0) FROM identity_state WHERE name = 'identity_watermark'"
)


@dataclass(frozen=True)
class LiveContext:
    context: Context
    profile_id: int | None
    session_events: int  # product events of the visit going on
    new_events: int  # the profile's product events after the model's watermark


@dataclass(frozen=True)
class _Row:
    seq: int
    t: float
    event: str | None
    anonymous_id: str | None
    payload: str | None


@dataclass
class _Resolved:
    profile_id: int | None = None
    session_ident: int | None = None
    session_profile: int | None = None
    matched: dict[int, list[int]] = field(default_factory=dict)  # profile -> identifier ids
    user_id: str | None = None  # the userId `profile` was, when it was one


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
    """The context of one request. `identity_watermark` may be a recent reading of the
    identity follower's watermark (a stale, smaller value only widens the last query)."""
    found = _resolve(store, profile, session, spec or load_spec())
    profile_id = found.profile_id if found.profile_id is not None else found.session_profile
    idents: list[int] = []
    if profile_id is not None:
        known = model.history.identifiers(profile_id)
        if known is None:
            known = np.array(
                [int(r[0]) for r in store.query(
                    "SELECT id FROM identifiers WHERE profile_id = ?", [profile_id]
                )],
                dtype=np.int64,
            )  # fmt: skip
        idents = sorted(set(known.tolist()) | set(found.matched.get(profile_id, [])))
    if identity_watermark is None:
        identity_watermark = int(store.query(IDENTITY_WATERMARK)[0][0])
    rows = _rows(store, model.watermark, idents, found, session, identity_watermark, now)
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


def _resolve(
    store: Store, profile: str | None, session: str | None, spec: IdentitySpec
) -> _Resolved:
    """The profile `profile` denotes and the visit's identifier, in one query.

    `profile` is resolved exactly as `profiles.lookup.find_profile` does (every spelling it
    could be; the spelling whose normalizer fits the stored type wins); the visit's
    anonymousId rides along in the same IN list.
    """
    out = _Resolved()
    spellings = candidates(profile, spec.default_region) if profile else []
    values = list(dict.fromkeys([v for _, v in spellings] + ([session] if session else [])))
    if not values:
        return out
    marks = ", ".join("?" for _ in values)
    rows = store.query(
        "SELECT id, type, value, profile_id, quarantined FROM identifiers "
        f"WHERE value IN ({marks})",
        values,
    )
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


def _rows(
    store: Store,
    watermark: int,
    idents: list[int],
    found: _Resolved,
    session: str | None,
    identity_watermark: int,
    now: float,
) -> dict[int, _Row]:
    """The profile's events after the model's watermark, the visit's recent events, and what
    arrived after the identity watermark for either.

    The identifier index carries each event's time, so only events that can matter — after
    the watermark, or in the last hours of the visit — are read from the log (reading a
    payload decompresses its row group: the costly part of a lookup).
    """
    wanted = [*idents, *([found.session_ident] if found.session_ident is not None else [])]
    seqs: set[int] = set()
    if wanted:
        marks = ", ".join("?" for _ in range(len(wanted) + 1))
        pairs = store.query(
            "SELECT identifier_id, seq, timestamp FROM event_identifiers "
            f"WHERE identifier_id IN ({marks})",
            [*wanted, _SENTINEL],
        )
        profile_set = set(idents)
        recent = now - VISIT_HOURS * 3600
        for ident, seq, when in pairs:
            t = when.timestamp()
            if t > now:
                continue
            if (int(ident) in profile_set and int(seq) > watermark) or (
                int(ident) == found.session_ident and t >= recent
            ):
                seqs.add(int(seq))
    parts: list[str] = []
    params: list[Any] = []
    if seqs:
        chosen = sorted(seqs)[-MAX_EVENTS:]
        parts.append(_BY_SEQ.format(marks=", ".join("?" for _ in chosen)))
        params += chosen
    if session or found.user_id:
        parts.append(_TAIL)
        params += [identity_watermark, session or "", found.user_id or ""]
    if not parts:
        return {}
    sql = " UNION ALL ".join(parts)
    return {int(r[0]): _row(r) for r in store.query(sql, params)}


def _row(r: tuple[Any, ...]) -> _Row:
    return _Row(int(r[0]), r[1].timestamp(), r[2], r[3], r[4])


def _products(rows: list[_Row], index: dict[str, int]) -> tuple[np.ndarray, ...]:
    """(items, kinds, times) of the product events among `rows`."""
    items: list[int] = []
    kinds: list[int] = []
    times: list[float] = []
    for r in rows:
        kind = KIND_OF_EVENT.get(r.event or "")
        if kind is None or not r.payload:
            continue
        properties = orjson.loads(r.payload).get("properties") or {}
        if not isinstance(properties, dict):
            continue
        if kind == BUY:
            lines = properties.get("products")
            lines = lines if isinstance(lines, list) else []
            ids = [p.get("product_id") for p in lines if isinstance(p, dict)]
        else:
            ids = [properties.get("product_id")]
        for pid in ids:
            item = index.get(str(pid)) if pid is not None else None
            if item is not None:
                items.append(item)
                kinds.append(kind)
                times.append(r.t)
    return (np.array(items, np.int32), np.array(kinds, np.int8), np.array(times, np.float64))
