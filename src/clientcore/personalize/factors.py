"""Matrix factorization on implicit feedback (ALS, Hu, Koren & Volinsky 2008) with `implicit`.

Training keeps only the item factors: a person's vector is folded in from their history and
current visit at request time — one small least-squares solve, the exact ALS user step — so a
view collected a moment ago moves the vector, and nobody's vector goes stale between
trainings. The solve runs with ONE thread: the library's default (OpenMP over every core, and
OpenBLAS threads) costs a thread wake-up per call that, on a busy machine, is worth more than
the whole solve (benchmarks/bench_recs_foldin.py measures both).

Retrieving a person's best items scores the whole catalog below `EXACT_BELOW` items; above,
it scans the item vectors longest first and stops where no shorter one can make the list
(`ByNorm`): the same items, reading a fraction of the matrix (25 MB at 100,000 × 64).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

EXACT_BELOW = 20_000  # items: below this, retrieval scores the whole catalog at once
BLOCK = 4096  # item vectors scored at a time by the longest-first scan
BOUND_SLACK = 1e-4  # float32 dot products may round a little above the exact bound


@dataclass
class Factors:
    item_factors: np.ndarray  # float32, items x factors
    regularization: float
    alpha: float
    _solver: Any = field(default=None, repr=False, compare=False)
    _by_norm: ByNorm | None = field(default=None, repr=False, compare=False)

    @classmethod
    def fit(
        cls,
        user_items: sp.csr_matrix,
        factors: int = 64,
        iterations: int = 15,
        regularization: float = 0.05,
        alpha: float = 10.0,
        threads: int = 0,
        seed: int = 7,
    ) -> Factors:
        """ALS on a users x items confidence matrix (the library's threads: 0 = all cores)."""
        from implicit.cpu.als import AlternatingLeastSquares

        # implicit wants one BLAS thread (it parallelises itself with OpenMP) and warns when
        # its constructor sees more.
        with threadpool_limits(limits=1, user_api="blas"):
            model = AlternatingLeastSquares(
                factors=factors,
                regularization=regularization,
                alpha=alpha,
                iterations=iterations,
                num_threads=threads,
                random_state=seed,
                calculate_training_loss=False,
            )
            model.fit(user_items.astype(np.float32).tocsr(), show_progress=False)
        item_factors = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        return cls(item_factors, regularization, alpha)

    @property
    def n_factors(self) -> int:
        return int(self.item_factors.shape[1])

    def solver(self, threads: int = 1) -> Any:
        """An implicit model holding our item factors, for its fold-in (`recalculate_user`)."""
        if self._solver is None or self._solver.num_threads != threads:
            from implicit.cpu.als import AlternatingLeastSquares

            with threadpool_limits(limits=1, user_api="blas"):  # and no BLAS-threads warning
                model = AlternatingLeastSquares(
                    factors=self.n_factors,
                    regularization=self.regularization,
                    alpha=self.alpha,
                    num_threads=threads,
                )
            model.item_factors = self.item_factors
            model.user_factors = np.zeros((1, self.n_factors), dtype=np.float32)
            _ = model.YtY  # computed once, kept by the model
            self._solver = model
        return self._solver

    def fold_in(self, items: np.ndarray, weights: np.ndarray, threads: int = 1) -> np.ndarray:
        """The ALS user vector for one person's (item, confidence) pairs.

        Distinct sorted `items` (what a context gives) go straight to the library's solver —
        what `recalculate_user` does, without building two SciPy matrices a request; anything
        else goes through `recalculate_user` itself."""
        if len(items) == 0:
            return np.zeros(self.n_factors, dtype=np.float32)
        solver = self.solver(threads)
        if len(items) > 1 and not (np.diff(items) > 0).all():
            row = sp.csr_matrix(
                (weights.astype(np.float32), (np.zeros(len(items), dtype=np.int32), items)),
                shape=(1, self.item_factors.shape[0]),
            )
            return np.asarray(solver.recalculate_user(0, row), dtype=np.float32)
        from implicit.cpu import _als

        out = np.zeros((1, self.n_factors), dtype=np.float32)
        _als._least_squares(
            solver.YtY,
            np.array([0, len(items)], dtype=np.int32),
            items.astype(np.int32),
            weights.astype(np.float32) * self.alpha,  # as `alpha * user_items` computes it
            out,
            self.item_factors,
            self.regularization,
            num_threads=threads,
        )
        return out[0]

    def scores(self, vector: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        factors = self.item_factors if items is None else self.item_factors[items]
        return factors @ vector

    def top(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray | None]:
        """(k items scoring best for `vector`, any order; every item's score when the whole
        catalog was scored, else None)."""
        n = len(self.item_factors)
        if n < EXACT_BELOW:
            every = self.scores(vector)
            if n <= k:
                return np.arange(n), every
            return np.argpartition(-every, k - 1)[:k], every
        return self.by_norm().top(vector, k)[0], None

    def by_norm(self) -> ByNorm:
        """The item vectors longest first (built once per model)."""
        if self._by_norm is None:
            self._by_norm = ByNorm.build(self.item_factors)
        return self._by_norm


@dataclass(frozen=True)
class ByNorm:
    """The item vectors sorted by length, longest first, in blocks: the exact top items for a
    vector without scoring the whole catalog.

    No item can score above its length times the vector's (Cauchy–Schwarz), and ALS gives
    the long tail short vectors, so once the k-th best score found exceeds that bound for the
    next block, no later block can hold a better item: the scan stops there, with the same
    top items (and, row by row, the same float32 scores) as scoring everything.
    """

    order: np.ndarray  # item of each row of `vectors`
    vectors: np.ndarray  # float32, item vectors by decreasing length
    starts: np.ndarray  # block b is rows starts[b]:starts[b + 1]
    bound: np.ndarray  # length of the first (longest) vector of each block

    @classmethod
    def build(cls, factors: np.ndarray) -> ByNorm:
        length = np.sqrt((factors.astype(np.float64) ** 2).sum(axis=1))
        order = np.argsort(-length, kind="stable")
        n = len(order)
        starts = np.unique(np.concatenate([np.arange(0, n, BLOCK), [n]]))
        return cls(
            order=order,
            vectors=np.ascontiguousarray(factors[order]),
            starts=starts,
            bound=length[order][starts[:-1]] * (1 + BOUND_SLACK) + BOUND_SLACK,
        )

    def top(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, int]:
        """(the k items scoring best for `vector`, any order; how many rows were scored)."""
        reach = float(np.sqrt((vector.astype(np.float64) ** 2).sum()))
        rows = np.zeros(0, dtype=np.int64)
        scores = np.zeros(0, dtype=np.float32)
        threshold = -np.inf
        scanned = 0
        for b in range(len(self.starts) - 1):
            if len(rows) >= k and self.bound[b] * reach < threshold:
                break
            lo, hi = int(self.starts[b]), int(self.starts[b + 1])
            rows = np.concatenate([rows, np.arange(lo, hi)])
            scores = np.concatenate([scores, self.vectors[lo:hi] @ vector])
            scanned = hi
            if len(rows) > k:
                keep = np.argpartition(-scores, k - 1)[:k]
                rows, scores = rows[keep], scores[keep]
            if len(rows) >= k:
                threshold = float(scores.min())
        return self.order[rows], scanned


def serving_threads() -> int:
    """CLIENTCORE_RECS_THREADS, default 1 (see the module docstring)."""
    return max(0, int(os.environ.get("CLIENTCORE_RECS_THREADS", "1")))
