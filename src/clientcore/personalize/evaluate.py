"""Offline evaluation on a temporal split, ours against the baselines in the same run.

Everything is fitted on the log before the split date; the ranker itself is trained one label
window earlier (candidates fitted before `split - window`, labels from the window), so nothing
it learns comes from the held-out period. Baselines rank the whole catalog: popularity (decayed
interactions), item co-occurrence ("viewed/bought with" your items) and ALS (folded in from the
same context). All models see the same cases.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from clientcore.personalize.candidates import CandidateModels, Settings, fit_candidates
from clientcore.personalize.cases import GROUPS, Case, build_cases
from clientcore.personalize.catalog import Catalog
from clientcore.personalize.data import Interactions
from clientcore.personalize.errors import NotEnoughDataError
from clientcore.personalize.features import Featurizer
from clientcore.personalize.history import HistoryIndex
from clientcore.personalize.metrics import MetricSum
from clientcore.personalize.ranker import Ranker, RankerSettings

OURS = "learned_ranker"
BASELINES = ("popularity", "cooccurrence", "als")
DAY = 86400.0

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Plan:
    """The cut points of one evaluation or training run."""

    split: float  # evaluation: held-out period starts here; training: the log's end
    window_days: float = 60.0  # length of the ranker's label window (and of the test period)
    max_cases: int = 4000  # per group, for the ranker's training set and for the evaluation


def training_set(
    featurizer: Featurizer, cases: list[Case], progress: Progress | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, group sizes) over the cases whose relevant items made it into the candidates."""
    xs, ys, sizes = [], [], []
    with threadpool_limits(limits=1, user_api="blas"):  # many tiny products: one thread
        rows = [featurizer.score(case.context) for case in cases]
    for done, (case, scored) in enumerate(zip(cases, rows, strict=True)):
        keep = ~np.isin(scored.items, case.exclude)
        labels = np.isin(scored.items[keep], case.relevant).astype(np.float32)
        if labels.sum() > 0:
            xs.append(scored.features[keep])
            ys.append(labels)
            sizes.append(int(keep.sum()))
        if progress is not None and done % 200 == 0:
            progress(done, len(cases))
    if not sizes:
        raise NotEnoughDataError("no training case had a relevant item among its candidates")
    return np.vstack(xs), np.concatenate(ys), np.array(sizes)


def fit_ranker(
    data: Interactions,
    catalog: Catalog,
    label_start: float,
    label_end: float,
    max_cases: int,
    settings: Settings | None = None,
    ranker_settings: RankerSettings | None = None,
    step: Callable[[str], None] | None = None,
) -> tuple[Ranker, dict[str, Any]]:
    """Candidates fitted before `label_start`, the ranker taught what happened next."""
    started = time.perf_counter()
    models = fit_candidates(data, catalog, label_start, settings, step)
    upto = data.take(data.t < label_end)
    cases = build_cases(upto, HistoryIndex.build(upto), label_start, label_end, max_cases)
    X, y, sizes = training_set(Featurizer(models), cases)
    if step:
        step("ranker training set")
    ranker = Ranker.fit(X, y, sizes, ranker_settings)
    if step:
        step("ranker")
    info = {
        "label_window": [_iso(label_start), _iso(label_end)],
        "cases": len(cases),
        "groups_with_a_hit": len(sizes),
        "rows": len(y),
        "trees": ranker.booster.num_trees(),
        "seconds": round(time.perf_counter() - started, 2),
    }
    return ranker, info


def ours_ranking(featurizer: Featurizer, ranker: Ranker, case: Case) -> np.ndarray:
    scored = featurizer.score(case.context)
    keep = ~np.isin(scored.items, case.exclude)
    items = scored.items[keep]
    score = ranker.predict(scored.features[keep])
    return items[np.argsort(-score, kind="stable")]


def baseline_ranking(featurizer: Featurizer, case: Case, name: str, k: int) -> np.ndarray:
    scores = featurizer.baseline_scores(case.context, name).copy()
    scores[case.exclude] = -np.inf
    top = np.argpartition(-scores, k - 1)[:k] if len(scores) > k else np.arange(len(scores))
    return top[np.argsort(-scores[top], kind="stable")]


