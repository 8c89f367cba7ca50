"""What a person does to the graph: list the quarantine, and split a wrong merge (unmerge)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clientcore.identity.normalize import candidates
from clientcore.identity.service import IdentityReport, rebuild
from clientcore.identity.spec import IdentitySpec
from clientcore.store import Store


class IdentityError(Exception):
    """A request about identities that cannot be done; the message says why."""


def quarantined(store: Store) -> list[dict[str, Any]]:
    """Quarantined identifiers, with how many identifiers of the limited type they touch now."""
    rows = store.query(
        """SELECT i.id, i.type, i.value, q.linked_type, q.since_seq,
                  (SELECT count(*) FROM identity_links l JOIN identifiers o
                     ON o.id = CASE WHEN l.a = i.id THEN l.b ELSE l.a END
                   WHERE (l.a = i.id OR l.b = i.id) AND o.type = q.linked_type) AS linked
           FROM identity_quarantine q JOIN identifiers i ON i.id = q.identifier_id
           ORDER BY linked DESC, i.id"""
    )
    return [
        {
            "identifier_id": int(r[0]),
            "type": r[1],
            "value": r[2],
            "reason": "blocklisted" if r[3] == "blocklist" else f"linked to {r[5]} {r[3]} values",
            "linked_type": r[3],
            "linked_count": int(r[5]),
            "since_seq": int(r[4]),
        }
        for r in rows
    ]


def resolve(store: Store, raw: str, spec: IdentitySpec) -> list[tuple[int, str, str]]:
    """Identifiers (id, type, value) a typed value may name, quarantined ones included; values
    of rules that never link (first names) are no identifiers to unmerge."""
    found: list[tuple[int, str, str]] = []
    linking = {rule.type for rule in spec.linking()}
    for _, value in candidates(raw, spec.default_region):
        for row in store.query("SELECT id, type, value FROM identifiers WHERE value = ?", [value]):
            entry = (int(row[0]), row[1], row[2])
            if row[1] in linking and entry not in found:
                found.append(entry)
    return found


@dataclass(frozen=True)
class UnmergeOutcome:
    identifier: dict[str, Any]
    profile_before: int | None
    profiles_after: list[int]
    rebuild: IdentityReport

    def to_dict(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "profile_before": self.profile_before,
            "profiles_after": self.profiles_after,
            "rebuild": self.rebuild.to_dict(),
        }


def unmerge(
    store: Store, spec: IdentitySpec, raw: str, reason: str | None = None
) -> UnmergeOutcome:
    """Blocklist the identifier that wrongly joined people, and re-derive from the event log."""
    matches = resolve(store, raw, spec)
    if not matches:
        raise IdentityError(f"no identifier {raw!r} is known")
    if len(matches) > 1:
        kinds = ", ".join(f"{t}:{v}" for _, t, v in matches)
        raise IdentityError(f"{raw!r} names several identifiers ({kinds}); be more specific")
    node, kind, value = matches[0]
    before = store.query("SELECT profile_id FROM identifiers WHERE id = ?", [node])[0][0]
    members = (
        [r[0] for r in store.query("SELECT id FROM identifiers WHERE profile_id = ?", [before])]
        if before is not None
        else []
    )
    store.execute(
        "INSERT INTO identity_blocklist (type, value, reason) VALUES (?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        [kind, value, reason or "unmerge"],
    )
    report = rebuild(store, spec)
    after: set[int] = set()
    for member in members:
        rows = store.query("SELECT profile_id FROM identifiers WHERE id = ?", [member])
        if rows and rows[0][0] is not None:
            after.add(int(rows[0][0]))
    return UnmergeOutcome(
        {"id": node, "type": kind, "value": value},
        int(before) if before is not None else None,
        sorted(after),
        report,
    )
