"""The profile's numbers at a glance: when, how often, where, how much, how much came back.

Pure arithmetic over the profile's events as `history.events` read them — the same read feeds
the traits and the timeline page, so the summary costs no second trip through the event log.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from clientcore.profiles.history import StoredEvent

ORDER = "Order Completed"
RETURNS = frozenset({"Product Returned", "Order Refunded"})
REFUND = "Order Refunded"
SERVICE = frozenset({"Service Call", "Support Ticket Opened"})
CALL_CENTER = "call_center"


@dataclass(frozen=True)
class Summary:
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    events: int = 0
    orders: int = 0
    revenue: float = 0.0
    returns: int = 0
    refunds_total: float = 0.0
    service_contacts: int = 0
    channels: dict[str, int] = field(default_factory=dict)
    stores: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "first_seen": self.first_seen.isoformat() if self.first_seen else None,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "events": self.events,
            "orders": self.orders,
            "revenue": self.revenue,
            "returns": self.returns,
            "refunds_total": self.refunds_total,
            "service_contacts": self.service_contacts,
            "channels": dict(self.channels),
            "stores": dict(self.stores),
        }


def amount(text: str | None) -> float:
    """An amount as the event sent it ("12.5", 12.5); anything unreadable counts as 0."""
    if text is None:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        return 0.0
    return value if math.isfinite(value) else 0.0


def _name(fact: StoredEvent) -> str | None:
    """The track event's name; a page or screen named "Order Completed" is not an order."""
    return fact.event if fact.type == "track" else None


def is_service_contact(fact: StoredEvent) -> bool:
    """A call or a ticket, or anything else that happened on the phone but was not an order."""
    name = _name(fact)
    return name in SERVICE or (fact.channel == CALL_CENTER and name != ORDER)


def summarize(facts: Iterable[StoredEvent]) -> Summary:
    """Counts, money and places over all of a profile's events."""
    first: datetime | None = None
    last: datetime | None = None
    events = orders = returns = service = 0
    revenue: list[float] = []
    refunds: list[float] = []
    channels: Counter[str] = Counter()
    stores: Counter[str] = Counter()
    for fact in facts:
        events += 1
        first = fact.timestamp if first is None or fact.timestamp < first else first
        last = fact.timestamp if last is None or fact.timestamp > last else last
        channels[fact.channel] += 1
        store = fact.text("context", "store_id") or fact.text("properties", "store_id")
        if store:
            stores[store] += 1
        name = _name(fact)
        if name == ORDER:
            orders += 1
            revenue.append(amount(fact.text("properties", "revenue")))
        if name in RETURNS:
            returns += 1
        if name == REFUND:
            total = fact.text("properties", "total")
            refunds.append(
                amount(total if total is not None else fact.text("properties", "revenue"))
            )
        if is_service_contact(fact):
            service += 1
    return Summary(
        first_seen=first,
        last_seen=last,
        events=events,
        orders=orders,
        revenue=round(math.fsum(revenue), 2),
        returns=returns,
        refunds_total=round(math.fsum(refunds), 2),
        service_contacts=service,
        channels=dict(channels.most_common()),
        stores=dict(stores.most_common()),
    )
