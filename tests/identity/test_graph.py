"""The identity graph: the incremental path equals the batch path, whatever the chunking."""

from __future__ import annotations

import random
from itertools import combinations, pairwise

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from clientcore.identity.graph import NOT_LINKING, SPLIT, IncrementalGraph, batch_profiles

# type 0 (say user_id): 1 per profile; type 1 (say card): 2; type 4 (a first name) never
# links, and a profile, or an identifier's events, may carry 1.
LIMITS = {0: 1, 1: 2, 4: 1}
NAMES = {4}


def _edges(events: list[list[int]]) -> dict[tuple[int, int], int]:
    """Distinct pairs with the first event (seq) that showed them."""
    first: dict[tuple[int, int], int] = {}
    for seq, ids in enumerate(events):
        for a, b in combinations(sorted(set(ids)), 2):
            first.setdefault((a, b), seq)
    return first


def _batch(types: list[int], events: list[list[int]]):  # type: ignore[no-untyped-def]
    edges = _edges(events)
    a = np.array([k[0] for k in edges], dtype=np.int64)
    b = np.array([k[1] for k in edges], dtype=np.int64)
    seq = np.array(list(edges.values()), dtype=np.int64)
    return batch_profiles(np.array(types, dtype=np.int64), a, b, seq, LIMITS, None, NAMES)


def _incremental(types: list[int], events: list[list[int]], cuts: list[int]):  # type: ignore[no-untyped-def]
    graph = IncrementalGraph(types, LIMITS, NAMES)
    seen: set[tuple[int, int]] = set()
    merges: set[tuple[int, int, int]] = set()
    bounds = sorted({0, len(events), *(c for c in cuts if c < len(events))})
    for lo, hi in pairwise(bounds):
        new = []
        for seq in range(lo, hi):
            for a, b in combinations(sorted(set(events[seq])), 2):
                if (a, b) not in seen:
                    seen.add((a, b))
                    new.append((seq, a, b))
        changes = graph.add_edges(new)
        merges = {
            m
            for m in merges
            if m[1] not in changes.dropped_merges and m[2] not in changes.dropped_merges
        }
        merges |= set(changes.merges)
    quarantined = [(n, *graph.reason(n)) for n in range(len(types)) if graph.reason(n)]  # type: ignore[misc]
    return graph, merges, quarantined


@st.composite
def _logs(draw: st.DrawFn) -> tuple[list[int], list[list[int]], list[int]]:
    n = draw(st.integers(2, 14))
    types = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))  # 4: a first name
    events = draw(st.lists(st.lists(st.integers(0, n - 1), min_size=1, max_size=4), max_size=25))
    cuts = draw(st.lists(st.integers(0, 25), max_size=5))
    return types, events, cuts


@settings(max_examples=300, deadline=None)
@given(_logs())
def test_incremental_equals_batch(log: tuple[list[int], list[list[int]], list[int]]) -> None:
    types, events, cuts = log
    batch = _batch(types, events)
    graph, merges, graph_quarantine = _incremental(types, events, cuts)
    assert [graph.profile(i) for i in range(len(types))] == batch.profile_of.tolist()
    assert sorted(graph.quarantined | graph.cut) == np.flatnonzero(batch.quarantined).tolist()
    assert sorted(graph_quarantine) == sorted(
        (int(n), int(batch.quarantine_type[n]), int(batch.quarantine_seq[n]))
        for n in np.flatnonzero(batch.quarantined)
    )
    assert merges == set(
        zip(batch.merge_seq.tolist(), batch.merge_a.tolist(), batch.merge_b.tolist(), strict=True)
    )


@settings(max_examples=200, deadline=None)
@given(_logs(), st.randoms(use_true_random=False))
def test_restored_graph_continues_like_the_batch(
    log: tuple[list[int], list[list[int]], list[int]], rnd: random.Random
) -> None:
    """A graph restored from stored rows (names' quarantine from their type, not from a
    row) takes the rest of the log to the batch's answer."""
    types, events, _ = log
    half = rnd.randint(0, len(events))
    first = _batch(types, events[:half])
    reasons = {
        int(n): (int(first.quarantine_type[n]), int(first.quarantine_seq[n]))
        for n in np.flatnonzero(first.quarantined)
        if first.quarantine_type[n] != NOT_LINKING
    }
    edges = [(seq, a, b) for (a, b), seq in _edges(events[:half]).items()]
    graph = IncrementalGraph.restore(
        types, LIMITS, first.profile_of.tolist(), reasons, edges, NAMES
    )
    known = {(a, b) for _, a, b in edges}
    graph.add_edges([(seq, a, b) for (a, b), seq in _edges(events).items() if (a, b) not in known])
    assert [graph.profile(i) for i in range(len(types))] == _batch(
        types, events
    ).profile_of.tolist()