def evaluate(
    data: Interactions,
    catalog: Catalog,
    plan: Plan,
    k: int = 20,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The metrics document of `clientcore recommend evaluate`."""
    started = time.perf_counter()
    window = plan.window_days * DAY
    end = float(data.t.max()) + 1.0
    if plan.split <= float(data.t.min()) + window or plan.split >= end:
        raise NotEnoughDataError(
            "the split date must leave a label window of history before it and events after it",
            "split-date",
        )
    steps = ["popularity", "co-occurrence", "session-kNN", "ALS"]
    total = 2 * len(steps) + 3
    done = [0]

    def step(_name: str) -> None:
        done[0] += 1
        if progress:
            progress(done[0], total)

    ranker, ranker_info = fit_ranker(
        data, catalog, plan.split - window, plan.split, plan.max_cases, settings, None, step
    )
    t_fit = time.perf_counter()
    models = fit_candidates(data, catalog, plan.split, settings, step)
    fit_seconds = time.perf_counter() - t_fit
    upto = data.take(data.t < plan.split + window)
    cases = build_cases(
        upto, HistoryIndex.build(upto), plan.split, plan.split + window, plan.max_cases, seed=11
    )
    if not cases:
        raise NotEnoughDataError("no case to evaluate after the split date", "split-date")
    result = score_cases(models, ranker, cases, k)
    step("evaluation")
    return {
        "split_date": _iso(plan.split)[:10],
        "test_period": [_iso(plan.split), _iso(min(plan.split + window, end))],
        "k": k,
        "ours": OURS,
        "models": result,
        "lift_over_best_baseline": lift(result, k),
        "ranker": {**ranker_info, "importance": dict(list(ranker.importance().items())[:10])},
        "candidate_fit_seconds": round(fit_seconds, 2),
        "catalog_size": len(catalog),
        "seconds": round(time.perf_counter() - started, 2),
    }


def score_cases(
    models: CandidateModels, ranker: Ranker, cases: list[Case], k: int
) -> dict[str, Any]:
    featurizer = Featurizer(models)
    names = (*BASELINES, OURS)
    sums: dict[str, dict[str, MetricSum]] = {n: {g: MetricSum(k) for g in GROUPS} for n in names}
    pooled = {name: MetricSum(k) for name in names}
    with threadpool_limits(limits=1, user_api="blas"):
        _score_all(featurizer, ranker, cases, k, names, sums, pooled)
    n = models.n_items
    out: dict[str, Any] = {}
    for name in names:
        out[name] = {
            **pooled[name].result(n),
            "by_group": {g: sums[name][g].result(n) for g in GROUPS if sums[name][g].cases},
        }
    return out


def _score_all(
    featurizer: Featurizer,
    ranker: Ranker,
    cases: list[Case],
    k: int,
    names: tuple[str, ...],
    sums: dict[str, dict[str, MetricSum]],
    pooled: dict[str, MetricSum],
) -> None:
    for case in cases:
        for name in names:
            if name == OURS:
                ranked = ours_ranking(featurizer, ranker, case)
            else:
                ranked = baseline_ranking(featurizer, case, name, k)
            sums[name][case.group].add(ranked, case.relevant)
            pooled[name].add(ranked, case.relevant)


def lift(models: dict[str, Any], k: int) -> dict[str, dict[str, float]]:
    """Per group: ours over the best baseline on recall@k and NDCG@k, as a relative change."""
    out: dict[str, dict[str, float]] = {}
    for group in models[OURS]["by_group"]:
        row: dict[str, float] = {}
        for metric in (f"recall@{k}", f"ndcg@{k}"):
            best = max(models[b]["by_group"][group][metric] for b in BASELINES)
            ours = models[OURS]["by_group"][group][metric]
            row[metric] = round((ours - best) / best, 4) if best > 0 else float("inf")
        out[group] = row
    return out


def _iso(t: float) -> str:
    return np.datetime_as_string(np.datetime64(int(t), "s"), unit="s") + "Z"
