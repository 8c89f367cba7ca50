"""The single customer view: a profile's identifiers, traits, summary and timeline.

Exceptions::

    UnknownProfileError     no identifier belongs to this profile id (LookupError)

Built from three point lookups, so it answers in milliseconds whatever the size of the event
log: the profile's identifiers (index on `identifiers.profile_id`), the seqs of the events
carrying them (index on `event_identifiers.identifier_id`), then those events (index on
`events.seq`). That one read of the events feeds the summary, the traits and the timeline
page; aggregating in SQL instead would read the same rows, and once more for the traits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clientcore.identity.spec import IdentitySpec, load_spec
from clientcore.profiles import history
from clientcore.profiles.lookup import find_profile
from clientcore.profiles.summary import Summary, summarize
from clientcore.profiles.timeline import TimelineItem, item, newest_first, page
from clientcore.profiles.traits import Trait, observations, own_identifiers_only, survive
from clientcore.reconcile.people import linked_records
from clientcore.store import Store

__all__ = [
    "IdentifierEntry",
    "ProfileView",
    "UnknownProfileError",
    "find_profile",
    "profile_view",
    "view_by_identifier",
]

DEFAULT_LIMIT = 50


class UnknownProfileError(LookupError):
    """No identifier belongs to this profile id (it never existed, or was merged away)."""


@dataclass(frozen=True)
class IdentifierEntry:
    type: str
    value: str
    first_seen: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "value": self.value,
            "first_seen": self.first_seen.isoformat() if self.first_seen else None,
        }


@dataclass(frozen=True)
class ProfileView:
    profile_id: int
    identifiers: tuple[IdentifierEntry, ...]
    traits: Mapping[str, Trait]
    summary: Summary
    timeline: tuple[TimelineItem, ...]
    next_before: datetime | None = None
    # CRM records reconciled into this person, with their match probability (reconcile/).
    records: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON document the API and `clientcore profile --json` return."""
        return {
            "profile_id": self.profile_id,
            "identifiers": [entry.to_dict() for entry in self.identifiers],
            "traits": {key: trait.to_dict() for key, trait in self.traits.items()},
            "summary": self.summary.to_dict(),
            "timeline": [event.to_dict() for event in self.timeline],
            "next_before": self.next_before.isoformat() if self.next_before else None,
            **({"records": list(self.records)} if self.records else {}),
        }


def profile_view(
    store: Store,
    profile_id: int,
    limit: int = DEFAULT_LIMIT,
    before: datetime | None = None,
    spec: IdentitySpec | None = None,
) -> ProfileView:
    """Everything we know about one profile, with one page of its timeline."""
    rules = spec or load_spec()
    owned = store.query(
        "SELECT id, type, value FROM identifiers WHERE profile_id = ?",
        [int(profile_id)],
    )
    if not owned:
        raise UnknownProfileError(f"no profile {profile_id}")
    carried = history.event_seqs(store, [int(row[0]) for row in owned])
    stored = history.events(store, sorted(set().union(*carried.values())))
    when = {event.seq: event.timestamp for event in stored}
    ordered = newest_first(stored)
    shown, next_before = page(ordered, limit, before)
    noticed = [
        seen
        for event in stored
        for seen in observations(
            event.seq,
            event.source,
            event.timestamp,
            event.section("traits") if event.type == "identify" else None,
            event.section("context", "traits"),
        )
    ]
    kept = own_identifiers_only(
        noticed, rules, {(kind, value) for _, kind, value in owned}, rules.default_region
    )
    first_seen = {
        identifier: min((when[seq] for seq in seqs if seq in when), default=None)
        for identifier, seqs in carried.items()
    }
    identifiers = sorted(
        (IdentifierEntry(kind, value, first_seen.get(int(i))) for i, kind, value in owned),
        key=lambda e: (_rank(rules, e.type), e.first_seen is None, e.first_seen, e.value),
    )
    return ProfileView(
        profile_id=int(profile_id),
        identifiers=tuple(identifiers),
        traits=survive(kept, rules.source_priority),
        summary=summarize(stored),
        timeline=tuple(item(event) for event in shown),
        next_before=next_before,
        records=tuple(linked_records(store, [(kind, value) for _, kind, value in owned])),
    )


def view_by_identifier(
    store: Store,
    raw: str,
    limit: int = DEFAULT_LIMIT,
    before: datetime | None = None,
    spec: IdentitySpec | None = None,
) -> ProfileView | None:
    """The view of the profile holding the identifier `raw` denotes, or None.

    Looked up again once when the profile was merged into another between the two reads.
    """
    rules = spec or load_spec()
    for _ in range(2):
        profile_id = find_profile(store, raw, rules.default_region, rules)
        if profile_id is None:
            return None
        try:
            return profile_view(store, profile_id, limit, before, rules)
        except UnknownProfileError:
            continue
    return None


def _rank(spec: IdentitySpec, kind: str) -> int:
    """Identifiers listed in the spec's order (user id, email, phone…), unknown kinds last."""
    types = [rule.type for rule in spec.identifiers]
    return types.index(kind) if kind in types else len(types)
