"""Trait survivorship: which of the values a profile's events gave a trait is the one we show.

A trait comes from identify calls (`traits`) and from any event's `context.traits`. The most
recent non-empty value wins, except that a source the retailer trusts more
(`IdentitySpec.source_priority`, first = most trusted) beats a more recent value from a source
it trusts less: the CRM's address is not overwritten by what a web form said last week.

A trait that is also an identifier (email, phone, loyalty card…) only counts when its
normalized value is one of the profile's own identifiers: the placeholder e-mail typed at the
till is quarantined, and must not become the customer's e-mail either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clientcore.identity.normalize import Normalizers
from clientcore.identity.spec import IdentitySpec, Normalizer

_TRAIT_PATH = re.compile(r"^\$\.(?:context\.)?traits\.([A-Za-z_][A-Za-z0-9_]*)$")


@dataclass(frozen=True)
class Trait:
    """The surviving value of one trait, with the event it came from."""

    value: Any
    source: str
    timestamp: datetime
    seq: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "source": self.source,
            "timestamp": self.timestamp.isoformat(),
            "seq": self.seq,
        }


@dataclass(frozen=True)
class TraitObservation:
    """One value one event gave one trait; `direct` when it came from identify `traits`."""

    key: str
    value: Any
    source: str
    timestamp: datetime
    seq: int
    direct: bool = False


def is_empty(value: Any) -> bool:
    """Values that say nothing: null, blank text, an empty object or list."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, dict | list) and not value


def survive(
    observations: Iterable[TraitObservation], priority: Sequence[str] = ()
) -> dict[str, Trait]:
    """The winning value per trait key: most trusted source first, then most recent."""
    rank = {source: position for position, source in enumerate(priority)}
    untrusted = len(priority)
    best: dict[str, tuple[tuple[int, datetime, int, bool], TraitObservation]] = {}
    for seen in observations:
        if is_empty(seen.value):
            continue
        strength = (-rank.get(seen.source, untrusted), seen.timestamp, seen.seq, seen.direct)
        held = best.get(seen.key)
        if held is None or strength > held[0]:
            best[seen.key] = (strength, seen)
    return {
        key: Trait(seen.value, seen.source, seen.timestamp, seen.seq)
        for key, (_, seen) in sorted(best.items())
    }


def identifier_traits(spec: IdentitySpec) -> dict[str, tuple[str, Normalizer]]:
    """Trait keys the spec reads identifiers from: key -> (identifier type, normalizer).

    Rules that never link are left out: a first name is the customer's trait, not an
    identifier the profile must own."""
    found: dict[str, tuple[str, Normalizer]] = {}
    for rule in spec.linking():
        for path in rule.paths:
            match = _TRAIT_PATH.match(path)
            if match:
                found.setdefault(match.group(1), (rule.type, rule.normalize))
    return found


def observations(
    seq: int,
    source: str,
    timestamp: datetime,
    traits: Mapping[str, Any] | None,
    context_traits: Mapping[str, Any] | None,
) -> list[TraitObservation]:
    """The trait values one event carries, identify `traits` marked as direct."""
    seen = [
        TraitObservation(key, value, source, timestamp, seq, False)
        for key, value in (context_traits or {}).items()
    ]
    seen += [
        TraitObservation(key, value, source, timestamp, seq, True)
        for key, value in (traits or {}).items()
    ]
    return seen


def own_identifiers_only(
    seen: Iterable[TraitObservation],
    spec: IdentitySpec,
    owned: set[tuple[str, str]],
    region: str = "US",
) -> list[TraitObservation]:
    """Drop identifier-valued traits that are not the profile's own identifiers; keep the
    others, with identifier values in their canonical form."""
    keyed = identifier_traits(spec)
    normalize = Normalizers(region)
    kept: list[TraitObservation] = []
    for item in seen:
        rule = keyed.get(item.key)
        if rule is None:
            kept.append(item)
            continue
        if not isinstance(item.value, str | int) or isinstance(item.value, bool):
            continue
        canonical = normalize(rule[1], str(item.value))
        if canonical is not None and (rule[0], canonical) in owned:
            kept.append(
                TraitObservation(
                    item.key, canonical, item.source, item.timestamp, item.seq, item.direct
                )
            )
    return kept
