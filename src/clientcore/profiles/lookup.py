"""Find the profile behind anything a customer-care lead types: an email, a phone, an id.

The raw text is normalized every way it could be meant (`normalize.candidates`) and each
spelling is looked up on the `identifiers.value` index. A match whose type uses the normalizer
that produced the spelling wins (an email found as an email beats the same text stored as a
user id); quarantined identifiers link nobody, so they never answer.
"""

from __future__ import annotations

from collections.abc import Iterable

from clientcore.identity.normalize import candidates
from clientcore.identity.spec import IdentitySpec, load_spec
from clientcore.store import Store


def find_profile(
    store: Store, raw: str, region: str = "US", spec: IdentitySpec | None = None
) -> int | None:
    """The profile id of the identifier `raw` denotes, or None when no profile holds it."""
    spellings = candidates(raw, region)
    if not spellings:
        return None
    values = list(dict.fromkeys(value for _, value in spellings))
    marks = ", ".join("?" for _ in values)
    rows = store.query(
        f"SELECT type, value, profile_id FROM identifiers WHERE value IN ({marks}) "
        "AND NOT quarantined AND profile_id IS NOT NULL",
        values,
    )
    return best_profile(spellings, spec or load_spec(), rows)


def best_profile(
    spellings: list[tuple[str, str]],
    spec: IdentitySpec,
    matches: Iterable[tuple[str, str, int]],
) -> int | None:
    """The profile among ``matches`` (type, value, profile) that ``spellings`` mean best.

    Shared by the store lookup above and the server's in-memory one, so both rank alike.
    """
    normalizer_of = {rule.type: rule.normalize for rule in spec.identifiers}
    rank_of = {rule.type: position for position, rule in enumerate(spec.identifiers)}
    best: tuple[int, int, int, int] | None = None  # (fit, spelling, type rank, profile)
    for kind, value, profile_id in matches:
        for position, (normalizer, spelled) in enumerate(spellings):
            if spelled != value:
                continue
            fits = 0 if normalizer_of.get(kind) == normalizer else 1
            key = (fits, position, rank_of.get(kind, len(rank_of)), int(profile_id))
            if best is None or key < best:
                best = key
    return best[3] if best is not None else None
