"""The candidate models, fitted together from one slice of the event log.

Each proposes items for a person and gives every proposed item a score the ranker reads as a
feature: co-occurrence (viewed or bought together, decayed), ALS factors, session-kNN,
popularity overall and per channel (the cold start), buy-again, and attribute affinities
(category, brand, price band) that also score products nobody has touched yet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from clientcore.personalize.catalog import Catalog
from clientcore.personalize.cooccurrence import CoOccurrence, basket_times, baskets, decay
from clientcore.personalize.data import RETURN, Interactions
from clientcore.personalize.factors import Factors
from clientcore.personalize.popularity import KIND_WEIGHT, Popularity
from clientcore.personalize.session_knn import SessionKNN
from clientcore.personalize.sessions import sessions_of

NEW_DAYS = 60.0  # a product launched this recently is "new"
COOC_KEEP = 100  # partners kept per item


@dataclass(frozen=True)
class Settings:
    """Hyper-parameters of the candidate models (defaults tuned on the demo retailer)."""

    factors: int = 64
    iterations: int = 15
    regularization: float = 0.05
    alpha: float = 10.0
    cooc_half_life_days: float = 90.0
    popularity_half_life_days: float = 60.0
    knn_half_life_days: float = 90.0
    threads: int = 0  # ALS training threads (0: all cores)


@dataclass
class CandidateModels:
    catalog: Catalog
    band: np.ndarray  # price band per item
    popularity: Popularity
    conditional: sp.csr_matrix  # P(j | i) from visits
    cosine: sp.csr_matrix
    knn: SessionKNN
    factors: Factors
    new_items: np.ndarray  # launched within NEW_DAYS of `now`
    now: float

    @property
    def n_items(self) -> int:
        return len(self.catalog)


def fit_candidates(
    data: Interactions,
    catalog: Catalog,
    now: float,
    settings: Settings | None = None,
    step: Callable[[str], None] | None = None,
) -> CandidateModels:
    """Fit every candidate model on `data` (interactions before `now`)."""
    s = settings or Settings()
    tick = step or (lambda _name: None)
    n = len(catalog)
    data = data.take(data.t < now)
    popularity = Popularity.fit(
        data, catalog.category, catalog.n_categories, now, s.popularity_half_life_days
    )
    tick("popularity")
    visits = sessions_of(data)
    online = data.kind != RETURN
    matrix = baskets(visits[online], data.item[online], data.t[online], n)
    times = basket_times(visits[online], data.t[online])
    cooc = CoOccurrence.empty(n, now, s.cooc_half_life_days)
    cooc.add(matrix, times)
    cooc = cooc.pruned(COOC_KEEP)
    tick("co-occurrence")
    knn = SessionKNN.fit(matrix, times, now, s.knn_half_life_days)
    tick("session-kNN")
    factors = Factors.fit(
        user_items(data, now, n),
        factors=s.factors,
        iterations=s.iterations,
        regularization=s.regularization,
        alpha=s.alpha,
        threads=s.threads,
    )
    tick("ALS")
    launched = np.where(np.isnan(catalog.launched), -np.inf, catalog.launched)
    new_items = np.flatnonzero((launched > now - NEW_DAYS * 86400) & (launched <= now))
    return CandidateModels(
        catalog=catalog,
        band=catalog.price_band(),
        popularity=popularity,
        conditional=cooc.conditional(),
        cosine=cooc.cosine(),
        knn=knn,
        factors=factors,
        new_items=new_items,
        now=now,
    )


def user_items(data: Interactions, now: float, n_items: int) -> sp.csr_matrix:
    """Profiles x items confidence: kind-weighted, decayed, log-damped; profiles with 2+
    items (one item teaches the factors nothing)."""
    rows = data.profile >= 0
    profile, item = data.profile[rows], data.item[rows]
    w = KIND_WEIGHT[data.kind[rows]] * decay(now - data.t[rows], 180.0)
    ids, row = np.unique(profile, return_inverse=True)
    matrix = sp.csr_matrix((w, (row, item)), shape=(len(ids), n_items))
    matrix.sum_duplicates()
    matrix.data = np.log1p(matrix.data)
    keep = np.flatnonzero(np.diff(matrix.indptr) >= 2)
    return matrix[keep].tocsr()
