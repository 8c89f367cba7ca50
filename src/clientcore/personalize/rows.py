"""Row gathers over CSR arrays, in plain numpy.

A request touches a few dozen rows of matrices with up to 100,000 columns; SciPy's slicing
validates and builds a new matrix each time, which costs more than the arithmetic. These do
the same sums straight on `indptr` / `indices` / `data`.
"""

from __future__ import annotations

from dataclasses import dataclass

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
