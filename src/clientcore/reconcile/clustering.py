"""Clustering scored pairs into people without chaining strangers together.

Connected components over every link above a threshold is what turns a handful of wrong links
into a cluster of thousands: A looks like B, B like C, … and nobody checks that A looks like Z.
Here links are merged strongest first (Kruskal order), and two clusters merge only when the
whole of their evidence agrees, which is average linkage with constraints:

* every scored pair across the two clusters must be above a floor (`cannot_link_weight`):
  one strong disagreement (another birth date and another first name) vetoes the merge;
  a reviewer's "not the same person" is such a veto too;
* the mean match weight of the scored pairs across them must stay high (`min_average_weight`),
  so a chain A–B–C whose ends disagree stops at the weak end;
* no cluster may hold more than `max_per_source` records of one source: a person is not kept
  five times in one CRM, while a chain through a common name would be;
* clusters already published (`frozen`) never merge with each other, so incremental matching
  adds records to existing people and keeps their ids.

Pairs that blocking never compared are no evidence either way. Decisions depend only on the
sets being merged, never on the order the pairs came in (a property test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


@dataclass(frozen=True)
class ClusterRules:
    merge_weight: float
    min_average_weight: float
    cannot_link_weight: float
    max_per_source: int = 3


@dataclass
class ClusterResult:
    labels: np.ndarray  # per node: the smallest node index of its cluster
    merged: np.ndarray  # per pair: a merge candidate whose two nodes ended in one cluster
    blocked: dict[str, int] = field(default_factory=dict)  # merges refused, by reason


class _Clusters:
    """Union-find that also keeps each cluster's members and records per source."""

    def __init__(self, sources: np.ndarray) -> None:
        n = sources.size
        self.parent = list(range(n))
        self.members: list[list[int]] = [[i] for i in range(n)]
        self.per_source: list[dict[int, int]] = [{int(s): 1} for s in sources.tolist()]
        self.frozen: list[int] = [-1] * n

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, x: int, y: int) -> int:
        if len(self.members[x]) < len(self.members[y]):
            x, y = y, x
        self.parent[y] = x
        self.members[x].extend(self.members[y])
        self.members[y] = []
        for source, count in self.per_source[y].items():
            self.per_source[x][source] = self.per_source[x].get(source, 0) + count
        self.per_source[y] = {}
        if self.frozen[x] < 0:
            self.frozen[x] = self.frozen[y]
        return x


def cluster(
    sources: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    weight: np.ndarray,
    rules: ClusterRules,
    forced: np.ndarray | None = None,
    forbidden: np.ndarray | None = None,
    frozen: np.ndarray | None = None,
) -> ClusterResult:
    """Cluster nodes 0..n-1 (`sources[i]` is node i's source code) from scored pairs.

    `forced` pairs (accepted by a reviewer) merge whatever their weight, vetoes aside;
    `forbidden` pairs (rejected by a reviewer) veto any merge that would join them. `frozen`
    gives existing cluster labels (-1 for new nodes).
    """
    n = int(sources.size)
    m = int(a.size)
    if n == 0:
        return ClusterResult(np.zeros(0, dtype=np.int64), np.zeros(m, dtype=bool))
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    forced = np.zeros(m, dtype=bool) if forced is None else forced.astype(bool)
    forbidden = np.zeros(m, dtype=bool) if forbidden is None else forbidden.astype(bool)
    # Clusters only ever grow inside the components of the merge candidates (with published
    # people held together), so only the pairs inside one such component can take part in a
    # decision, and only the nodes of components larger than one need the slow loop below.
    candidate = ((weight >= rules.merge_weight) | forced) & ~forbidden
    tie_a, tie_b = _frozen_ties(frozen)
    graph = coo_matrix(
        (
            np.ones(int(candidate.sum()) + tie_a.size),
            (np.concatenate([a[candidate], tie_a]), np.concatenate([b[candidate], tie_b])),
        ),
        shape=(n, n),
    )
    _, component = connected_components(graph, directed=False)
    size = np.bincount(component, minlength=n)
    relevant = np.flatnonzero(component[a] == component[b])
    settled = _settled(component, size, sources, a[relevant], weight[relevant],
                       forbidden[relevant], frozen, rules)  # fmt: skip
    involved = np.flatnonzero((size[component] > 1) & ~settled[component])
    looped = relevant[~settled[component[a[relevant]]]]
    local = np.full(n, -1, dtype=np.int64)
    local[involved] = np.arange(involved.size)
    inner = _cluster_core(
        sources[involved],
        local[a[looped]],
        local[b[looped]],
        weight[looped],
        rules,
        forced[looped],
        forbidden[looped],
        None if frozen is None else frozen[involved],
    )
    labels = np.arange(n, dtype=np.int64)
    # A settled component is one cluster: its smallest node names it.
    first = np.full(n, n, dtype=np.int64)
    np.minimum.at(first, component, np.arange(n))
    whole = settled[component] & (size[component] > 1)
    labels[whole] = first[component[whole]]
    labels[involved] = involved[inner.labels]
    merged = candidate & (labels[a] == labels[b])
    return ClusterResult(labels, merged, inner.blocked)


