"""The identity graph, as pure logic: identifiers are nodes, co-occurrence in an event is an edge.

Both paths below compute the same thing, and a property test holds them to it:

* `batch_profiles` — the whole log at once, in NumPy/SciPy (a rebuild; batch.py).
* `IncrementalGraph` — event by event, as they arrive (the collector's hot path).

Definitions, all independent of arrival order:

* an *edge* is a distinct pair of identifiers seen together in some event, stamped with the
  first event (`first_seq`) that showed it;
* an identifier is *quarantined* when it co-occurs with more distinct identifiers of some type
  than that type's limit — it stays on record but links nobody; so is every value of a type
  that never links (a first name), whose edges still count for the others' limits;
* a *profile* is a connected component of the other identifiers, over the edges between
  them; its id is the smallest identifier id in it (ids are given in order of first sight, so
  this is the profile's oldest identifier);
* the *merges* that built a profile are the edges Kruskal's algorithm keeps when edges are
  taken in (first_seq, a, b) order — exactly the unions an incremental union-find performs.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from clientcore.identity.batch import (
    BLOCKED,
    NOT_LINKING,
    SPLIT,
    BatchResult,
    batch_profiles,
    quarantine,
)
from clientcore.identity.split import excess, split_component

__all__ = [
    "BLOCKED",
    "NOT_LINKING",
    "SPLIT",
    "BatchResult",
    "Changes",
    "IncrementalGraph",
    "batch_profiles",
    "quarantine",
]


@dataclass
class Changes:
    """What one incremental step changed, for the store to persist."""

    touched: set[int] = field(default_factory=set)  # identifiers whose profile or state moved
    merges: list[tuple[int, int, int]] = field(default_factory=list)  # (seq, a, b)
    dropped_merges: set[int] = field(default_factory=set)  # identifiers whose merges to redo

    def drop(self, nodes: set[int]) -> None:
        self.dropped_merges |= nodes
        self.merges = [m for m in self.merges if m[1] not in nodes and m[2] not in nodes]


def _kruskal(edges: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    kept = []
    for seq, a, b in sorted(edges):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
            kept.append((seq, a, b))
    return kept


class IncrementalGraph:
    """Union-find over identifiers, kept equal to `batch_profiles` as edges arrive in order.

    The union-find holds the *raw* components (everything but pairwise-quarantined values);
    a raw component over a limit carries overrides: the identifiers cut from it and the
    profile each remaining member ends in.
    """

    def __init__(
        self, types: list[int], limits: dict[int, int], not_linking: Collection[int] = ()
    ) -> None:
        self.types = list(types)
        self.limits = dict(limits)
        self.not_linking = frozenset(not_linking)
        self.parent = list(range(len(types)))
        self.members: dict[int, list[int]] = {i: [i] for i in range(len(types))}
        # Pairwise, blocklisted or not linking: never in a raw component.
        self.quarantined: set[int] = set()
        self.reasons: dict[int, tuple[int, int]] = {}  # node -> (type code, BLOCKED…; seq)
        for node, kind in enumerate(self.types):
            if kind in self.not_linking:
                self.quarantined.add(node)
                self.reasons[node] = (NOT_LINKING, 0)
        self.cut: set[int] = set()  # cut by the profile limits (SPLIT)
        self.final: dict[int, int] = {}  # profile of members of a split component
        self.counts: dict[tuple[int, int], int] = {}
        self.edges: dict[int, list[tuple[int, int, int]]] = {}  # node -> (seq, a, b)

    @classmethod
    def restore(
        cls,
        types: list[int],
        limits: dict[int, int],
        profile_of: list[int],
        reasons: dict[int, tuple[int, int]],
        edges: list[tuple[int, int, int]],
        not_linking: Collection[int] = (),
    ) -> IncrementalGraph:
        """The graph as the store holds it: each node's profile (-1 when quarantined), the
        quarantine reasons (SPLIT for cuts), and the known edges. Raw components are rebuilt
        from the edges; where a profile differs from its raw component, it is an override.
        Values of the `not_linking` types need no reason: their type is one."""
        graph = cls(types, limits, not_linking)
        for node, (kind, seq) in reasons.items():
            if node in graph.quarantined:
                continue
            if kind == SPLIT:
                graph.cut.add(node)
            else:
                graph.quarantined.add(node)
                graph.reasons[node] = (kind, seq)
        for seq, a, b in sorted(edges):
            graph.edges.setdefault(a, []).append((seq, a, b))
            graph.edges.setdefault(b, []).append((seq, a, b))
            for x, y in ((a, b), (b, a)):
                kind = graph.types[y]
                if kind in graph.limits:
                    graph.counts[(x, kind)] = graph.counts.get((x, kind), 0) + 1
            if a not in graph.quarantined and b not in graph.quarantined:
                graph._union(seq, a, b, Changes())
        for root, members in graph.members.items():
            if any(m in graph.cut or profile_of[m] != root for m in members):
                for m in members:
                    if m not in graph.cut:
                        graph.final[m] = profile_of[m]
        return graph

    def add_identifier(self, type_code: int) -> int:
        node = len(self.types)
        self.types.append(type_code)
        self.parent.append(node)
        self.members[node] = [node]
        if type_code in self.not_linking:
            self.quarantined.add(node)
            self.reasons[node] = (NOT_LINKING, 0)
        return node

    def block(self, node: int, seq: int) -> Changes:
        """Quarantine an identifier on a person's word, and re-derive what it joined."""
        changes = Changes()
        if node not in self.quarantined:
            self._quarantine(node, BLOCKED, 0, set(), changes)
            self._settle_all(changes.touched, changes)
        return changes

    def find(self, node: int) -> int:
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def profile(self, node: int) -> int:
        if node in self.quarantined or node in self.cut:
            return -1
        return self.final.get(node, self.find(node))

    def reason(self, node: int) -> tuple[int, int] | None:
        """(type code, BLOCKED or SPLIT; seq) when the node is quarantined."""
        if node in self.cut:
            return (SPLIT, 0)
        return self.reasons.get(node)

    def raw_root(self, node: int) -> int:
        return node if node in self.quarantined else self.find(node)

    def add_edges(self, edges: Iterable[tuple[int, int, int]]) -> Changes:
        """Take new distinct edges (seq, a, b); batches must come in increasing seq order."""
        changes = Changes()
        batch = sorted(edges)
        crossed: list[tuple[int, int, int]] = []  # (seq, node, type)
        for seq, a, b in batch:
            self.edges.setdefault(a, []).append((seq, a, b))
            self.edges.setdefault(b, []).append((seq, a, b))
            changes.touched.update((a, b))
            for x, y in ((a, b), (b, a)):
                kind = self.types[y]
                limit = self.limits.get(kind)
                if limit is None:
                    continue
                key = (x, kind)
                count = self.counts.get(key, 0) + 1
                self.counts[key] = count
                if count == limit + 1 and x not in self.quarantined:
                    crossed.append((seq, x, kind))
        in_batch = set(batch)
        for seq, node, kind in sorted(crossed):
            if node not in self.quarantined:
                self._quarantine(node, kind, seq, in_batch, changes)
        for seq, a, b in batch:
            if a in self.quarantined or b in self.quarantined:
                continue
            self._union(seq, a, b, changes)
        self._settle_all(changes.touched, changes)
        return changes

    def _union(self, seq: int, a: int, b: int, changes: Changes) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        keep, gone = min(ra, rb), max(ra, rb)
        self.parent[gone] = keep
        moved = self.members.pop(gone)
        self.members[keep].extend(moved)
        changes.touched.update(moved)
        changes.merges.append((seq, a, b))

    def _quarantine(
        self,
        node: int,
        kind: int,
        seq: int,
        in_batch: set[tuple[int, int, int]],
        changes: Changes,
    ) -> None:
        """Take the node out and re-derive its old raw component from the earlier edges that
        remain; the current batch's edges are applied after, in order, by the caller."""
        root = self.find(node)
        old = self.members.pop(root)
        self.quarantined.add(node)
        self.reasons[node] = (kind, seq)
        gone = set(old)
        changes.drop(gone)
        changes.touched |= gone
        for member in old:
            self.parent[member] = member
            self.members[member] = [member]
            self.cut.discard(member)
            self.final.pop(member, None)
        earlier = sorted(
            {edge for member in old for edge in self.edges.get(member, ()) if edge not in in_batch}
        )
        for edge_seq, a, b in earlier:
            if a not in self.quarantined and b not in self.quarantined:
                self._union(edge_seq, a, b, changes)

    def _settle_all(self, nodes: set[int], changes: Changes) -> None:
        roots = {self.find(n) for n in nodes if n not in self.quarantined}
        for root in sorted(roots):
            self._settle(root, changes)

    def _tags(self, members: list[int]) -> dict[int, list[int]]:
        """The never-linking values (first names) each member was seen with, from its edges:
        read when a component settles rather than kept, as most identifiers carry one."""
        if not self.not_linking:
            return {}
        types, silent = self.types, self.not_linking
        found: dict[int, list[int]] = {}
        for m in members:
            for _, a, b in self.edges.get(m, ()):
                other = b if a == m else a
                if types[other] in silent:
                    found.setdefault(m, []).append(other)
        return found

    def _settle(self, root: int, changes: Changes) -> None:
        """Apply the profile limits to one raw component (see split.py)."""
        members = self.members[root]
        had = any(m in self.cut or m in self.final for m in members)
        tags = self._tags(members)
        if not had and excess(members, self.types, self.limits, tags) == 0:
            return
        member_set = set(members)
        edges = sorted(
            {
                e
                for m in members
                for e in self.edges.get(m, ())
                if e[1] in member_set and e[2] in member_set
            }
        )
        cut = split_component(members, edges, self.types, self.limits, tags)
        for m in members:
            self.cut.discard(m)
            self.final.pop(m, None)
        self.cut |= cut
        kept = [e for e in edges if e[1] not in cut and e[2] not in cut]
        merges = _kruskal(kept)
        # The merges form a forest: each tree is a profile, named by its smallest identifier.
        parent = {m: m for m in members if m not in cut}

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for _, a, b in merges:
            ra, rb = find(a), find(b)
            parent[max(ra, rb)] = min(ra, rb)
        for m in parent:
            self.final[m] = find(m)
        changes.drop(member_set)
        changes.merges.extend(merges)
        changes.touched |= member_set
