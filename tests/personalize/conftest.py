"""One small generated retailer, imported and stitched, and a model trained on it, shared by
the store-backed tests of the personal shopper (generation and training are the slow part)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from clientcore.collect.importer import import_events
from clientcore.demo.generator import generate
from clientcore.identity.spec import load_spec
from clientcore.identity.sync import stitch
from clientcore.personalize.candidates import Settings
from clientcore.personalize.ranker import RankerSettings
from clientcore.personalize.train import TrainReport, train
from clientcore.store import Store, open_store

CUSTOMERS = 400
FAST = Settings(factors=16, iterations=4)
FAST_RANKER = RankerSettings(trees=30)


@dataclass(frozen=True)
class Retailer:
    data: Path  # the generator's output
    db: str  # a DuckDB file with the events imported and stitched
    models: Path  # a models directory holding one trained version
    report: TrainReport

    @property
    def catalog(self) -> Path:
        return self.data / "catalog.csv"


def load_retailer(store: Store, data: Path) -> None:
    import_events(store, data / "events.ndjson", "ndjson", "demo", None)
    stitch(store, load_spec(), None)


@pytest.fixture(scope="session")
def retailer(tmp_path_factory: pytest.TempPathFactory) -> Retailer:
    base = tmp_path_factory.mktemp("retailer")
    data = base / "data"
    generate(customers=CUSTOMERS, seed=3, out=data, progress=None)
    db = str(base / "shop.duckdb")
    store = open_store(db)
    try:
        load_retailer(store, data)
        report = train(
            store,
            base / "models",
            data / "catalog.csv",
            max_cases=300,
            settings=FAST,
            ranker_settings=FAST_RANKER,
        )
    finally:
        store.close()
    return Retailer(data, db, base / "models", report)
