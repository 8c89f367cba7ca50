"""One small generated retailer shared by the demo tests (generation is the slow part)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from clientcore.demo.generator import GenerationSummary, generate

CUSTOMERS = 300
SEED = 7


@dataclass(frozen=True)
class Dataset:
    out: Path
    summary: GenerationSummary
    events: list[dict[str, Any]]

    def csv(self, name: str) -> list[dict[str, str]]:
        with (self.out / name).open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

    def header(self, name: str) -> list[str]:
        with (self.out / name).open(newline="", encoding="utf-8") as fh:
            return next(csv.reader(fh))


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as fh:
        for line in fh:
            yield orjson.loads(line)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    out = tmp_path_factory.mktemp("demo") / "retailer"
    summary = generate(CUSTOMERS, SEED, out)
    return Dataset(out, summary, list(read_events(out / "events.ndjson")))
