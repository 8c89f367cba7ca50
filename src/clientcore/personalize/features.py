"""From a person's context to candidates and their features: one code path for training the
ranker, evaluating it, and serving it, so what the ranker learns is what it sees live.

A context is what we know at the moment of recommending: the person's history (every channel,
through the profile) and the visit going on now (the session). Both may be empty: an unknown
visitor with no clicks yet gets the popularity of their channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clientcore.personalize.candidates import CandidateModels
from clientcore.personalize.cooccurrence import decay
from clientcore.personalize.data import ADD, BUY, RETURN, VIEW
from clientcore.personalize.popularity import KIND_WEIGHT
from clientcore.personalize.rows import Rows, Sparse, distinct, member

FEATURES: tuple[str, ...] = (
    "pop_overall",
    "pop_bought",
    "pop_channel",
    "pop_in_category",
    "trend",
    "category_history",
    "category_session",
    "catpop_history",
    "catpop_session",
    "brand_affinity",
    "band_affinity",
    "price_gap",
    "als",
    "cooc_bought_with",
    "cooc_viewed_with",
    "cooc_cosine",
    "cooc_session",
    "session_knn",
    "bought_count",
    "days_since_bought",
    "repeatable",
    "returned",
    "viewed_count",
    "days_since_viewed",
    "in_session",
    "item_age_days",
    "new_attribute_score",
    "log_price",
    "history_items",
    "session_items",
)
F = {name: k for k, name in enumerate(FEATURES)}

CONTEXT_HALF_LIFE_DAYS = 30.0
SESSION_BOOST = 3.0  # the visit going on now counts this much more than history
MAX_CONTEXT_ITEMS = 30  # strongest context items used for co-occurrence
HISTORY_CANDIDATES = 100
COOC_CANDIDATES = 50
ALS_CANDIDATES = 100
KNN_CANDIDATES = 50
CATEGORY_CANDIDATES = 120
NEW_CANDIDATES = 20
POPULAR_CANDIDATES = 30


@dataclass(frozen=True)
class Context:
    """What is known about one person now. Rows are interactions (item, kind, time); `session`
    marks the rows of the visit going on."""

    items: np.ndarray
    kinds: np.ndarray
    times: np.ndarray
    session: np.ndarray
    now: float
    channel: int = 0

    @classmethod
    def empty(cls, now: float, channel: int = 0) -> Context:
        return cls(
            np.zeros(0, np.int32),
            np.zeros(0, np.int8),
            np.zeros(0),
            np.zeros(0, bool),
            now,
            channel,
        )

    def with_session(self, items: np.ndarray, kinds: np.ndarray, times: np.ndarray) -> Context:
        return Context(
            np.concatenate([self.items, items]).astype(np.int32),
            np.concatenate([self.kinds, kinds]).astype(np.int8),
            np.concatenate([self.times, times]),
            np.concatenate([self.session, np.ones(len(items), bool)]),
            self.now,
            self.channel,
        )

    @property
    def has_history(self) -> bool:
        return bool((~self.session).any())

    @property
    def has_session(self) -> bool:
        return bool(self.session.any())


@dataclass
class Scored:
    """The candidates of one context with their feature rows, and the context's weights (kept
    to explain the final list)."""

    items: np.ndarray
    features: np.ndarray  # len(items) x len(FEATURES), float32, NaN = not applicable
    context_items: np.ndarray  # distinct items of the context
    context_weight: np.ndarray  # their weight (kind, recency, session boost)
    context_bought: np.ndarray  # bool per context item: bought at least once
    context_in_session: np.ndarray  # bool per context item


class Featurizer:
    """Candidate generation and features over one set of fitted candidate models."""

    def __init__(self, models: CandidateModels, fold_in_threads: int = 1) -> None:
        self.m = models
        self.threads = fold_in_threads
        c = models.catalog
        self.category = c.category
        self.brand = c.brand
        self.log_price = np.log(np.where(c.price > 0, c.price, np.nan))
        self.repeatable = c.repeatable.astype(np.float32)
        self.band0 = np.where(models.band >= 0, models.band, 0)
        pop = models.popularity
        self.pop_overall = np.log1p(pop.overall)
        self.pop_bought = np.log1p(pop.bought)
        self.pop_channel = np.log1p(pop.by_channel)
        self.category_prior = np.bincount(
            c.category, weights=pop.overall, minlength=c.n_categories
        ) / max(pop.overall.sum(), 1e-12)
        self.popular_in_channel = [
            np.argsort(-row, kind="stable")[:POPULAR_CANDIDATES] for row in pop.by_channel
        ]
        self.popular = np.argsort(-pop.overall, kind="stable")[:POPULAR_CANDIDATES]
        self.conditional = Rows.of(models.conditional)
        self.cosine = Rows.of(models.cosine)

    # -- the context's weights and affinities ------------------------------------------
    def weights(self, ctx: Context) -> np.ndarray:
        w = KIND_WEIGHT[ctx.kinds] * decay(ctx.now - ctx.times, CONTEXT_HALF_LIFE_DAYS)
        return np.where(ctx.session, w * SESSION_BOOST, w)

    def _affinity(self, codes: np.ndarray, w: np.ndarray, size: int) -> np.ndarray:
        total = w.sum()
        if total <= 0:
            return np.zeros(size)
        return np.bincount(codes, weights=w, minlength=size) / total

    def score(self, ctx: Context) -> Scored:
        """Candidates for this context and their features."""
        m = self.m
        w = self.weights(ctx)
        items, inverse = np.unique(ctx.items, return_inverse=True)
        item_w = np.bincount(inverse, weights=w, minlength=len(items))
        in_sess = np.bincount(inverse, weights=ctx.session, minlength=len(items)) > 0
        bought = np.bincount(inverse, weights=ctx.kinds == BUY, minlength=len(items)) > 0
        hist = ~ctx.session
        n_cat = m.catalog.n_categories
        cat_hist = self._affinity(self.category[ctx.items[hist]], w[hist], n_cat)
        cat_sess = self._affinity(self.category[ctx.items[~hist]], w[~hist], n_cat)
        cat_all = self._affinity(self.category[ctx.items], w, n_cat)
        brand_aff = self._affinity(self.brand[ctx.items], w, m.catalog.n_brands)
        band_aff = self._affinity(self.band0[ctx.items], w, 5)

        # Co-occurrence from the strongest context items.
        strong = np.argsort(-item_w, kind="stable")[:MAX_CONTEXT_ITEMS]
        s_items, s_w = items[strong], item_w[strong]
        s_bought, s_sess = bought[strong], in_sess[strong]
        cooc_b, cooc_v, cooc_s = self.conditional.sparse_sums(
            s_items, s_w, [s_bought, ~s_bought, s_sess]
        )
        cooc_c = self.cosine.sparse_sum(s_items, s_w)

        # Session-kNN on the visit going on, else on the person's latest visit.
        if ctx.has_session:
            visit = ctx.items[ctx.session]
        elif len(ctx.items):
            latest = ctx.times.max()
            visit = ctx.items[ctx.times >= latest - 1800]
        else:
            visit = ctx.items
        knn = m.knn.sparse_scores(visit)

        # ALS: fold the context in (history and visit together), retrieve its best items.
        als_top = np.zeros(0, dtype=np.int64)
        als: np.ndarray | None = None  # every item's score, when retrieval scored them all
        vector = np.zeros(m.factors.n_factors, dtype=np.float32)
        if len(items):
            vector = m.factors.fold_in(items, np.log1p(item_w), self.threads)
            als_top, als = m.factors.top(vector, ALS_CANDIDATES)

        pop = m.popularity

        def attr(at: np.ndarray) -> np.ndarray:
            """Attribute score: category × brand × price-band affinity (new products too)."""
            return (
                cat_all[self.category[at]]
                * (brand_aff[self.brand[at]] + 0.05)
                * (band_aff[self.band0[at]] + 0.05)
            )

        new_scores = attr(m.new_items)
        cands = self._candidates(
            ctx,
            items,
            item_w,
            Sparse.total(cooc_b, cooc_v, cooc_s),
            als_top,
            knn,
            cat_all,
            new_scores,
        )
        X = np.full((len(cands), len(FEATURES)), np.nan, dtype=np.float32)
        cat = self.category[cands]
        X[:, F["pop_overall"]] = self.pop_overall[cands]
        X[:, F["pop_bought"]] = self.pop_bought[cands]
        X[:, F["pop_channel"]] = self.pop_channel[ctx.channel, cands]
        X[:, F["pop_in_category"]] = pop.in_category[cands]
        X[:, F["trend"]] = pop.trend[cands]
        if ctx.has_history:
            X[:, F["category_history"]] = cat_hist[cat]
            X[:, F["catpop_history"]] = cat_hist[cat] * pop.in_category[cands]
        if ctx.has_session:
            X[:, F["category_session"]] = cat_sess[cat]
            X[:, F["catpop_session"]] = cat_sess[cat] * pop.in_category[cands]
        if len(ctx.items):
            X[:, F["brand_affinity"]] = brand_aff[self.brand[cands]]
            X[:, F["band_affinity"]] = band_aff[self.band0[cands]]
            logp = self.log_price[ctx.items]
            ok = np.isfinite(logp)
            if ok.any():
                center = np.average(logp[ok], weights=np.maximum(w[ok], 1e-9))
                X[:, F["price_gap"]] = np.abs(self.log_price[cands] - center)
            X[:, F["als"]] = als[cands] if als is not None else m.factors.scores(vector, cands)
            X[:, F["cooc_bought_with"]] = cooc_b.at(cands)
            X[:, F["cooc_viewed_with"]] = cooc_v.at(cands)
            X[:, F["cooc_cosine"]] = cooc_c.at(cands)
            X[:, F["session_knn"]] = knn.at(cands)
        if ctx.has_session:
            X[:, F["cooc_session"]] = cooc_s.at(cands)
        self._own_history(ctx, cands, X)
        launched = m.catalog.launched[cands]
        X[:, F["item_age_days"]] = (ctx.now - launched) / 86400.0
        X[:, F["new_attribute_score"]] = attr(cands)
        X[:, F["log_price"]] = self.log_price[cands]
        X[:, F["history_items"]] = len(distinct(ctx.items[hist]))
        X[:, F["session_items"]] = len(distinct(ctx.items[~hist]))
        return Scored(cands, X, items, item_w, bought, in_sess)

    def _own_history(self, ctx: Context, cands: np.ndarray, X: np.ndarray) -> None:
        """Buy-again, returns, earlier views and the visit's own items, per candidate."""
        self_rows = member(ctx.items, cands)
        if not self_rows.any():
            X[:, F["repeatable"]] = self.repeatable[cands]
            return
        rows_items = ctx.items[self_rows]
        kinds = ctx.kinds[self_rows]
        times = ctx.times[self_rows]
        sess = ctx.session[self_rows]
        pos = np.searchsorted(cands, rows_items)
        k = len(cands)
        hist_buy = (kinds == BUY) & ~sess
        hist_view = ((kinds == VIEW) | (kinds == ADD)) & ~sess
        X[:, F["bought_count"]] = np.bincount(pos, weights=hist_buy, minlength=k)
        X[:, F["viewed_count"]] = np.bincount(pos, weights=hist_view, minlength=k)
        X[:, F["in_session"]] = np.bincount(pos, weights=sess, minlength=k)
        X[:, F["returned"]] = np.bincount(pos, weights=kinds == RETURN, minlength=k) > 0
        X[:, F["days_since_bought"]] = _days_since(pos, times, hist_buy, k, ctx.now)
        X[:, F["days_since_viewed"]] = _days_since(pos, times, hist_view, k, ctx.now)
        X[:, F["repeatable"]] = self.repeatable[cands]

    def _candidates(
        self,
        ctx: Context,
        items: np.ndarray,
        item_w: np.ndarray,
        cooc: Sparse,
        als_top: np.ndarray,
        knn: Sparse,
        cat_all: np.ndarray,
        new_scores: np.ndarray,
    ) -> np.ndarray:
        m = self.m
        parts = [self.popular_in_channel[ctx.channel], self.popular]
        if len(items):
            parts.append(items[np.argsort(-item_w, kind="stable")[:HISTORY_CANDIDATES]])
            parts.append(cooc.top_positive(COOC_CANDIDATES))
            parts.append(als_top)
            parts.append(knn.top_positive(KNN_CANDIDATES))
            liked = np.flatnonzero(cat_all > 0)
            takes = np.clip(np.round(CATEGORY_CANDIDATES * cat_all[liked]), 5, 60).astype(int)
            tops = m.popularity.category_top
            for c, take in zip(liked.tolist(), takes.tolist(), strict=True):
                parts.append(tops[c][:take])
        if len(m.new_items) and len(items):
            parts.append(m.new_items[_top_nonzero(new_scores, NEW_CANDIDATES)])
        return distinct(np.concatenate(parts).astype(np.int64))

    # -- whole-catalog scores of the baselines (the evaluation compares against them) ---
    def baseline_scores(self, ctx: Context, name: str) -> np.ndarray:
        m = self.m
        if name == "popularity":
            return m.popularity.overall.astype(np.float64)
        w = self.weights(ctx)
        items, inverse = np.unique(ctx.items, return_inverse=True)
        item_w = np.bincount(inverse, weights=w, minlength=len(items))
        tie = m.popularity.overall / max(m.popularity.overall.max(), 1e-12) * 1e-9
        if len(items) == 0:
            return tie
        if name == "cooccurrence":
            return self.conditional.weighted_sum(items, item_w) + tie
        if name == "als":
            vector = m.factors.fold_in(items, np.log1p(item_w), self.threads)
            return m.factors.scores(vector).astype(np.float64) + tie
        raise ValueError(f"unknown baseline {name!r}")


def _top_nonzero(values: np.ndarray, k: int) -> np.ndarray:
    nonzero = np.flatnonzero(values > 0)
    if len(nonzero) <= k:
        return nonzero
    return nonzero[np.argpartition(-values[nonzero], k - 1)[:k]]


def _days_since(
    pos: np.ndarray, times: np.ndarray, mask: np.ndarray, k: int, now: float
) -> np.ndarray:
    last = np.full(k, -np.inf)
    np.maximum.at(last, pos[mask], times[mask])
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(last), (now - last) / 86400.0, np.nan)