def _settled(
    component: np.ndarray,
    size: np.ndarray,
    sources: np.ndarray,
    a: np.ndarray,
    weight: np.ndarray,
    forbidden: np.ndarray,
    frozen: np.ndarray | None,
    rules: ClusterRules,
) -> np.ndarray:
    """Components the loop would merge whole, decided at once: every pair inside was scored
    at or above the merge weight, none is forbidden, no source is over its cap, and nobody in
    it is published. Most people are such a component, so the loop only sees the hard ones."""
    n_comp = size.size
    pairs_in = np.bincount(component[a], minlength=n_comp)
    weakest = np.full(n_comp, np.inf)
    np.minimum.at(weakest, component[a], np.where(forbidden, -np.inf, weight))
    complete = pairs_in == size * (size - 1) // 2
    ok = complete & (weakest >= max(rules.merge_weight, rules.min_average_weight))
    ok &= weakest >= rules.cannot_link_weight
    per_source = np.zeros(n_comp, dtype=np.int64)
    combo, counts = np.unique(component * (int(sources.max()) + 1) + sources, return_counts=True)
    np.maximum.at(per_source, combo // (int(sources.max()) + 1), counts)
    ok &= per_source <= rules.max_per_source
    if frozen is not None:
        published = np.zeros(n_comp, dtype=bool)
        published[component[frozen >= 0]] = True
        ok &= ~published
    return ok & (size > 1)


def _frozen_ties(frozen: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Edges chaining the members of each published person, for the component search."""
    if frozen is None:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    nodes = np.flatnonzero(frozen >= 0)
    order = nodes[np.argsort(frozen[nodes], kind="stable")]
    same = frozen[order[1:]] == frozen[order[:-1]]
    return order[:-1][same], order[1:][same]


def _cluster_core(
    sources: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    weight: np.ndarray,
    rules: ClusterRules,
    forced: np.ndarray,
    forbidden: np.ndarray,
    frozen: np.ndarray | None,
) -> ClusterResult:
    n = int(sources.size)
    m = int(a.size)
    state = _Clusters(sources)
    if frozen is not None:
        _seed_frozen(state, frozen)
    candidate = ((weight >= rules.merge_weight) | forced) & ~forbidden
    # Neighbours of each node with the pair's weight, for the cross-cluster checks; a
    # forbidden pair weighs -inf so that it always vetoes.
    effective = np.where(forbidden, -np.inf, weight).astype(np.float64)
    ends = np.concatenate([a, b]).astype(np.int64)
    others = np.concatenate([b, a]).astype(np.int64)
    weights = np.concatenate([effective, effective])
    order = np.argsort(ends, kind="stable")
    start = np.searchsorted(ends[order], np.arange(n + 1))
    nbr = others[order].tolist()
    nbr_w = weights[order].tolist()
    start_list = start.tolist()

    picks = np.flatnonzero(candidate)
    # Strongest first; ties by node ids, so the input order never matters.
    lo, hi = np.minimum(a[picks], b[picks]), np.maximum(a[picks], b[picks])
    picks = picks[np.lexsort((hi, lo, -weight[picks], ~forced[picks]))]
    merged = np.zeros(m, dtype=bool)
    blocked = {"veto": 0, "average": 0, "per_source": 0, "frozen": 0}
    a_list, b_list = a.tolist(), b.tolist()
    forced_list = forced.tolist()
    for k in picks.tolist():
        ru, rv = state.find(a_list[k]), state.find(b_list[k])
        if ru == rv:
            continue
        if state.frozen[ru] >= 0 and state.frozen[rv] >= 0:
            blocked["frozen"] += 1
            continue
        if any(
            count + state.per_source[rv].get(source, 0) > rules.max_per_source
            for source, count in state.per_source[ru].items()
        ):
            blocked["per_source"] += 1
            continue
        small, large = (ru, rv) if len(state.members[ru]) <= len(state.members[rv]) else (rv, ru)
        total, count, veto = 0.0, 0, False
        for x in state.members[small]:
            for j in range(start_list[x], start_list[x + 1]):
                if state.find(nbr[j]) != large:
                    continue
                w = nbr_w[j]
                if w < rules.cannot_link_weight:
                    veto = True
                    break
                total += w
                count += 1
            if veto:
                break
        if veto:
            blocked["veto"] += 1
            continue
        if not forced_list[k] and count and total / count < rules.min_average_weight:
            blocked["average"] += 1
            continue
        state.union(ru, rv)
        merged[k] = True
    return ClusterResult(_labels(state, n), merged, {k: v for k, v in blocked.items() if v})


def _seed_frozen(state: _Clusters, frozen: np.ndarray) -> None:
    first: dict[int, int] = {}
    for node, label in enumerate(frozen.tolist()):
        if label < 0:
            continue
        if label in first:
            root = state.union(state.find(first[label]), state.find(node))
            state.frozen[root] = label
        else:
            first[label] = node
            state.frozen[node] = label


def _labels(state: _Clusters, n: int) -> np.ndarray:
    labels = np.empty(n, dtype=np.int64)
    for root in range(n):
        members = state.members[root]
        if members:
            labels[members] = min(members)
    return labels
