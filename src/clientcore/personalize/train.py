"""`clientcore recommend train`: read the log, fit, teach the ranker, save a new version.

The ranker learns from the last label window of the log (candidates fitted before it,
labels inside it); the candidate models it then ranks for are refitted on the whole log. Both
fits see the same amount of history but one window, so the features keep their meaning.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from clientcore.personalize.candidates import Settings, fit_candidates
from clientcore.personalize.catalog import Catalog, build_catalog, read_catalog_file
from clientcore.personalize.data import (
    Interactions,
    event_products,
    read_interactions,
    rebought_share,
)
from clientcore.personalize.errors import NotEnoughDataError
from clientcore.personalize.evaluate import DAY, fit_ranker
from clientcore.personalize.history import HistoryIndex
from clientcore.personalize.model import Recommender
from clientcore.personalize.ranker import RankerSettings
from clientcore.store import Store

MIN_INTERACTIONS = 50
_OWNED = """SELECT profile_id, id FROM identifiers
    WHERE profile_id IS NOT NULL AND NOT quarantined"""
STEPS = 14

Progress = Callable[[int, int], None]


@dataclass
class TrainReport:
    version: str = ""
    path: str = ""
    interactions: int = 0
    products: int = 0
    profiles: int = 0
    watermark_seq: int = 0
    data_end: str = ""
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    ranker: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def load_catalog(store: Store, catalog_file: Path | None) -> Catalog:
    """The catalog file if given (it is the authority; products outside it are not shown),
    else what the events say about every product they mention."""
    if catalog_file is not None:
        return build_catalog(read_catalog_file(catalog_file), {})
    from_events = event_products(store)
    draft = build_catalog({}, from_events)
    shares = rebought_share(read_interactions(store, draft))
    by_id = {str(p): float(s) for p, s in zip(draft.product_id, shares, strict=False)}
    return build_catalog({}, from_events, by_id)


def train(
    store: Store,
    root: Path,
    catalog_file: Path | None = None,
    window_days: float = 60.0,
    max_cases: int = 3000,
    settings: Settings | None = None,
    progress: Progress | None = None,
    ranker_settings: RankerSettings | None = None,
) -> TrainReport:
    report = TrainReport()
    started = time.perf_counter()
    done = [0]
    last = [started]

    def step(name: str) -> None:
        now = time.perf_counter()
        report.timings[name] = round(report.timings.get(name, 0.0) + now - last[0], 2)
        last[0] = now
        done[0] += 1
        if progress:
            progress(min(done[0], STEPS), STEPS)

    if progress:
        progress(0, STEPS)
    catalog = load_catalog(store, catalog_file)
    step("catalog")
    data = read_interactions(store, catalog)
    step("read interactions")
    if len(data) < MIN_INTERACTIONS:
        raise NotEnoughDataError(
            f"only {len(data)} product interactions in the log; at least {MIN_INTERACTIONS} "
            "are needed to train"
        )
    end = float(data.t.max()) + 1.0
    window = window_days * DAY
    if end - float(data.t.min()) < 2 * window:
        window = (end - float(data.t.min())) / 2
    ranker, ranker_info = fit_ranker(
        data,
        catalog,
        end - window,
        end,
        max_cases,
        settings,
        ranker_settings,
        _prefixed("ranker: ", step),
    )
    models = fit_candidates(data, catalog, end, settings, step)
    owned = store.arrow(_OWNED)
    history = HistoryIndex.build(data).with_identifiers(
        owned.column("profile_id").to_numpy(), owned.column("id").to_numpy()
    )
    step("history")
    recommender = Recommender(
        "", _meta(data, catalog, end, ranker_info, catalog_file), models, history, ranker
    )
    path = recommender.save(root)
    step("save")
    report.version = recommender.version
    report.path = str(path)
    report.interactions = len(data)
    report.products = len(catalog)
    report.profiles = len(history.profiles)
    report.watermark_seq = data.max_seq
    report.data_end = _iso(end)
    report.ranker = ranker_info
    report.seconds = round(time.perf_counter() - started, 2)
    if progress:
        progress(STEPS, STEPS)
    return report


def _prefixed(prefix: str, step: Callable[[str], None]) -> Callable[[str], None]:
    return lambda name: step(prefix + name)


def _meta(
    data: Interactions,
    catalog: Catalog,
    end: float,
    ranker_info: dict[str, Any],
    catalog_file: Path | None,
) -> dict[str, Any]:
    return {
        "trained_at": _iso(time.time()),
        "data_end": _iso(end),
        "watermark_seq": data.max_seq,
        "interactions": len(data),
        "products": len(catalog),
        "catalog": str(catalog_file) if catalog_file else "from events",
        "ranker": ranker_info,
    }


def _iso(t: float) -> str:
    return np.datetime_as_string(np.datetime64(int(t), "s"), unit="s") + "Z"
