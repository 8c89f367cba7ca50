"""Row gathers over CSR arrays, in plain numpy.

A request touches a few dozen rows of matrices with up to 100,000 columns; SciPy's slicing
validates and builds a new matrix each time, which costs more than the arithmetic. These do
the same sums straight on `indptr` / `indices` / `data`, dense or — for a request, which
needs a few thousand columns of 100,000 — sparse, with the same sums bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Rows:
    """The CSR arrays of a matrix, for gathers."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    n_columns: int

    @classmethod
    def of(cls, matrix: sp.spmatrix) -> Rows:
        m = sp.csr_matrix(matrix)
        return cls(m.indptr, m.indices, m.data.astype(np.float64), int(m.shape[1]))

    def gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(column, value, position in `rows`) of every stored entry of those rows."""
        rows = np.asarray(rows, dtype=np.int64)
        starts = self.indptr[rows]
        lengths = self.indptr[rows + 1] - starts
        total = int(lengths.sum())
        if total == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, np.zeros(0), empty
        owner = np.repeat(np.arange(len(rows)), lengths)
        first = np.cumsum(lengths) - lengths
        offsets = starts[owner] + (np.arange(total) - first[owner])
        return self.indices[offsets].astype(np.int64), self.data[offsets], owner

    def weighted_sum(self, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Σ_r weights[r] · row r, dense."""
        if len(rows) == 0:
            return np.zeros(self.n_columns)
        columns, values, owner = self.gather(rows)
        return np.bincount(columns, weights=values * weights[owner], minlength=self.n_columns)

    def sparse_sum(self, rows: np.ndarray, weights: np.ndarray) -> Sparse:
        """The same sum over its stored columns only (each column adds its terms in the same
        order as the dense one, so the values are equal bit for bit)."""
        if len(rows) == 0:
            return Sparse.EMPTY
        columns, values, owner = self.gather(rows)
        if len(columns) == 0:
            return Sparse.EMPTY
        stored, inverse = np.unique(columns, return_inverse=True)
        return Sparse(stored, np.bincount(inverse, weights=values * weights[owner]))

    def sparse_sums(
        self, rows: np.ndarray, weights: np.ndarray, subsets: list[np.ndarray]
    ) -> list[Sparse]:
        """`sparse_sum` over several subsets of `rows` (boolean masks), gathered once and
        stored on the same columns (a column only another subset reaches holds a 0)."""
        columns, values, owner = self.gather(rows)
        if len(columns) == 0:
            return [Sparse.EMPTY for _ in subsets]
        stored, inverse = np.unique(columns, return_inverse=True)
        terms = values * weights[owner]
        out = []
        for subset in subsets:
            take = subset[owner]
            sums = np.bincount(inverse[take], weights=terms[take], minlength=len(stored))
            out.append(Sparse(stored, sums))
        return out


@dataclass(frozen=True)
class Sparse:
    """A score per item, stored for a few items (sorted, distinct); every other item has 0."""

    columns: np.ndarray  # int64, ascending
    values: np.ndarray  # float64

    EMPTY: ClassVar[Sparse]

    def at(self, items: np.ndarray) -> np.ndarray:
        """The scores of `items` (0 where none is stored)."""
        if len(self.columns) == 0:
            return np.zeros(len(items))
        pos = np.minimum(np.searchsorted(self.columns, items), len(self.columns) - 1)
        return np.where(self.columns[pos] == items, self.values[pos], 0.0)

    def dense(self, n: int) -> np.ndarray:
        out = np.zeros(n)
        out[self.columns] = self.values
        return out

    def top_positive(self, k: int) -> np.ndarray:
        """Up to k items of the highest positive scores — the same set, with the same ties,
        as `features._top_nonzero` picks from the dense vector."""
        positive = self.values > 0
        nonzero = self.columns[positive]
        if len(nonzero) <= k:
            return nonzero
        return nonzero[np.argpartition(-self.values[positive], k - 1)[:k]]

    @staticmethod
    def total(*parts: Sparse) -> Sparse:
        """The sum of the parts, added left to right as dense vectors would be."""
        first = parts[0].columns
        if all(p.columns is first for p in parts):
            values = parts[0].values
            for p in parts[1:]:
                values = values + p.values
            return Sparse(first, values)
        columns = distinct(np.concatenate([p.columns for p in parts]))
        values = parts[0].at(columns)
        for p in parts[1:]:
            values = values + p.at(columns)
        return Sparse(columns, values)


Sparse.EMPTY = Sparse(np.zeros(0, np.int64), np.zeros(0))


# NumPy 2's `unique` and `isin` take a general path (hashing, many checks) that costs 10-50 µs
# even on a few dozen integers; a request calls them a dozen times. These sort instead, with
# the same results.


def distinct(values: np.ndarray) -> np.ndarray:
    """`np.unique(values)`: the sorted distinct values."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    return ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])]


def distinct_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(values, return_counts=True)`."""
    ordered = np.sort(values)
    if len(ordered) == 0:
        return ordered, np.zeros(0, dtype=np.intp)
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    return ordered[starts], np.diff(np.append(starts, len(ordered)))


def member(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """`np.isin(values, pool)`."""
    if len(pool) == 0 or len(values) == 0:
        return np.zeros(len(values), dtype=bool)
    ordered = np.sort(pool)
    at = np.minimum(np.searchsorted(ordered, values), len(ordered) - 1)
    return ordered[at] == values
