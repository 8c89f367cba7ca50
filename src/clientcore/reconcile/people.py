"""Linked records in the single customer view: which CRM records are this person's, and how
sure we are.

A record joins a profile directly when it holds one of the profile's identifiers (e-mail,
phone, loyalty card, login; quarantined ones link nobody): probability 1. Every other record
of the same reconciled person joins with its own match probability, the strongest scored pair
holding it in that person. Records whose links stayed under the auto-merge threshold are not
there: they wait in the review queue instead.
"""

from __future__ import annotations

from typing import Any

from clientcore.reconcile.records import record_key
from clientcore.store import Store

# Identifier types of the identity graph that a customer record may hold, and its column.
_HELD = {"email": "email", "phone": "phone", "loyalty_card": "loyalty_card", "user_id": "user_id"}
_SHOWN = (
    "source",
    "record_id",
    "given_name",
    "surname",
    "birth_date",
    "email",
    "phone",
    "street_number",
    "address_1",
    "city",
    "postcode",
    "state",
)


def _records(store: Store, keys: list[int]) -> dict[int, dict[str, Any]]:
    if not keys:
        return {}
    marks = ", ".join("?" * len(keys))
    rows = store.query(
        "SELECT r.record_key, c.cluster_id, c.match_probability, "
        f"{', '.join('r.' + c for c in _SHOWN)} "
        f"FROM customer_records r LEFT JOIN record_clusters c USING (record_key) "
        f"WHERE r.record_key IN ({marks}) ORDER BY r.source, r.record_id",
        keys,
    )
    return {
        int(row[0]): {
            "record": f"{row[3]}:{row[4]}",
            "person": int(row[1]) if row[1] is not None else int(row[0]),
            "match_probability": float(row[2]) if row[2] is not None else None,
            **dict(zip(_SHOWN, row[3:], strict=True)),
        }
        for row in rows
    }


def linked_records(store: Store, identifiers: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The customer records of the profile owning these (type, value) identifiers (the
    profile's own, not quarantined), surest first. Equality lookups only, each on an index:
    it runs on every profile view."""
    direct: dict[int, str] = {}
    for kind, value in identifiers:
        column = _HELD.get(kind)
        if column is None:
            continue
        for (key,) in store.query(
            f"SELECT record_key FROM customer_records WHERE {column} = ?", [value]
        ):
            direct.setdefault(int(key), kind)
    if not direct:
        return []
    people: set[int] = set()
    for key in direct:
        people.update(
            int(c)
            for (c,) in store.query(
                "SELECT cluster_id FROM record_clusters WHERE record_key = ?", [key]
            )
        )
    keys = set(direct)
    for person_id in people:
        keys.update(
            int(k)
            for (k,) in store.query(
                "SELECT record_key FROM record_clusters WHERE cluster_id = ?", [person_id]
            )
        )
    out = []
    for key, record in _records(store, sorted(keys)).items():
        via = direct.get(key)
        out.append(
            {
                **record,
                "linked_by": f"identifier:{via}" if via else "reconciliation",
                "match_probability": 1.0 if via else record["match_probability"],
            }
        )
    out.sort(key=lambda r: (-(r["match_probability"] or 0.0), r["record"]))
    return out


def person(store: Store, reference: str) -> dict[str, Any]:
    """The reconciled person a record belongs to: all its records, and the profiles of the
    identity graph they reach."""
    key = record_key(store, reference)
    rows = store.query("SELECT cluster_id FROM record_clusters WHERE record_key = ?", [key])
    cluster_id = int(rows[0][0]) if rows else key
    members = (
        [
            int(r[0])
            for r in store.query(
                "SELECT record_key FROM record_clusters WHERE cluster_id = ?", [cluster_id]
            )
        ]
        if rows
        else [key]
    )
    records = list(_records(store, members).values())
    profiles: set[int] = set()
    for record in records:
        for kind, column in _HELD.items():
            value = record.get(column)
            if not value:
                continue
            profiles.update(
                int(p)
                for (p,) in store.query(
                    "SELECT profile_id FROM identifiers WHERE type = ? AND value = ? "
                    "AND NOT quarantined AND profile_id IS NOT NULL",
                    [kind, value],
                )
            )
    return {
        "person": cluster_id,
        "clustered": bool(rows),
        "records": records,
        "profiles": sorted(profiles),
    }
