"""Batch exports for the channels that are not a live page: one model, each channel's rules.

* web: every known customer's list (for a cache or a CDN edge).
* email: customers with an e-mail address who never unsubscribed; at most N per mail.
* ads: customer-match audiences, one per product, keyed by SHA-256 of the normalized e-mail
  and phone (what the ad networks' customer-match uploads take); at most N products a person.
* direct_mail: one mail per household — profiles that share a household e-mail or phone the
  identity graph quarantined (2 to 6 people) — with everything any member bought or returned
  kept off the list; at most N per mail.
* pickup: for each web or app order of the last days, N suggestions to hand over with it,
  nothing already in the order.

Lists are computed as of the model's data end from the history in the model.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson
from threadpoolctl import threadpool_limits

from clientcore.personalize.data import BUY, CHANNELS
from clientcore.personalize.errors import InvalidRequestError
from clientcore.personalize.features import Context
from clientcore.personalize.model import Recommender
from clientcore.personalize.rules import Rules
from clientcore.store import Store

ExportChannel = Literal["web", "email", "ads", "direct_mail", "pickup"]
EXPORT_CHANNELS: tuple[str, ...] = ("web", "email", "ads", "direct_mail", "pickup")
DEFAULT_ITEMS = {"web": 10, "email": 4, "ads": 3, "direct_mail": 6, "pickup": 3}
HOUSEHOLD_MAX = 6

Progress = Callable[[int, int], None]

_EMAILS = """SELECT profile_id, value, first_seq FROM identifiers
    WHERE type = ? AND NOT quarantined AND profile_id IS NOT NULL"""
_UNSUBSCRIBED = """SELECT DISTINCT i.profile_id FROM events e
    JOIN event_identifiers ei ON ei.seq = e.seq
    JOIN identifiers i ON i.id = ei.identifier_id
    WHERE e.event = 'Unsubscribed' AND i.profile_id IS NOT NULL AND NOT i.quarantined"""
_SHARED = """SELECT DISTINCT q.id, own.profile_id FROM identifiers q
    JOIN event_identifiers e1 ON e1.identifier_id = q.id
    JOIN event_identifiers e2 ON e2.seq = e1.seq
    JOIN identifiers own ON own.id = e2.identifier_id
    WHERE q.quarantined AND q.type IN ('email', 'phone')
      AND own.profile_id IS NOT NULL AND NOT own.quarantined"""
_ORDERS = """SELECT e.seq, e.timestamp, CAST(e.payload AS VARCHAR), min(i.profile_id)
    FROM events e
    JOIN event_identifiers ei ON ei.seq = e.seq
    JOIN identifiers i ON i.id = ei.identifier_id AND NOT i.quarantined
    WHERE e.event = 'Order Completed' AND e.timestamp >= ? AND e.channel IN ('web', 'mobile')
      AND i.profile_id IS NOT NULL
    GROUP BY e.seq, e.timestamp, CAST(e.payload AS VARCHAR)"""


@dataclass
class ExportReport:
    channel: str
    out: str
    model_version: str
    recipients: int = 0
    rows: int = 0
    skipped_empty: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def export(
    store: Store,
    model: Recommender,
    channel: str,
    out: Path,
    max_items: int | None = None,
    limit: int | None = None,
    days: float = 7.0,
    progress: Progress | None = None,
) -> ExportReport:
    if channel not in EXPORT_CHANNELS:
        raise InvalidRequestError(f"must be one of {', '.join(EXPORT_CHANNELS)}", "channel")
    k = max_items or DEFAULT_ITEMS[channel]
    if not 1 <= k <= 100:
        raise InvalidRequestError("must be between 1 and 100", "max-items")
    now = _data_end(model)
    report = ExportReport(channel, str(out), model.version)
    recipients = list(_recipients(store, model, channel, now, days))
    if limit is not None:
        recipients = recipients[:limit]
    records: list[dict[str, Any]] = []
    with threadpool_limits(limits=1, user_api="blas"):  # many tiny products: one thread
        _rank_all(model, recipients, k, records, report, progress)
    report.recipients = len(records)
    report.rows = _write(out, channel, records)
    if progress:
        progress(len(recipients), len(recipients))
    return report


def _rank_all(
    model: Recommender,
    recipients: list[tuple[dict[str, Any], Context, set[int]]],
    k: int,
    records: list[dict[str, Any]],
    report: ExportReport,
    progress: Progress | None,
) -> None:
    for done, (key, ctx, exclude) in enumerate(recipients):
        items = model.recommend(ctx, k, Rules(exclude=frozenset(exclude)))
        if progress and done % 100 == 0:
            progress(done, len(recipients))
        if not items:
            report.skipped_empty += 1
            continue
        listed = [
            {
                "rank": rank,
                "product_id": str(model.catalog.product_id[r.item]),
                "name": str(model.catalog.name[r.item]),
                "reason": r.reason["text"],
            }
            for rank, r in enumerate(items, start=1)
        ]
        records.append({**key, "items": listed})


def _data_end(model: Recommender) -> float:
    return float(model.models.now)


def _recipients(
    store: Store, model: Recommender, channel: str, now: float, days: float
) -> Iterator[tuple[dict[str, Any], Context, set[int]]]:
    history = model.history
    known = _known(store)
    if channel in ("web", "email", "ads"):
        emails = _latest(store, "email")
        phones = _latest(store, "phone")
        unsubscribed = {int(r[0]) for r in store.query(_UNSUBSCRIBED)}
        for profile in history.profiles.tolist():
            if profile not in known:
                continue
            key: dict[str, Any] = {"profile_id": profile}
            if channel == "email":
                if profile not in emails or profile in unsubscribed:
                    continue
                key["email"] = emails[profile]
            if channel == "ads":
                if profile not in emails and profile not in phones:
                    continue
                key["email_sha256"] = _sha(emails.get(profile))
                key["phone_sha256"] = _sha(phones.get(profile))
            yield key, history.context(profile, now, CHANNELS.index(_channel(channel))), set()
    elif channel == "direct_mail":
        for number, members in enumerate(_households(store, history.profiles, known)):
            parts = [history.context(p, now) for p in members]
            ctx = Context(
                np.concatenate([c.items for c in parts]).astype(np.int32),
                np.concatenate([c.kinds for c in parts]).astype(np.int8),
                np.concatenate([c.times for c in parts]),
                np.zeros(sum(len(c.items) for c in parts), bool),
                now,
                CHANNELS.index("other"),
            )
            yield {"household_id": f"hh_{number:07d}", "profile_ids": members}, ctx, set()
    else:
        yield from _pickups(store, model, now, days)


def _channel(export_channel: str) -> str:
    return {"web": "web", "email": "email", "ads": "social"}.get(export_channel, "other")


def _known(store: Store) -> set[int]:
    from clientcore.personalize.data import known_profiles

    return set(known_profiles(store).tolist())


def _latest(store: Store, kind: str) -> dict[int, str]:
    """Each profile's most recently first-seen identifier of a kind."""
    best: dict[int, tuple[int, str]] = {}
    for profile, value, first in store.query(_EMAILS, [kind]):
        p = int(profile)
        if p not in best or int(first) > best[p][0]:
            best[p] = (int(first), str(value))
    return {p: v for p, (_, v) in best.items()}


