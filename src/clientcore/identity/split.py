"""The second guardrail: a profile may not hold more identifiers of a type than its limit.

The pairwise rule (graph.quarantine) catches a value linked *directly* to many others. A value
used only a few times — a store's own phone typed at the till for three shoppers — stays under
it, yet still chains several people into one component. This module splits such a component:
it quarantines, one at a time, the identifier whose removal leaves the least excess over the
limits — among equals, the one of the loosest type (a cookie or a phone before a loyalty card,
a loyalty card before a user id, since tight limits mark what identifies a person), then the
best connected — until every part is within its limits.

A rule that never links (a first name) has a limit per profile too: its values are in no
component, but each member carries those it was seen with (its *tags*), and a profile may not
carry more distinct ones than the limit — a family e-mail seen only with Anna, in a component
holding Ben's login seen with Ben, is the identifier to cut.

It is a pure function of the component (its nodes, edges and tags), computed the same way by
the rebuild and by the incremental path whenever the component changes, so both agree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence

Edge = tuple[int, int, int]  # (first_seq, a, b)
Tags = Mapping[int, Collection[int]]  # member -> values of never-linking types it was seen with
MAX_CANDIDATES = 64  # on a huge component, try only the best-connected identifiers


def _components(nodes: set[int], adjacency: dict[int, list[int]]) -> list[list[int]]:
    seen: set[int] = set()
    parts: list[list[int]] = []
    for start in sorted(nodes):
        if start in seen:
            continue
        seen.add(start)
        stack, part = [start], []
        while stack:
            node = stack.pop()
            part.append(node)
            for nxt in adjacency.get(node, ()):
                if nxt in nodes and nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        parts.append(sorted(part))
    return parts


def excess(
    nodes: list[int] | set[int],
    types: Sequence[int] | Mapping[int, int],
    limits: dict[int, int],
    tags: Tags | None = None,
) -> int:
    """How far the nodes (with their distinct tags) are over the limits, summed over types."""
    counts: dict[int, int] = defaultdict(int)
    for node in nodes:
        counts[types[node]] += 1
    if tags:
        carried = {tag for node in nodes for tag in tags.get(node, ())}
        for tag in carried:
            counts[types[tag]] += 1
    return sum(max(0, counts[t] - limit) for t, limit in limits.items() if t in counts)


def split_component(
    nodes: list[int],
    edges: list[Edge],
    types: Sequence[int] | Mapping[int, int],
    limits: dict[int, int],
    tags: Tags | None = None,
) -> set[int]:
    """The identifiers to quarantine so that every remaining part respects the limits.

    `types` covers the tags too (a tag's type is a never-linking rule's code)."""
    if excess(nodes, types, limits, tags) == 0:
        return set()
    adjacency: dict[int, list[int]] = defaultdict(list)
    for _, a, b in edges:
        adjacency[a].append(b)
        adjacency[b].append(a)
    loosest = 1 << 30  # an unlimited type is the first to cut
    cut: set[int] = set()
    work = [set(nodes)]
    while work:
        part = work.pop()
        if excess(part, types, limits, tags) == 0:
            continue
        candidates = sorted(part, key=lambda n: (-len(adjacency.get(n, ())), n))[:MAX_CANDIDATES]
        best: tuple[int, int, int, int] | None = None
        for node in candidates:
            rest = part - {node}
            left = sum(excess(p, types, limits, tags) for p in _components(rest, adjacency))
            looseness = limits.get(types[node], loosest)
            score = (left, -looseness, -len(adjacency.get(node, ())), node)
            if best is None or score < best:
                best = score
        assert best is not None
        chosen = best[3]
        cut.add(chosen)
        work.extend(set(p) for p in _components(part - {chosen}, adjacency))
    return cut
