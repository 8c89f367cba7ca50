"""The graph's edges from the events' identifiers, against a plain reference."""

from __future__ import annotations

import random
from itertools import combinations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from clientcore.identity.pairs import identifier_pairs

Rows = list[tuple[int, int]]


@st.composite
def _rows(draw: st.DrawFn) -> Rows:
    """Distinct (seq, id) rows sorted by seq: events of any size, ids shared between them."""
    n_ids = draw(st.integers(1, 12))
    events = draw(st.lists(st.sets(st.integers(0, n_ids - 1), max_size=8), max_size=15))
    seqs = sorted(draw(st.sets(st.integers(1, 10_000), min_size=len(events), max_size=len(events))))
    rows = [(seq, i) for seq, ids in zip(seqs, events, strict=True) for i in sorted(ids)]
    return rows


def _reference(rows: Rows) -> dict[tuple[int, int], int]:
    by_event: dict[int, list[int]] = {}
    for seq, i in rows:
        by_event.setdefault(seq, []).append(i)
    first: dict[tuple[int, int], int] = {}
    for seq in sorted(by_event):
        for a, b in combinations(sorted(by_event[seq]), 2):
            first.setdefault((a, b), seq)
    return first


@given(_rows(), st.randoms())
def test_pairs_are_the_distinct_pairs_of_each_event_with_the_first_event(
    rows: Rows, rnd: random.Random
) -> None:
    # Inside an event the rows may come in any order.
    shuffled = sorted(rows, key=lambda row: (row[0], rnd.random()))
    seq = np.array([s for s, _ in shuffled], dtype=np.int64)
    ids = np.array([i for _, i in shuffled], dtype=np.int64)
    a, b, first = identifier_pairs(seq, ids, 12)
    got = {(x, y): s for x, y, s in zip(a.tolist(), b.tolist(), first.tolist(), strict=True)}
    assert got == _reference(rows)
    assert len(got) == a.size
    assert (a < b).all()
