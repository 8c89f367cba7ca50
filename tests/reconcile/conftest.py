"""A small generated retailer whose three CRM exports the reconcile tests import, once per
session (the generator is deterministic, so every run sees the same records)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

FEBRL = Path(__file__).resolve().parents[1] / "data" / "febrl"
SOURCES = ("sales", "callcenter", "ecommerce")


@pytest.fixture(scope="session")
def retailer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from clientcore.demo.generator import generate

    out = tmp_path_factory.mktemp("retailer")
    generate(customers=1500, seed=11, out=out, progress=None, workers=1)
    return out


def febrl_labels(path: Path, source: str, out: Path) -> Path:
    """source, record_id, person_id from FEBRL record ids (`rec-17-dup-2` is person 17)."""
    with path.open() as handle, out.open("a", newline="") as sink:
        writer = csv.writer(sink)
        if out.stat().st_size == 0:
            writer.writerow(["source", "record_id", "person_id"])
        for row in csv.DictReader(handle, skipinitialspace=True):
            record_id = row["rec_id"].strip()
            found = re.match(r"rec-(\d+)", record_id)
            assert found is not None
            writer.writerow([source, record_id, found.group(1)])
    return out
