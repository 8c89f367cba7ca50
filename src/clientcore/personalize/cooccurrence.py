"""Items seen or bought together in one visit, with exponential time decay.

`C[i, j]` is the decayed number of baskets (visits) holding both items, `n[i]` the decayed
number holding item i. Decay is relative to a reference time, so the statistics can be kept
up to date without a rebuild: moving the reference multiplies everything by one factor, and a
new basket adds its outer product. `add` in chunks gives exactly what one batch build gives
(property-tested), so new visits can be folded in between trainings without a rebuild
(training builds it in one batch today).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

MAX_BASKET = 50  # items of one visit counted (bots and very long browses are cut)


def decay(age_seconds: np.ndarray | float, half_life_days: float) -> np.ndarray:
    return np.power(0.5, np.asarray(age_seconds) / (half_life_days * 86400.0))


def baskets(basket: np.ndarray, item: np.ndarray, t: np.ndarray, n_items: int) -> sp.csr_matrix:
    """One row per basket id (dense renumbering), a 1 for each distinct item; the row's time
    is the basket's last event."""
    if len(basket) == 0:
        return sp.csr_matrix((0, n_items), dtype=np.float64)
    ids, row = np.unique(basket, return_inverse=True)
    matrix = sp.csr_matrix(
        (np.ones(len(row)), (row, item)), shape=(len(ids), n_items), dtype=np.float64
    )
    matrix.data[:] = 1.0  # duplicates summed by the constructor count once
    matrix.eliminate_zeros()
    return matrix


def basket_times(basket: np.ndarray, t: np.ndarray) -> np.ndarray:
    ids, row = np.unique(basket, return_inverse=True)
    last = np.full(len(ids), -np.inf)
    np.maximum.at(last, row, t)
    return last


@dataclass
class CoOccurrence:
    """Decayed co-occurrence counts relative to `t_ref`."""

    counts: sp.csr_matrix  # items x items, zero diagonal
    n: np.ndarray  # decayed baskets per item
    t_ref: float
    half_life_days: float

    @classmethod
    def empty(cls, n_items: int, t_ref: float, half_life_days: float = 90.0) -> CoOccurrence:
        return cls(sp.csr_matrix((n_items, n_items)), np.zeros(n_items), t_ref, half_life_days)

    def decay_to(self, t_ref: float) -> None:
        """Move the reference time forward: every count shrinks by the same factor."""
        if t_ref < self.t_ref:
            raise ValueError("the reference time only moves forward")
        factor = float(decay(t_ref - self.t_ref, self.half_life_days))
        self.counts = (self.counts * factor).tocsr()
        self.n = self.n * factor
        self.t_ref = t_ref

    def add(self, matrix: sp.csr_matrix, times: np.ndarray) -> None:
        """Count baskets (rows of a 0/1 matrix) that happened at `times` (≤ t_ref)."""
        if matrix.shape[0] == 0:
            return
        matrix = _cut(matrix)
        weights = decay(self.t_ref - times, self.half_life_days)
        weighted = sp.diags(weights) @ matrix
        together = (matrix.T @ weighted).tocsr()
        together.setdiag(0)
        together.eliminate_zeros()
        self.counts = (self.counts + together).tocsr()
        self.n = self.n + np.asarray(weighted.sum(axis=0)).ravel()

    def pruned(self, keep: int) -> CoOccurrence:
        """Only each item's `keep` strongest partners: the served model's memory stays linear
        in the catalog."""
        return CoOccurrence(
            _top_per_row(self.counts, keep), self.n.copy(), self.t_ref, self.half_life_days
        )

    def conditional(self) -> sp.csr_matrix:
        """P(j | i): row i divided by the baskets holding i ("bought/viewed with")."""
        inverse = np.divide(1.0, self.n, out=np.zeros_like(self.n), where=self.n > 0)
        return (sp.diags(inverse) @ self.counts).tocsr()

    def cosine(self) -> sp.csr_matrix:
        """C[i, j] / sqrt(n_i n_j): the same, without favouring the best sellers."""
        root = np.sqrt(self.n)
        inverse = np.divide(1.0, root, out=np.zeros_like(root), where=root > 0)
        return (sp.diags(inverse) @ self.counts @ sp.diags(inverse)).tocsr()


def _cut(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """The first MAX_BASKET items of each row."""
    return _first_per_row(matrix, MAX_BASKET, matrix.indices.astype(np.float64) * 0)


def _top_per_row(matrix: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    matrix = matrix.tocsr()
    return _first_per_row(matrix, keep, -matrix.data)


def _first_per_row(matrix: sp.csr_matrix, keep: int, order_key: np.ndarray) -> sp.csr_matrix:
    """Each row's `keep` entries with the smallest `order_key` (ties: stored order)."""
    lengths = np.diff(matrix.indptr)
    if lengths.max(initial=0) <= keep:
        return matrix.copy()
    rows = np.repeat(np.arange(matrix.shape[0]), lengths)
    order = np.lexsort((np.arange(len(rows)), order_key, rows))
    rank = np.arange(len(rows)) - np.repeat(matrix.indptr[:-1], lengths)
    chosen = order[rank < keep]
    chosen.sort()
    kept_rows = rows[chosen]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(kept_rows, minlength=matrix.shape[0]))])
    out = sp.csr_matrix((matrix.data[chosen], matrix.indices[chosen], indptr), shape=matrix.shape)
    out.sort_indices()
    return out
