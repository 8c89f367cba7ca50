"""Session-kNN: what other visits that looked at the same things went on to look at.

The strongest simple session-based recommender in published comparisons (Ludewig & Jannach,
"Evaluation of session-based recommendation algorithms", 2018): find the past visits sharing
items with the current one (cosine on item sets, recent visits weigh more), and score items by
the similarity of the neighbours holding them. It needs no training beyond indexing visits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from clientcore.personalize.cooccurrence import decay
from clientcore.personalize.rows import Rows, Sparse, distinct, distinct_counts

NEIGHBOURS = 100
MAX_SESSIONS = 500_000  # the most recent visits kept in the index


@dataclass(frozen=True)
class SessionKNN:
    by_item: sp.csc_matrix  # visits x items (0/1), for "which visits hold these items"
    by_visit: sp.csr_matrix  # the same, row-wise, for "what else did they hold"
    size: np.ndarray  # items per visit
    weight: np.ndarray  # recency weight per visit

    @classmethod
    def fit(
        cls, visits: sp.csr_matrix, times: np.ndarray, now: float, half_life_days: float = 90.0
    ) -> SessionKNN:
        keep = np.flatnonzero(np.diff(visits.indptr) >= 2)  # one-item visits link nothing
        if len(keep) > MAX_SESSIONS:
            keep = keep[np.argsort(times[keep])[-MAX_SESSIONS:]]
            keep.sort()
        rows = visits[keep].tocsr()
        return cls(
            by_item=rows.tocsc(),
            by_visit=rows,
            size=np.diff(rows.indptr).astype(np.float64),
            weight=decay(now - times[keep], half_life_days),
        )

    def scores(self, items: np.ndarray, n_items: int) -> np.ndarray:
        """A score per catalog item for a visit holding `items` (distinct, any order)."""
        return self.sparse_scores(items).dense(n_items)

    def sparse_scores(self, items: np.ndarray) -> Sparse:
        """The same scores, for the items the neighbours hold (every other item scores 0)."""
        items = distinct(items)
        if len(items) == 0 or self.by_visit.shape[0] == 0:
            return Sparse.EMPTY
        holders, _, _ = self._by_item.gather(items)
        if len(holders) == 0:
            return Sparse.EMPTY
        touched, overlap = distinct_counts(holders)
        sim = overlap / np.sqrt(self.size[touched] * len(items)) * self.weight[touched]
        if len(touched) > NEIGHBOURS:
            best = np.argpartition(-sim, NEIGHBOURS - 1)[:NEIGHBOURS]
            touched, sim = touched[best], sim[best]
        return self._by_visit.sparse_sum(touched, sim)

    @property
    def _by_item(self) -> Rows:
        return _rows(self, "by_item")

    @property
    def _by_visit(self) -> Rows:
        return _rows(self, "by_visit")

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "indptr": self.by_visit.indptr,
            "indices": self.by_visit.indices,
            "weight": self.weight,
            "n_items": np.array(self.by_visit.shape[1]),
        }

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> SessionKNN:
        n = len(a["indptr"]) - 1
        rows = sp.csr_matrix(
            (np.ones(len(a["indices"])), a["indices"], a["indptr"]), shape=(n, int(a["n_items"]))
        )
        return cls(rows.tocsc(), rows, np.diff(rows.indptr).astype(np.float64), a["weight"])


def _rows(knn: SessionKNN, name: str) -> Rows:
    """CSR arrays of one orientation, built once per model (the dataclass is frozen)."""
    cache = knn.__dict__.setdefault("_rows", {})
    if name not in cache:
        matrix = knn.by_item.T if name == "by_item" else knn.by_visit
        cache[name] = Rows.of(matrix)
    return cache[name]  # type: ignore[no-any-return]
