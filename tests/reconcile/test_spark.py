"""Linkage on Spark gives what it gives on DuckDB.

A model trained on DuckDB matches the demo retailer's CRMs on Spark, incrementally and in
full, to the same links, probabilities, evidence and people (the comparisons are compiled for
each engine), and scores the review decisions the same; trained on Spark from scratch,
through the command line, FEBRL dataset 1 comes out as on DuckDB.

Needs PySpark and Java; skips with the reason when either is missing, unless CI requires the
Spark backend (CLIENTCORE_REQUIRE_BACKENDS contains "spark"), where it fails instead. One
local Spark session for the module (two threads, two shuffle partitions).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from clientcore.cli import app
from clientcore.reconcile.linkage import run
from clientcore.reconcile.policy import LinkagePolicy
from clientcore.reconcile.records import import_customers
from clientcore.store import Store, open_store
from tests.conftest import spark_or_skip
from tests.reconcile.conftest import FEBRL, SOURCES, febrl_labels

pytestmark = pytest.mark.spark
FAST = LinkagePolicy(u_max_pairs=2e5)
runner = CliRunner()


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    spark_or_skip()
    from clientcore.reconcile.engine import SparkEngine

    engine = SparkEngine.local("local[2]", partitions=2)
    yield engine
    engine.close()


def _links(store: Store) -> dict[tuple[int, int], tuple[str, float, str | None]]:
    return {
        (int(a), int(b)): (status, float(p), evidence)
        for a, b, status, p, evidence in store.query(
            "SELECT a, b, status, match_probability, evidence FROM record_links"
        )
    }


def _people(store: Store) -> dict[int, int]:
    return dict(store.query("SELECT record_key, cluster_id FROM record_clusters"))


def _same(left: Store, right: Store) -> None:
    """The same links (statuses, probabilities, evidence) and the same people."""
    links, again = _links(left), _links(right)
    assert again.keys() == links.keys()
    assert [again[k][0] for k in links] == [links[k][0] for k in links]
    np.testing.assert_allclose(
        [again[k][1] for k in links], [links[k][1] for k in links], rtol=1e-9, atol=1e-12
    )
    assert [again[k][2] for k in links] == [links[k][2] for k in links]
    assert _people(right) == _people(left)


def test_a_duckdb_model_scores_the_same_on_spark(
    spark: Any, retailer: Path, tmp_path: Path
) -> None:
    """Trained on DuckDB with two CRMs; the third matched incrementally, then everything
    again, on each engine; then the review decisions scored on each."""
    from clientcore.reconcile.labels import check
    from clientcore.reconcile.review import decide

    duck, other = tmp_path / "duckdb.duckdb", tmp_path / "spark.duckdb"
    store = open_store(str(duck))
    try:
        for source in SOURCES[:2]:
            import_customers(store, retailer / "crm" / f"crm_{source}.csv", source)
        assert run(store, FAST).trained
    finally:
        store.close()
    shutil.copy(duck, other)
    local, remote = open_store(str(duck)), open_store(str(other))
    try:
        third = retailer / "crm" / f"crm_{SOURCES[2]}.csv"
        for store in (local, remote):
            import_customers(store, third, SOURCES[2])
        first = run(local, FAST)
        second = run(remote, FAST, engine=spark)
        assert (first.mode, first.engine) == ("incremental", "duckdb")
        assert (second.mode, second.engine, second.trained) == ("incremental", "spark", False)
        assert second.pairs_scored == first.pairs_scored
        _same(local, remote)

        first, second = run(local, FAST, full=True), run(remote, FAST, full=True, engine=spark)
        assert (second.mode, second.model_version) == ("full", 1)
        assert second.pairs_scored == first.pairs_scored
        _same(local, remote)

        waiting = [
            (f"{r[0]}:{r[1]}", f"{r[2]}:{r[3]}")
            for r in remote.query(
                "SELECT ra.source, ra.record_id, rb.source, rb.record_id FROM record_links l "
                "JOIN customer_records ra ON ra.record_key = l.a "
                "JOIN customer_records rb ON rb.record_key = l.b "
                "WHERE l.status IN ('match', 'review') ORDER BY l.match_probability LIMIT 4"
            )
        ]
        assert len(waiting) == 4
        decisions = ("accepted", "rejected", "accepted", "rejected")
        for (a, b), decision in zip(waiting, decisions, strict=True):
            decide(remote, a, b, decision, policy=FAST)  # type: ignore[arg-type]
        on_duckdb = check(remote, FAST)
        on_spark = check(remote, FAST, engine=spark)
    finally:
        local.close()
        remote.close()
    assert on_spark["pairwise"] == on_duckdb["pairwise"]
    assert [d["match_probability"] for d in on_spark["disagreements"]] == pytest.approx(
        [d["match_probability"] for d in on_duckdb["disagreements"]], abs=1e-6
    )


def _cli(args: list[str]) -> Any:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.slow  # EM on Spark: hundreds of small Spark jobs, a minute or two on 2 cores
def test_training_on_spark_links_febrl_as_duckdb_does(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("max_records_per_source: 10\nu_max_pairs: 200000\n")
    monkeypatch.setenv("CLIENTCORE_RECONCILE", str(policy))
    labels = febrl_labels(FEBRL / "dataset1.csv", "febrl1", tmp_path / "labels.csv")
    results = {}
    for engine in ("duckdb", "spark"):
        db = str(tmp_path / f"{engine}.duckdb")
        _cli(["import", "customers", str(FEBRL / "dataset1.csv"), "--source", "febrl1",
              "--mapping", str(FEBRL / "mapping.yaml"), "--db", db, "--json"])  # fmt: skip
        report = _cli(["reconcile", "run", "--engine", engine, "--db", db, "--json"])
        assert (report["engine"], report["trained"]) == (engine, True)
        results[engine] = _cli(["reconcile", "evaluate", "--labels", str(labels), "--db", db,
                                "--json"])  # fmt: skip
    assert results["spark"]["pairwise"]["f1"] >= 0.995
    assert results["spark"]["pairwise"]["f1"] == pytest.approx(
        results["duckdb"]["pairwise"]["f1"], abs=0.002
    )
    assert results["spark"]["cluster"]["f1"] == pytest.approx(
        results["duckdb"]["cluster"]["f1"], abs=0.002
    )
    # The session the command line found running is still usable: it was not the CLI's to stop.
    assert spark.session.sql("SELECT 1 AS one").collect()[0]["one"] == 1
