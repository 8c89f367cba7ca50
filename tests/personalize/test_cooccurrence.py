"""Decayed co-occurrence: kept up to date in chunks, it equals one batch build."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from clientcore.personalize.cooccurrence import CoOccurrence, basket_times, baskets

ITEMS = 12


@st.composite
def visits(draw: st.DrawFn) -> list[tuple[float, list[int]]]:
    n = draw(st.integers(1, 25))
    times = sorted(draw(st.lists(st.floats(0, 400 * 86400), min_size=n, max_size=n)))
    return [(t, draw(st.lists(st.integers(0, ITEMS - 1), min_size=1, max_size=6))) for t in times]


def _matrix(chunk: list[tuple[float, list[int]]], n: int = ITEMS) -> tuple:  # type: ignore[type-arg]
    basket = np.repeat(np.arange(len(chunk)), [len(items) for _, items in chunk])
    item = np.concatenate([items for _, items in chunk]).astype(np.int64)
    t = np.repeat([when for when, _ in chunk], [len(items) for _, items in chunk])
    return baskets(basket, item, t, n), basket_times(basket, t)


@settings(max_examples=100, deadline=None)
@given(visits(), st.integers(1, 4), st.floats(10, 200))
def test_incremental_equals_batch(all_visits: list, parts: int, half_life: float) -> None:  # type: ignore[type-arg]
    end = all_visits[-1][0]
    batch = CoOccurrence.empty(ITEMS, end, half_life)
    batch.add(*_matrix(all_visits))

    live = CoOccurrence.empty(ITEMS, all_visits[0][0], half_life)
    for chunk in np.array_split(np.arange(len(all_visits)), parts):
        if len(chunk) == 0:
            continue
        piece = [all_visits[i] for i in chunk]
        live.decay_to(piece[-1][0])
        live.add(*_matrix(piece))
    live.decay_to(end)
    np.testing.assert_allclose(live.counts.toarray(), batch.counts.toarray(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(live.n, batch.n, rtol=1e-9, atol=1e-12)


def test_counts_visits_not_views_and_decays() -> None:
    m = CoOccurrence.empty(3, 100 * 86400, half_life_days=100)
    # one old visit with items 0, 1 (viewed twice), one recent visit with 0, 2
    m.add(*_matrix([(0.0, [0, 1, 1]), (100 * 86400, [0, 2])], 3))
    c = m.counts.toarray()
    assert c[0, 1] == c[1, 0] == 0.5  # one half-life old
    assert c[0, 2] == 1.0
    assert np.all(np.diag(c) == 0)
    np.testing.assert_allclose(m.n, [1.5, 0.5, 1.0])
    np.testing.assert_allclose(m.conditional().toarray()[1], [1.0, 0.0, 0.0])


def test_pruning_keeps_each_items_strongest_partners() -> None:
    m = CoOccurrence.empty(5, 0.0)
    m.add(*_matrix([(0.0, [0, 1, 2, 3]), (0.0, [0, 1, 2]), (0.0, [0, 1])], 5))
    top = m.pruned(2).counts.toarray()
    assert (top > 0).sum(axis=1).max() == 2
    assert top[0, 1] == 3.0
    assert top[0, 2] == 2.0
    assert top[0, 3] == 0.0
