"""The clustering that resists chaining: vetoes, average linkage, per-source caps, frozen
people, and independence from the order pairs arrive in."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from clientcore.reconcile.clustering import ClusterRules, _cluster_core, cluster

RULES = ClusterRules(merge_weight=6.6, min_average_weight=6.6, cannot_link_weight=-10.0)


def _run(n: int, pairs: list[tuple[int, int, float]], **kwargs: object) -> list[int]:
    sources = kwargs.pop("sources", np.arange(n))
    a = np.array([p[0] for p in pairs], dtype=np.int64)
    b = np.array([p[1] for p in pairs], dtype=np.int64)
    w = np.array([p[2] for p in pairs], dtype=np.float64)
    rules = kwargs.pop("rules", RULES)
    return cluster(np.asarray(sources), a, b, w, rules, **kwargs).labels.tolist()  # type: ignore[arg-type]


def test_strong_pairs_merge_and_weak_ones_do_not() -> None:
    assert _run(4, [(0, 1, 12.0), (2, 3, 3.0)]) == [0, 0, 2, 3]


def test_a_chain_whose_ends_disagree_stops_at_the_veto() -> None:
    # 0-1 and 1-2 look alike, 0 and 2 clearly do not: connected components would give one
    # cluster of three; here 2 stays out.
    labels = _run(3, [(0, 1, 20.0), (1, 2, 10.0), (0, 2, -15.0)])
    assert labels == [0, 0, 2]


def test_a_long_chain_of_weak_agreement_is_cut_by_the_average() -> None:
    # 0..5 in a line: each neighbour just above the merge weight, every other scored pair
    # mildly against; the average across two growing clusters falls below the bar.
    pairs = [(i, i + 1, 7.0) for i in range(5)]
    pairs += [(i, j, -2.0) for i in range(6) for j in range(i + 2, 6)]
    labels = _run(6, pairs)
    assert max(np.bincount(labels)) <= 2


def test_no_person_holds_more_records_of_one_source_than_allowed() -> None:
    # Five records of one source all alike (a common name): at most 3 in one cluster.
    pairs = [(i, j, 15.0) for i in range(5) for j in range(i + 1, 5)]
    labels = _run(5, pairs, sources=np.zeros(5, dtype=np.int64))
    assert max(np.bincount(labels)) == 3


def test_reviewers_decisions_force_and_forbid() -> None:
    pairs = [(0, 1, 2.0), (1, 2, 30.0)]
    forced = np.array([True, False])
    forbidden = np.array([False, True])
    assert _run(3, pairs, forced=forced, forbidden=forbidden) == [0, 0, 2]


def test_published_people_never_merge_but_take_in_new_records() -> None:
    frozen = np.array([100, 100, 200, -1])
    # 3 (new) is alike to both people; 1 and 2 are alike, but both are published.
    pairs = [(1, 2, 25.0), (0, 3, 20.0), (2, 3, 9.0)]
    labels = _run(4, pairs, frozen=frozen)
    assert labels[0] == labels[1] == labels[3]
    assert labels[2] != labels[0]


@st.composite
def _graphs(draw: st.DrawFn) -> tuple[int, list[tuple[int, int, float]], list[int]]:
    n = draw(st.integers(2, 12))
    edges = draw(
        st.lists(
            st.tuples(
                st.integers(0, n - 1),
                st.integers(0, n - 1),
                st.sampled_from([-20.0, -3.0, 0.5, 7.0, 7.0, 12.0, 25.0]),
            ),
            max_size=30,
        )
    )
    unique: dict[tuple[int, int], float] = {}
    for x, y, w in edges:
        if x != y:
            unique.setdefault((min(x, y), max(x, y)), w)
    sources = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    return n, [(x, y, w) for (x, y), w in unique.items()], sources


@settings(max_examples=200, deadline=None)
@given(_graphs(), st.randoms(use_true_random=False))
def test_clusters_do_not_depend_on_the_order_of_pairs(
    graph: tuple[int, list[tuple[int, int, float]], list[int]], rng: object
) -> None:
    n, pairs, sources = graph
    shuffled = list(pairs)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    flipped = [(y, x, w) for x, y, w in shuffled]  # either end may come first
    first = _run(n, pairs, sources=np.array(sources))
    assert _run(n, flipped, sources=np.array(sources)) == first


@settings(max_examples=200, deadline=None)
@given(_graphs())
def test_every_cluster_respects_the_vetoes_and_the_cap(
    graph: tuple[int, list[tuple[int, int, float]], list[int]],
) -> None:
    n, pairs, sources = graph
    labels = _run(n, pairs, sources=np.array(sources))
    for x, y, w in pairs:
        if w < RULES.cannot_link_weight:
            assert labels[x] != labels[y]
    for label in set(labels):
        members = [i for i in range(n) if labels[i] == label]
        counts = np.bincount([sources[i] for i in members])
        assert counts.max() <= RULES.max_per_source


@settings(max_examples=200, deadline=None)
@given(_graphs())
def test_the_shortcuts_give_what_the_plain_loop_gives(
    graph: tuple[int, list[tuple[int, int, float]], list[int]],
) -> None:
    # Components decided at once and pairs across components dropped: the same clusters as
    # running the constrained loop over every node and pair.
    n, pairs, sources = graph
    a = np.array([p[0] for p in pairs], dtype=np.int64)
    b = np.array([p[1] for p in pairs], dtype=np.int64)
    w = np.array([p[2] for p in pairs], dtype=np.float64)
    none = np.zeros(a.size, dtype=bool)
    plain = _cluster_core(np.array(sources), a, b, w, RULES, none, none, None)
    assert _run(n, pairs, sources=np.array(sources)) == plain.labels.tolist()