def test_names_link_nobody_but_two_on_one_email_quarantine_it() -> None:
    # 0, 1: cookies (type 2); 2: an email (type 2); 3, 4: first names (type 4).
    types = [2, 2, 2, 4, 4]
    events = [[0, 2, 3], [1, 2, 4]]  # Anna and Ben each type the family email
    result = _batch(types, events)
    assert result.profile_of.tolist() == [0, 1, -1, -1, -1]
    assert result.quarantine_type.tolist() == [-1, -1, 4, NOT_LINKING, NOT_LINKING]
    graph, _, quarantined = _incremental(types, events, [1])
    assert [graph.profile(i) for i in range(5)] == [0, 1, -1, -1, -1]
    assert quarantined == [(2, 4, 1), (3, NOT_LINKING, 0), (4, NOT_LINKING, 0)]


def test_one_name_per_profile_cuts_the_bridge_between_two_people() -> None:
    # Ben's login (0) was typed with his name (4); the family email (2) only with Anna's (3),
    # next to her cookie (1); Ben logs in with the family email. One email, one name each:
    # under every pairwise limit, yet the profile would carry two names.
    types = [0, 2, 2, 4, 4]
    events = [[0, 4], [1, 2, 3], [0, 2]]
    result = _batch(types, events)
    assert result.profile_of.tolist() == [0, 1, -1, -1, -1]
    assert result.quarantine_type[2] == SPLIT
    graph, _, _ = _incremental(types, events, [1, 2])
    assert [graph.profile(i) for i in range(5)] == [0, 1, -1, -1, -1]


def test_a_placeholder_linked_to_many_cards_is_quarantined_and_links_nobody() -> None:
    # 0..3 are loyalty cards (type 1, limit 2); 4 is a placeholder email (type 2).
    types = [1, 1, 1, 1, 2]
    events = [[0, 4], [1, 4], [2, 4], [3, 4]]
    result = _batch(types, events)
    assert result.quarantined.tolist() == [False, False, False, False, True]
    assert result.profile_of.tolist() == [0, 1, 2, 3, -1]
    assert result.quarantine_seq[4] == 2  # the third card, over the limit of 2


def test_profiles_take_their_oldest_identifier_and_merges_are_recorded() -> None:
    types = [2, 3, 2, 0]  # cookie, device, email, login
    events = [[0, 1], [2, 3], [1, 3]]
    result = _batch(types, events)
    assert result.profile_of.tolist() == [0, 0, 0, 0]
    merged = sorted(
        zip(
            result.merge_seq.tolist(), result.merge_a.tolist(), result.merge_b.tolist(), strict=True
        )
    )
    assert merged == [(0, 0, 1), (1, 2, 3), (2, 1, 3)]


def test_a_late_quarantine_splits_what_it_had_joined() -> None:
    types = [0, 0, 2]  # two logins, one shared email; user_id limit is 1
    graph = IncrementalGraph(types, LIMITS)
    graph.add_edges([(0, 0, 2)])
    assert graph.profile(2) == graph.profile(0) == 0
    changes = graph.add_edges([(1, 1, 2)])
    assert [graph.profile(i) for i in range(3)] == [0, 1, -1]
    assert graph.reason(2) == (0, 1)
    assert 2 in changes.touched


def test_a_placeholder_under_the_pairwise_limit_is_cut_from_the_profile() -> None:
    # Two logins (type 0, limit 1), each with its card (type 1); a store phone (type 3) typed
    # for both: it links only two cards (under the card limit of 2), yet joins two people.
    types = [0, 1, 0, 1, 3]
    events = [[0, 1], [2, 3], [1, 4], [3, 4]]
    result = _batch(types, events)
    assert result.profile_of.tolist() == [0, 0, 2, 2, -1]
    graph, _, quarantined = _incremental(types, events, [1, 2, 3])
    assert [graph.profile(i) for i in range(5)] == [0, 0, 2, 2, -1]
    assert quarantined == [(4, -3, 0)]
