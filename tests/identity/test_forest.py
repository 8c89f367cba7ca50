"""The vectorized batch pieces against plain Python references: Kruskal's merges, the
components, and the pairwise quarantine (counts, crossing event and type)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from clientcore.identity.batch import _SLOTS, quarantine
from clientcore.identity.forest import smallest_member, spanning_forest
from clientcore.identity.graph import _kruskal

Edges = tuple[int, np.ndarray, np.ndarray, np.ndarray]


@st.composite
def _graphs(draw: st.DrawFn, huge_seq: bool = False) -> Edges:
    """Distinct pairs (a < b) over n nodes, each with the event that first showed it; many
    share an event, as identifiers of one event do."""
    n = draw(st.integers(1, 30))
    pairs = draw(
        st.dictionaries(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] < p[1]),
            st.integers(0, 8),
            max_size=70,
        )
    )
    a = np.array([p[0] for p in pairs], dtype=np.int64)
    b = np.array([p[1] for p in pairs], dtype=np.int64)
    seq = np.array(list(pairs.values()), dtype=np.int64)
    if huge_seq:  # too large for the one-key path: the sorting fallback must agree
        seq = seq + (1 << 60)
    return n, a, b, seq


def _union_find_components(n: int, a: np.ndarray, b: np.ndarray) -> list[int]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        rx, ry = find(x), find(y)
        parent[max(rx, ry)] = min(rx, ry)
    return [find(x) for x in range(n)]


def _check_forest(graph: Edges) -> None:
    n, a, b, seq = graph
    labels, kept = spanning_forest(n, a, b, seq)
    expected = _kruskal(list(zip(seq.tolist(), a.tolist(), b.tolist(), strict=True)))
    got = list(zip(seq[kept].tolist(), a[kept].tolist(), b[kept].tolist(), strict=True))
    assert sorted(got) == sorted(expected)
    assert smallest_member(labels).tolist() == _union_find_components(n, a, b)


@settings(max_examples=400, deadline=None)
@given(_graphs())
def test_spanning_forest_keeps_what_kruskal_keeps(graph: Edges) -> None:
    _check_forest(graph)


@settings(max_examples=100, deadline=None)
@given(_graphs(huge_seq=True))
def test_spanning_forest_with_event_numbers_too_large_for_one_key(graph: Edges) -> None:
    _check_forest(graph)


def test_parts_joined_only_by_later_edges() -> None:
    # Each node's earliest edge joins it to one neighbour only; the pairs (0,1), (2,3), (4,5),
    # (6,7) are then joined by later edges, and the cycle's latest edge is left out.
    a = np.array([0, 2, 4, 6, 1, 3, 5, 0], dtype=np.int64)
    b = np.array([1, 3, 5, 7, 2, 4, 6, 7], dtype=np.int64)
    seq = np.array([0, 0, 0, 0, 5, 6, 7, 9], dtype=np.int64)
    labels, kept = spanning_forest(8, a, b, seq)
    assert kept.tolist() == [True] * 7 + [False]
    assert smallest_member(labels).tolist() == [0] * 8


def _reference_quarantine(
    n: int, types: list[int], edges: Edges, limits: dict[int, int]
) -> tuple[list[bool], list[int], list[int]]:
    """Per identifier, its links of each limited type in (seq) order; the (limit + 1)-th is
    the crossing; the earliest crossing wins, ties to the smaller type."""
    _, a, b, seq = edges
    links: dict[tuple[int, int], list[int]] = defaultdict(list)
    for x, y, s in zip(a.tolist(), b.tolist(), seq.tolist(), strict=True):
        for src, dst in ((x, y), (y, x)):
            if types[dst] in limits:
                links[(src, types[dst])].append(s)
    flagged, kind, when = [False] * n, [-1] * n, [0] * n
    best: dict[int, tuple[int, int]] = {}
    for (node, code), seqs in links.items():
        if len(seqs) > limits[code]:
            crossing = (sorted(seqs)[limits[code]], code)
            best[node] = min(best.get(node, crossing), crossing)
    for node, (s, code) in best.items():
        flagged[node], kind[node], when[node] = True, code, s
    return flagged, kind, when


@settings(max_examples=300, deadline=None)
@given(_graphs(), st.data())
def test_quarantine_matches_the_reference(graph: Edges, data: st.DataObject) -> None:
    n, a, b, seq = graph
    many = data.draw(st.booleans())  # more limited types than one count table holds
    n_types = _SLOTS + 2 if many else 4
    types = data.draw(st.lists(st.integers(0, n_types - 1), min_size=n, max_size=n))
    limited = data.draw(
        st.dictionaries(st.integers(0, n_types - 1), st.integers(1, 3), min_size=_SLOTS)
        if many
        else st.dictionaries(st.integers(0, n_types - 1), st.integers(1, 3))
    )
    flagged, kind, when = quarantine(n, np.array(types, dtype=np.int64), a, b, seq, limited)
    assert (flagged.tolist(), kind.tolist(), when.tolist()) == _reference_quarantine(
        n, types, graph, limited
    )


def test_limits_crossed_in_one_event_report_the_smaller_type() -> None:
    # Identifier 0 meets two logins (type 0) and two cards (type 1) in event 5, and a third
    # card in event 3: the card limit (2) is crossed at 5 like the login limit (1).
    types = np.array([2, 0, 0, 1, 1, 1], dtype=np.int64)
    a = np.array([0, 0, 0, 0, 0], dtype=np.int64)
    b = np.array([1, 2, 3, 4, 5], dtype=np.int64)
    seq = np.array([5, 5, 5, 5, 3], dtype=np.int64)
    flagged, kind, when = quarantine(6, types, a, b, seq, {0: 1, 1: 2})
    assert flagged.tolist() == [True] + [False] * 5
    assert (int(kind[0]), int(when[0])) == (0, 5)
    flagged, kind, when = quarantine(6, types, a, b, seq, {1: 1})
    assert (int(kind[0]), int(when[0])) == (1, 5)  # the second card, in seq order 3 then 5
