"""The unit an experiment assigns: one per person, the same on every channel.

**Rule (survives identity merges).** The unit of a person is the value of their profile's
*oldest identifier* — the profile id is the id of that identifier, so this is one point
lookup. Anything a channel knows (a cookie, a user id, an email, a loyalty card) resolves to
the same profile, hence the same unit and the same variant.

- An identifier no profile holds yet (a first-time visitor) is its own unit: when its events
  arrive it becomes the oldest identifier of its new profile, so the unit does not change.
- When two profiles merge, the merged profile keeps the *older* profile's id, so the older
  side's assignment stands from then on. Exposures already logged under the younger side are
  attributed to the merged profile at analysis time; a person exposed to two different
  variants is reported as *crossed over* and left out of the comparison (their outcome
  cannot be credited to one variant).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from clientcore.identity.normalize import candidates
from clientcore.identity.spec import IdentitySpec, load_spec
from clientcore.profiles.lookup import best_profile, find_profile
from clientcore.store import Store

if TYPE_CHECKING:
    from clientcore.identity.sync import IdentityService


@dataclass(frozen=True, slots=True)
class Unit:
    key: str
    profile_id: int | None


def resolve_unit(store: Store, raw: str, spec: IdentitySpec | None = None) -> Unit:
    """The unit of whoever ``raw`` identifies (see the module docstring for the rule)."""
    rules = spec or load_spec()
    profile_id = find_profile(store, raw, rules.default_region, rules)
    if profile_id is not None:
        rows = store.query("SELECT value FROM identifiers WHERE id = ?", [profile_id])
        if rows:
            return Unit(str(rows[0][0]), profile_id)
    return _unknown(raw, candidates(raw, rules.default_region))


def resolve_in_graph(identity: IdentityService, raw: str) -> Unit:
    """The same answer as :func:`resolve_unit`, from the identity graph a server keeps in
    memory (its stitching follower) instead of two store queries.

    Ranked by ``best_profile`` like the store lookup. Reads only: the root is found without
    compressing paths, so it never writes to the graph the follower is updating.
    """
    spec = identity.spec
    graph = identity.graph
    spellings = candidates(raw, spec.default_region)
    matches = []
    for value in dict.fromkeys(value for _, value in spellings):
        for rule in spec.identifiers:
            node = identity.ids.get((rule.type, value))
            if node is None or node in graph.quarantined or node in graph.cut:
                continue
            profile = graph.final.get(node)
            if profile is None:
                profile = node
                while graph.parent[profile] != profile:
                    profile = graph.parent[profile]
            matches.append((rule.type, value, profile))
    profile_id = best_profile(spellings, spec, matches)
    if profile_id is None:
        return _unknown(raw, spellings)
    return Unit(identity.keys[profile_id][1], profile_id)


def _unknown(raw: str, spellings: list[tuple[str, str]]) -> Unit:
    """An identifier no profile holds is its own unit, spelled as the store will keep it."""
    text = [value for kind, value in spellings if kind == "text"]
    return Unit(text[0] if text else raw.strip(), None)
