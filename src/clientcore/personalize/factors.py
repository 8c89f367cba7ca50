"""Matrix factorization on implicit feedback (ALS, Hu, Koren & Volinsky 2008) with `implicit`.

Training keeps only the item factors: a person's vector is folded in from their history and
current visit at request time — one small least-squares solve, the exact ALS user step — so a
view collected a moment ago moves the vector, and nobody's vector goes stale between
trainings. The solve runs with ONE thread: the library's default (OpenMP over every core, and
OpenBLAS threads) costs a thread wake-up per call that, on a busy machine, is worth more than
the whole solve (benchmarks/bench_recs_foldin.py measures both).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits


@dataclass
class Factors:
    item_factors: np.ndarray  # float32, items x factors
    regularization: float
    alpha: float
    _solver: Any = field(default=None, repr=False, compare=False)

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
        """The ALS user vector for one person's (item, confidence) pairs."""
        if len(items) == 0:
            return np.zeros(self.n_factors, dtype=np.float32)
        row = sp.csr_matrix(
            (weights.astype(np.float32), (np.zeros(len(items), dtype=np.int32), items)),
            shape=(1, self.item_factors.shape[0]),
        )
        return np.asarray(self.solver(threads).recalculate_user(0, row), dtype=np.float32)

    def scores(self, vector: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        factors = self.item_factors if items is None else self.item_factors[items]
        return factors @ vector


def serving_threads() -> int:
    """CLIENTCORE_RECS_THREADS, default 1 (see the module docstring)."""
    return max(0, int(os.environ.get("CLIENTCORE_RECS_THREADS", "1")))