def _sha(value: str | None) -> str | None:
    if not value:
        return None
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()


def _households(store: Store, profiles: np.ndarray, known: set[int]) -> list[list[int]]:
    """Profiles joined by a shared (quarantined) household e-mail or phone, else alone."""
    members: dict[int, set[int]] = {}
    for identifier, profile in store.query(_SHARED):
        members.setdefault(int(identifier), set()).add(int(profile))
    parent: dict[int, int] = {}

    def root(p: int) -> int:
        while parent.get(p, p) != p:
            p = parent[p]
        return p

    for group in members.values():
        if not 2 <= len(group) <= HOUSEHOLD_MAX:
            continue  # a placeholder typed at a till joins strangers, not a family
        first, *rest = sorted(group)
        for other in rest:
            a, b = root(first), root(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    households: dict[int, list[int]] = {}
    for p in profiles.tolist():
        if p in known:
            households.setdefault(root(p), []).append(p)
    return [sorted(h) for h in households.values() if len(h) <= HOUSEHOLD_MAX]


def _pickups(
    store: Store, model: Recommender, now: float, days: float
) -> Iterator[tuple[dict[str, Any], Context, set[int]]]:
    from datetime import UTC, datetime

    since = datetime.fromtimestamp(now - days * 86400, UTC)
    orders = []
    for seq, when, payload, profile in store.query(_ORDERS, [since]):
        body = orjson.loads(payload) if payload else {}
        properties = body.get("properties") if isinstance(body, dict) else None
        if isinstance(properties, dict):
            orders.append((int(seq), when.timestamp(), properties, int(profile)))
    flagged = [o for o in orders if _is_pickup(o[2])]
    for _seq, when, properties, profile in sorted(flagged or orders):
        listed = properties.get("products")
        lines: list[Any] = listed if isinstance(listed, list) else []
        items = [
            model.index[str(line.get("product_id"))]
            for line in lines
            if isinstance(line, dict) and str(line.get("product_id")) in model.index
        ]
        past = model.history.context(profile, when, CHANNELS.index("store"))
        ctx = Context(
            np.concatenate([past.items, np.array(items, np.int32)]).astype(np.int32),
            np.concatenate([past.kinds, np.full(len(items), BUY, np.int8)]),
            np.concatenate([past.times, np.full(len(items), when)]),
            np.zeros(len(past.items) + len(items), bool),
            max(when, now),
            CHANNELS.index("store"),
        )
        key = {"order_id": properties.get("order_id"), "profile_id": profile}
        yield key, ctx, set(items)


def _is_pickup(properties: dict[str, Any]) -> bool:
    """Orders that say they are collected in store (fulfillment or shipping method)."""
    for field in ("fulfillment", "fulfilment", "shipping_method", "delivery"):
        value = properties.get(field)
        if isinstance(value, str) and "pickup" in value.lower().replace(" ", "").replace("-", ""):
            return True
    return False


def _write(out: Path, channel: str, records: list[dict[str, Any]]) -> int:
    """NDJSON (one recipient a line) or, for a .csv file, one row per recommended item (per
    audience member for ads). Returns the rows written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() != ".csv":
        with out.open("wb") as handle:
            for record in records:
                handle.write(orjson.dumps(record) + b"\n")
        return len(records)
    rows = 0
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if channel == "ads":
            writer.writerow(["audience", "profile_id", "email_sha256", "phone_sha256", "reason"])
            for r in records:
                for item in r["items"]:
                    writer.writerow(
                        [
                            f"product:{item['product_id']}",
                            r["profile_id"],
                            r["email_sha256"] or "",
                            r["phone_sha256"] or "",
                            item["reason"],
                        ]
                    )
                    rows += 1
            return rows
        keys = [key for key in records[0] if key != "items"] if records else ["profile_id"]
        writer.writerow([*keys, "rank", "product_id", "name", "reason"])
        for r in records:
            head = [_cell(r[key]) for key in keys]
            for item in r["items"]:
                writer.writerow(
                    [*head, item["rank"], item["product_id"], item["name"], item["reason"]]
                )
                rows += 1
    return rows


def _cell(value: Any) -> Any:
    return " ".join(str(v) for v in value) if isinstance(value, list) else value
