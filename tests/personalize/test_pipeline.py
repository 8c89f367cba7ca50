"""Train, save, load, recommend and evaluate on a small generated retailer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np

from clientcore.personalize.candidates import fit_candidates
from clientcore.personalize.data import BUY, RETURN, read_interactions
from clientcore.personalize.evaluate import BASELINES, OURS, Plan, evaluate
from clientcore.personalize.model import Recommender, current_version
from clientcore.personalize.rules import Rules
from clientcore.personalize.service import RecommendationService
from clientcore.personalize.train import load_catalog
from clientcore.store import open_store
from tests.personalize.conftest import FAST, Retailer


def test_training_writes_a_complete_version(retailer: Retailer) -> None:
    report = retailer.report
    assert report.version == "v1" == current_version(retailer.models)
    assert report.interactions > 1000
    assert report.products > 100
    assert report.profiles > 100
    version = retailer.models / "recs" / "v1"
    assert {p.name for p in version.iterdir()} == {
        "candidates.npz", "history.npz", "ranker.txt", "meta.json",
    }  # fmt: skip
    meta = json.loads((version / "meta.json").read_text())
    assert meta["watermark_seq"] == report.watermark_seq > 0
    assert set(report.timings) >= {"read interactions", "ALS", "ranker: ranker", "save"}


def test_a_loaded_model_recommends_by_the_rules_with_reasons(retailer: Retailer) -> None:
    model = Recommender.load(retailer.models)
    now = model.models.now
    busiest = int(np.argmax(np.diff(model.history.ptr)))
    profile = int(model.history.profiles[busiest])
    ctx = model.history.context(profile, now)
    items = model.recommend(ctx, 10, Rules())
    assert len(items) == 10
    bought = set(ctx.items[ctx.kinds == BUY].tolist())
    returned = set(ctx.items[ctx.kinds == RETURN].tolist())
    for r in items:
        assert model.catalog.in_stock[r.item]
        assert r.item not in returned
        assert model.catalog.repeatable[r.item] or r.item not in bought
        assert r.reason["code"]
        assert r.reason["text"]
    categories = model.catalog.category[[r.item for r in items]]
    assert np.bincount(categories).max() <= Rules().category_cap(10)
    scores = [r.score for r in items]
    assert len(set(scores)) > 1


def test_cold_start_gets_popular_products(retailer: Retailer) -> None:
    model = Recommender.load(retailer.models)
    from clientcore.personalize.features import Context

    items = model.recommend(Context.empty(model.models.now), 5, Rules())
    assert len(items) == 5
    assert all(r.reason["code"] == "popular" for r in items)


def test_the_visit_moves_the_list_and_names_its_products(retailer: Retailer) -> None:
    model = Recommender.load(retailer.models)
    from clientcore.personalize.features import Context

    now = model.models.now
    cat = model.catalog
    pets = np.flatnonzero(cat.category == cat.category[0])[:3]
    ctx = Context.empty(now).with_session(
        pets.astype(np.int32), np.zeros(3, np.int8), now - np.array([120.0, 60.0, 30.0])
    )
    items = model.recommend(ctx, 10, Rules(exclude=frozenset(pets.tolist())))
    assert not set(pets.tolist()) & {r.item for r in items}
    same = sum(cat.category[r.item] == cat.category[0] for r in items)
    assert same >= 2
    assert any(r.reason["code"] in ("this_visit", "category", "viewed_with") for r in items)


def test_evaluation_reports_every_model_for_both_kinds_of_people(retailer: Retailer) -> None:
    store = open_store(retailer.db)
    try:
        catalog = load_catalog(store, retailer.catalog)
        data = read_interactions(store, catalog)
    finally:
        store.close()
    end = float(data.t.max())
    result = evaluate(data, catalog, Plan(split=end - 60 * 86400, max_cases=150), 20, FAST)
    assert result["ours"] == OURS
    assert set(result["models"]) == {*BASELINES, OURS}
    for metrics in result["models"].values():
        assert {"recall@20", "ndcg@20", "mrr@20", "coverage"} <= set(metrics)
        assert {"known", "anonymous"} <= set(metrics["by_group"])
        for row in metrics["by_group"].values():
            assert 0 <= row["ndcg@20"] <= 1
            assert 0 <= row["recall@20"] <= 1
    # The learned ranker beats popularity by far even on a tiny shop.
    for group in ("known", "anonymous"):
        ours = result["models"][OURS]["by_group"][group]["ndcg@20"]
        assert ours > 1.2 * result["models"]["popularity"]["by_group"][group]["ndcg@20"]


def test_candidate_models_never_see_the_future(retailer: Retailer) -> None:
    store = open_store(retailer.db)
    try:
        catalog = load_catalog(store, retailer.catalog)
        data = read_interactions(store, catalog)
    finally:
        store.close()
    cut = float(np.median(data.t))
    early = fit_candidates(data, catalog, cut, FAST)
    again = fit_candidates(data.before(cut), catalog, cut, FAST)
    np.testing.assert_allclose(early.popularity.overall, again.popularity.overall)
    assert (early.conditional != again.conditional).nnz == 0


def test_reload_swaps_and_a_newer_version_is_followed(retailer: Retailer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    root = tmp_path / "models"
    shutil.copytree(retailer.models, root)
    store = open_store(retailer.db)
    service = RecommendationService(store, root, follow_seconds=0.0)
    try:
        assert service.load_current() == "v1"
        model = service.model
        Recommender.load(root).save(root)  # a second version, as a training elsewhere would
        assert current_version(root) == "v2"
        swapped = service.reload()
        assert swapped == {"version": "v2", "previous": "v1", "swapped": True}
        assert service.reload()["swapped"] is False
        at = datetime.fromtimestamp(model.models.now, UTC) + timedelta(minutes=1)
        document = service.recommend(None, None, "web", 3, None, at)
        assert document["model_version"] == "v2"
        assert len(document["items"]) == 3
    finally:
        service.close()
        store.close()


def test_catalog_from_events_alone(retailer: Retailer) -> None:
    store = open_store(retailer.db)
    try:
        catalog = load_catalog(store, None)
    finally:
        store.close()
    assert len(catalog) > 100
    assert "unknown" not in catalog.category_names
    assert catalog.repeatable.any()  # inferred from re-purchases
    assert np.isfinite(catalog.price).mean() > 0.9
