"""The identity graph, as pure logic: identifiers are nodes, co-occurrence in an event is an edge.

Both paths below compute the same thing, and a property test holds them to it:

* `batch_profiles` — the whole log at once, in NumPy/SciPy (a rebuild).
* `IncrementalGraph` — event by event, as they arrive (the collector's hot path).

Definitions, all independent of arrival order:

* an *edge* is a distinct pair of identifiers seen together in some event, stamped with the
  first event (`first_seq`) that showed it;
* an identifier is *quarantined* when it co-occurs with more distinct identifiers of some type
  than that type's limit — it stays on record but links nobody;
* a *profile* is a connected component of the other identifiers, over the edges between
  them; its id is the smallest identifier id in it (ids are given in order of first sight, so
  this is the profile's oldest identifier);
* the *merges* that built a profile are the edges Kruskal's algorithm keeps when edges are
  taken in (first_seq, a, b) order — exactly the unions an incremental union-find performs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

IntArray = np.ndarray


@dataclass(frozen=True)
class BatchResult:
    profile_of: IntArray  # profile id of each identifier, -1 when quarantined
    quarantined: IntArray  # bool per identifier
    quarantine_type: IntArray  # the type code whose limit was crossed first (-1 when not)
    quarantine_seq: IntArray  # the event at which it was crossed (0 when blocklisted)
    merge_a: IntArray  # merges: the edges that joined two profiles, by first_seq
    merge_b: IntArray
    merge_seq: IntArray


def quarantine(
    n: int,
    types: IntArray,
    a: IntArray,
    b: IntArray,
    first_seq: IntArray,
    limits: dict[int, int],
) -> tuple[IntArray, IntArray, IntArray]:
    """Identifiers linked to more distinct identifiers of a limited type than its limit.

    Returns (flagged, the type whose limit was crossed first, the event where it was crossed):
    the crossing is the (limit + 1)-th link of that type in first-seen order, earliest first,
    ties broken by type — the order the incremental path meets them in."""
    flagged = np.zeros(n, dtype=bool)
    crossed_type = np.full(n, -1, dtype=np.int64)
    crossed_seq = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    if not limits or a.size == 0:
        crossed_seq[:] = 0
        return flagged, crossed_type, crossed_seq
    src = np.concatenate([a, b])
    dst = np.concatenate([b, a])
    seq = np.concatenate([first_seq, first_seq])
    for code, limit in sorted(limits.items()):
        mask = types[dst] == code
        s_src, s_seq = src[mask], seq[mask]
        counts = np.bincount(s_src, minlength=n)
        over = np.flatnonzero(counts > limit)
        if over.size == 0:
            continue
        keep = np.isin(s_src, over)
        order = np.lexsort((s_seq[keep], s_src[keep]))
        nodes, seqs = s_src[keep][order], s_seq[keep][order]
        starts = np.searchsorted(nodes, over)
        when = seqs[starts + limit]
        earlier = when < crossed_seq[over]
        crossed_seq[over[earlier]] = when[earlier]
        crossed_type[over[earlier]] = code
        flagged[over] = True
    crossed_seq[~flagged] = 0
    return flagged, crossed_type, crossed_seq


BLOCKED = -2  # quarantine_type of an identifier a person blocklisted (unmerge)


def batch_profiles(
    types: IntArray,
    a: IntArray,
    b: IntArray,
    first_seq: IntArray,
    limits: dict[int, int],
    blocked: IntArray | None = None,
) -> BatchResult:
    """Profiles of every identifier from the distinct edges (a < b) of the whole log.

    `blocked` marks identifiers a person blocklisted: quarantined whatever their counts."""
    n = int(types.size)
    flagged, qtype, qseq = quarantine(n, types, a, b, first_seq, limits)
    if blocked is not None and blocked.any():
        qtype[blocked] = BLOCKED
        qseq[blocked] = 0
        flagged |= blocked
    keep = ~(flagged[a] | flagged[b]) if a.size else np.zeros(0, dtype=bool)
    ka, kb, ks = a[keep], b[keep], first_seq[keep]
    graph = coo_matrix((np.ones(ka.size, dtype=np.int8), (ka, kb)), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    smallest = np.full(labels.max() + 1 if n else 0, n, dtype=np.int64)
    np.minimum.at(smallest, labels, np.arange(n, dtype=np.int64))
    profile_of = smallest[labels]
    profile_of[flagged] = -1
    ma, mb, mseq = kruskal_merges(n, ka, kb, ks)
    return BatchResult(profile_of, flagged, qtype, qseq, ma, mb, mseq)


def kruskal_merges(
    n: int, a: IntArray, b: IntArray, first_seq: IntArray
) -> tuple[IntArray, IntArray, IntArray]:
    """The edges that joined two profiles, taking edges in (first_seq, a, b) order."""
    if a.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    order = np.lexsort((b, a, first_seq))
    # Distinct weights (1..m) in that order make the minimum spanning forest unique and equal
    # to what Kruskal — and so the incremental union-find — keeps.
    weights = np.empty(a.size, dtype=np.float64)
    weights[order] = np.arange(1, a.size + 1, dtype=np.float64)
    tree = minimum_spanning_tree(coo_matrix((weights, (a, b)), shape=(n, n)).tocsr()).tocoo()
    rank = tree.data.astype(np.int64) - 1
    chosen = np.sort(order[rank])
    return a[chosen], b[chosen], first_seq[chosen]


@dataclass
class Changes:
    """What one incremental step changed, for the store to persist."""

    profile_changes: dict[int, int] = field(default_factory=dict)  # identifier -> new profile
    merges: list[tuple[int, int, int]] = field(default_factory=list)  # (seq, a, b)
    dropped_merges: set[int] = field(default_factory=set)  # identifiers whose merges to redo
    quarantined: list[tuple[int, int, int]] = field(default_factory=list)  # (node, type, seq)


class IncrementalGraph:
    """Union-find over identifiers, kept equal to `batch_profiles` as edges arrive in order."""

    def __init__(self, types: list[int], limits: dict[int, int]) -> None:
        self.types = list(types)
        self.limits = dict(limits)
        self.parent = list(range(len(types)))
        self.members: dict[int, list[int]] = {i: [i] for i in range(len(types))}
        self.quarantined: set[int] = set()
        self.counts: dict[tuple[int, int], int] = {}
        self.edges: dict[int, list[tuple[int, int, int]]] = {}  # node -> (seq, a, b)

    @classmethod
    def restore(
        cls,
        types: list[int],
        limits: dict[int, int],
        profile_of: list[int],
        edges: list[tuple[int, int, int]],
    ) -> IncrementalGraph:
        """The graph as the store holds it: profiles (-1 = quarantined) and known edges."""
        graph = cls(types, limits)
        graph.members = {}
        for node, profile in enumerate(profile_of):
            if profile < 0:
                graph.quarantined.add(node)
                graph.members[node] = [node]
                continue
            graph.parent[node] = profile
            graph.members.setdefault(profile, []).append(node)
        for seq, a, b in edges:
            graph.edges.setdefault(a, []).append((seq, a, b))
            graph.edges.setdefault(b, []).append((seq, a, b))
            for x, y in ((a, b), (b, a)):
                kind = graph.types[y]
                if kind in graph.limits:
                    graph.counts[(x, kind)] = graph.counts.get((x, kind), 0) + 1
        return graph

    def add_identifier(self, type_code: int) -> int:
        node = len(self.types)
        self.types.append(type_code)
        self.parent.append(node)
        self.members[node] = [node]
        return node

    def block(self, node: int, seq: int) -> Changes:
        """Quarantine an identifier on a person's word, and re-derive what it joined."""
        changes = Changes()
        if node not in self.quarantined:
            self._quarantine(node, BLOCKED, 0, set(), changes)
        return changes

    def find(self, node: int) -> int:
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def profile(self, node: int) -> int:
        return -1 if node in self.quarantined else self.find(node)

    def add_edges(self, edges: Iterable[tuple[int, int, int]]) -> Changes:
        """Take new distinct edges (seq, a, b); batches must come in increasing seq order."""
        changes = Changes()
        batch = sorted(edges)
        crossed: list[tuple[int, int, int]] = []  # (seq, node, type)
        for seq, a, b in batch:
            self.edges.setdefault(a, []).append((seq, a, b))
            self.edges.setdefault(b, []).append((seq, a, b))
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
        return changes

    def _union(self, seq: int, a: int, b: int, changes: Changes) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        keep, gone = min(ra, rb), max(ra, rb)
        self.parent[gone] = keep
        moved = self.members.pop(gone)
        self.members[keep].extend(moved)
        for node in moved:
            changes.profile_changes[node] = keep
        changes.merges.append((seq, a, b))

    def _quarantine(
        self,
        node: int,
        kind: int,
        seq: int,
        in_batch: set[tuple[int, int, int]],
        changes: Changes,
    ) -> None:
        """Take the node out and re-derive its old profile from the earlier edges that remain;
        the current batch's edges are applied after, in order, by the caller."""
        self.quarantined.add(node)
        changes.quarantined.append((node, kind, seq))
        root = self.find(node)
        old = self.members.pop(root)
        changes.dropped_merges.update(old)
        gone = set(old)
        changes.merges = [m for m in changes.merges if m[1] not in gone and m[2] not in gone]
        for member in old:
            self.parent[member] = member
            self.members[member] = [member]
            changes.profile_changes[member] = -1 if member in self.quarantined else member
        earlier = sorted(
            {edge for member in old for edge in self.edges.get(member, ()) if edge not in in_batch}
        )
        for edge_seq, a, b in earlier:
            if a not in self.quarantined and b not in self.quarantined:
                self._union(edge_seq, a, b, changes)
