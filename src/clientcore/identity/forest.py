"""The merges and the profiles of an identifier graph, vectorized and without sorting.

The merges are the edges Kruskal's algorithm keeps when edges are taken in (first_seq, a, b)
order: the unique minimum spanning forest under that order, and exactly the unions the
incremental union-find performs. Sorting every edge for Kruskal (or handing them all to
`scipy.sparse.csgraph.minimum_spanning_tree`) costs several times a connected-components
pass, so this module finds the same forest by Borůvka's rounds:

* the earliest edge leaving a part is in the forest (with distinct weights, the cut
  property), so each identifier's earliest edge is — most of the forest, in one reduction;
* those edges link each identifier to one neighbour, so their components come from a few
  pointer-jumping passes; the few edges left between parts go through the same step (with
  a small connected-components call) until none is left.

The components come out of the same passes: profiles and merges together cost about as
much as one connected-components pass over the edges.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

IntArray = np.ndarray
_NONE = np.iinfo(np.int64).max
_KEY_ROOM = 1 << 62  # (seq, neighbour) and (a, b) packed in one int64 stay below this


def spanning_forest(n: int, a: IntArray, b: IntArray, seq: IntArray) -> tuple[IntArray, IntArray]:
    """(component label of each of the n nodes, bool per edge: kept by Kruskal).

    Edges are distinct pairs with a < b. Labels are arbitrary integers, equal within a
    component and distinct across components."""
    a, b, seq = (np.asarray(x, dtype=np.int64) for x in (a, b, seq))
    if a.size == 0:
        return np.arange(n, dtype=np.int64), np.zeros(0, dtype=bool)
    shift = max(1, (n - 1).bit_length())  # node ids fit in `shift` bits
    if (int(seq.max()) + 1) << shift >= _KEY_ROOM or 2 * shift >= 62:
        return _forest_by_sorting(n, a, b, seq)
    # At one node, the edges it touches compare by (seq, neighbour): with a < b, an edge to a
    # smaller neighbour has the smaller `a`; edges to larger ones share `a` and order by `b`.
    key_a = seq << shift
    key_b = key_a | a
    key_a |= b
    earliest = np.full(n, _NONE, dtype=np.int64)
    np.minimum.at(earliest, a, key_a)
    np.minimum.at(earliest, b, key_b)
    kept = (earliest[a] == key_a) | (earliest[b] == key_b)
    node_part = _pointer_components(n, earliest, shift)
    parts = int(node_part.max()) + 1
    part_of = np.arange(parts, dtype=np.int64)  # first pass's part -> the part it is now in
    first_a, first_b = node_part[a], node_part[b]
    rest = np.flatnonzero(first_a != first_b)
    first_a, first_b = first_a[rest], first_b[rest]
    while rest.size:
        pa, pb = part_of[first_a], part_of[first_b]
        between = pa != pb
        rest, first_a, first_b = rest[between], first_a[between], first_b[between]
        if rest.size == 0:
            break
        pa, pb = pa[between], pb[between]
        # Number the parts these edges touch 0..k-1, so each round costs what it touches.
        touched = np.zeros(parts, dtype=bool)
        touched[pa] = True
        touched[pb] = True
        number = np.cumsum(touched) - 1
        ca, cb = number[pa], number[pb]
        k = int(number[-1]) + 1
        chosen = _earliest_leaving(k, ca, cb, a[rest], b[rest], seq[rest], shift)
        kept[rest[chosen]] = True
        joined = _components(k, ca[chosen], cb[chosen])
        # Each merged part is named by the smallest of the parts it took in.
        name = np.full(int(joined.max()) + 1, parts, dtype=np.int64)
        olds = np.flatnonzero(touched)
        np.minimum.at(name, joined, olds)
        renamed = np.arange(parts, dtype=np.int64)
        renamed[olds] = name[joined]
        part_of = renamed[part_of]
    return part_of[node_part], kept


def _earliest_leaving(
    parts: int, pa: IntArray, pb: IntArray, a: IntArray, b: IntArray, seq: IntArray, shift: int
) -> IntArray:
    """Bool per edge: the earliest edge, in (seq, a, b) order, leaving one of its parts."""
    ends = np.concatenate([pa, pb])
    seq2 = np.concatenate([seq, seq])
    first_seq = np.full(parts, _NONE, dtype=np.int64)
    np.minimum.at(first_seq, ends, seq2)
    tied = seq2 == first_seq[ends]
    pair = (a << shift) | b
    pair2 = np.concatenate([pair, pair])
    first_pair = np.full(parts, _NONE, dtype=np.int64)
    np.minimum.at(first_pair, ends[tied], pair2[tied])
    best = tied & (pair2 == first_pair[ends])
    m = pa.size
    return best[:m] | best[m:]


def _pointer_components(n: int, earliest: IntArray, shift: int) -> IntArray:
    """Components of the graph where each node links to the neighbour of its earliest edge,
    labelled 0..k-1.

    Following those links never loops except between two nodes whose earliest edge is the
    same (along a longer loop the edges would get ever earlier), so after cutting each such
    pair at its smaller node, pointer jumping finds every node's root in a few passes."""
    node = np.arange(n, dtype=np.int64)
    target = np.where(earliest != _NONE, earliest & ((1 << shift) - 1), node)
    mutual = (target[target] == node) & (node < target)
    target[mutual] = node[mutual]
    active = np.flatnonzero(target[target] != target)
    while active.size:
        target[active] = target[target[active]]
        active = active[target[target[active]] != target[active]]
    number = np.cumsum(target == node) - 1  # roots numbered 0..k-1 in node order
    return number[target]


def _components(n: int, a: IntArray, b: IntArray) -> IntArray:
    """Component labels (SciPy's int32: half the memory to gather from)."""
    graph = coo_matrix((np.ones(a.size, dtype=np.int8), (a, b)), shape=(n, n)).tocsr()
    return connected_components(graph, directed=False)[1]


def _forest_by_sorting(
    n: int, a: IntArray, b: IntArray, seq: IntArray
) -> tuple[IntArray, IntArray]:
    """The same answer with every edge ranked, for keys too large for one int64."""
    order = np.lexsort((b, a, seq))
    weights = np.empty(a.size, dtype=np.float64)
    weights[order] = np.arange(1, a.size + 1, dtype=np.float64)
    tree = minimum_spanning_tree(coo_matrix((weights, (a, b)), shape=(n, n)).tocsr()).tocoo()
    kept = np.zeros(a.size, dtype=bool)
    kept[order[tree.data.astype(np.int64) - 1]] = True
    return _components(n, a[kept], b[kept]).astype(np.int64), kept


def smallest_member(labels: IntArray) -> IntArray:
    """For each node, the smallest node id in its component."""
    n = int(labels.size)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    smallest = np.full(int(labels.max()) + 1, n, dtype=np.int64)
    np.minimum.at(smallest, labels, np.arange(n, dtype=np.int64))
    return smallest[labels]
