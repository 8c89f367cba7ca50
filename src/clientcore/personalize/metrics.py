"""Top-k ranking metrics with binary relevance, as the recommender literature defines them.

recall@k = hits in the top k / number of relevant items; NDCG@k = DCG of the list / DCG of
the ideal list (min(k, relevant) hits on top); MRR@k = 1 / rank of the first hit (0 when none
in the top k); catalog coverage = distinct items recommended across all lists / catalog size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_DISCOUNT = 1.0 / np.log2(np.arange(2, 1002))


def case_metrics(ranked: np.ndarray, relevant: np.ndarray, k: int) -> tuple[float, float, float]:
    """(recall@k, ndcg@k, mrr@k) of one ranked list against its relevant items."""
    if len(relevant) == 0:
        raise ValueError("a case needs at least one relevant item")
    top = np.asarray(ranked[:k])
    hits = np.isin(top, relevant)
    recall = float(hits.sum()) / len(np.unique(relevant))
    dcg = float(_DISCOUNT[: len(top)][hits].sum())
    ideal = float(_DISCOUNT[: min(k, len(np.unique(relevant)))].sum())
    first = np.flatnonzero(hits)
    mrr = 1.0 / (int(first[0]) + 1) if len(first) else 0.0
    return recall, dcg / ideal, mrr


@dataclass
class MetricSum:
    """Running sums over cases, and the items any list recommended (for coverage)."""

    k: int
    cases: int = 0
    recall: float = 0.0
    ndcg: float = 0.0
    mrr: float = 0.0
    shown: set[int] = field(default_factory=set)

    def add(self, ranked: np.ndarray, relevant: np.ndarray) -> None:
        r, n, m = case_metrics(ranked, relevant, self.k)
        self.cases += 1
        self.recall += r
        self.ndcg += n
        self.mrr += m
        self.shown.update(int(i) for i in ranked[: self.k])

    def result(self, catalog_size: int) -> dict[str, float | int]:
        c = max(self.cases, 1)
        return {
            f"recall@{self.k}": round(self.recall / c, 4),
            f"ndcg@{self.k}": round(self.ndcg / c, 4),
            f"mrr@{self.k}": round(self.mrr / c, 4),
            "coverage": round(len(self.shown) / max(catalog_size, 1), 4),
            "cases": self.cases,
        }
