"""The shortcuts a request takes compute what the general code computes, bit for bit: sparse
sums of co-occurrence and kNN rows, their top items, the ALS fold-in without SciPy, the
longest-first ALS retrieval and the direct ranker call."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from clientcore.personalize.factors import ByNorm, Factors
from clientcore.personalize.features import FEATURES, _top_nonzero
from clientcore.personalize.ranker import Ranker, RankerSettings
from clientcore.personalize.rows import Rows, Sparse, distinct, distinct_counts, member


def _matrix(seed: int, n: int = 300, density: float = 0.03) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    m = sp.random(n, n, density=density, format="csr", random_state=rng)
    m.data = np.round(m.data * 8) / 8  # ties, and a few zeros kept as stored entries
    return m


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), picked=st.integers(0, 40), k=st.integers(1, 60))
def test_sparse_sums_equal_dense_ones(seed: int, picked: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    rows = Rows.of(_matrix(seed))
    chosen = rng.choice(rows.n_columns, picked, replace=False)
    weights = rng.random(picked)
    dense = rows.weighted_sum(chosen, weights)
    sparse = rows.sparse_sum(chosen, weights)
    assert np.array_equal(sparse.dense(rows.n_columns), dense)
    probe = rng.integers(0, rows.n_columns, 50)
    assert np.array_equal(sparse.at(probe), dense[probe])
    assert np.array_equal(np.sort(sparse.top_positive(k)), np.sort(_top_nonzero(dense, k)))
    halves = [np.arange(picked) % 2 == 0, np.arange(picked) % 2 == 1, np.ones(picked, bool)]
    for part, mask in zip(rows.sparse_sums(chosen, weights, halves), halves, strict=True):
        alone = rows.weighted_sum(chosen[mask], weights[mask])
        assert np.array_equal(part.dense(rows.n_columns), alone)
    other = rows.sparse_sum(chosen[::-1], weights[::-1] * 2)
    both = Sparse.total(sparse, other, Sparse.EMPTY)
    assert np.array_equal(both.dense(rows.n_columns), dense + other.dense(rows.n_columns) + 0.0)
    assert np.array_equal(
        np.sort(both.top_positive(k)), np.sort(_top_nonzero(both.dense(rows.n_columns), k))
    )


def test_the_sorting_set_helpers_match_numpy() -> None:
    rng = np.random.default_rng(5)
    for size in (0, 1, 2, 30, 500):
        values = rng.integers(0, 40, size)
        pool = rng.integers(0, 40, rng.integers(0, 20))
        assert np.array_equal(distinct(values), np.unique(values))
        found, counts = distinct_counts(values)
        expected, expected_counts = np.unique(values, return_counts=True)
        assert np.array_equal(found, expected)
        assert np.array_equal(counts, expected_counts)
        assert np.array_equal(member(values, pool), np.isin(values, pool))


def test_empty_sums() -> None:
    rows = Rows.of(sp.csr_matrix((5, 7)))
    empty = rows.sparse_sum(np.array([1, 2]), np.ones(2))
    assert len(empty.columns) == 0
    assert np.array_equal(empty.at(np.array([0, 6])), np.zeros(2))
    assert len(empty.top_positive(3)) == 0


def test_fold_in_equals_the_library_fold_in() -> None:
    rng = np.random.default_rng(3)
    clicks = sp.random(300, 120, density=0.05, format="csr", random_state=rng)
    factors = Factors.fit(clicks, factors=8, iterations=3, threads=1)
    solver = factors.solver(1)
    for _ in range(50):
        items = np.unique(rng.integers(0, 120, rng.integers(1, 15)))
        weights = np.log1p(rng.random(len(items)) * 5)
        row = sp.csr_matrix(
            (weights.astype(np.float32), (np.zeros(len(items), dtype=np.int32), items)),
            shape=(1, 120),
        )
        expected = np.asarray(solver.recalculate_user(0, row), dtype=np.float32)
        assert np.array_equal(factors.fold_in(items, weights), expected)
    repeated = np.array([5, 5, 2])  # not distinct and sorted: the library's own path
    assert factors.fold_in(repeated, np.ones(3)).shape == (8,)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 150), n=st.integers(1, 9000))
def test_the_longest_first_scan_finds_the_exact_top_items(seed: int, k: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    lengths = rng.pareto(1.5, n) + 0.01  # a long tail of short vectors, as ALS gives
    vectors = rng.standard_normal((n, 16)) * (lengths / 4)[:, None]
    vectors = vectors.astype(np.float32)
    vector = rng.standard_normal(16).astype(np.float32)
    found, scanned = ByNorm.build(vectors).top(vector, k)
    every = vectors @ vector
    assert len(found) == min(k, n)
    assert scanned <= n
    kth = np.sort(every)[::-1][min(k, n) - 1]
    assert (every[found] >= kth).all()  # the k best scores (ties may pick either item)


def test_the_direct_ranker_call_equals_the_library_call() -> None:
    rng = np.random.default_rng(11)
    X = rng.random((600, len(FEATURES))).astype(np.float32)
    X[X < 0.1] = np.nan
    y = (rng.random(600) < 0.2).astype(np.float32)
    ranker = Ranker.fit(X, y, np.full(6, 100), RankerSettings(trees=5, min_rows_in_leaf=5))
    assert ranker._direct is not None
    for rows in (X[:0], X[:1], X[:37], X):
        expected = np.asarray(ranker.booster.predict(rows, num_threads=1), dtype=np.float64)
        assert np.array_equal(ranker.predict(rows), expected if len(rows) else np.zeros(0))
