"""The demo retailer's three CRMs end to end on every backend: import, run, evaluate, review,
explain, incremental matching, and the one-line errors of the command line."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from typer.testing import CliRunner

from clientcore.cli import app
from clientcore.reconcile.linkage import run
from clientcore.reconcile.policy import LinkagePolicy
from clientcore.reconcile.records import import_customers
from clientcore.store import open_store
from tests.conftest import _pg_or_skip
from tests.reconcile.conftest import SOURCES

runner = CliRunner()
# Fewer random pairs for u than in production: the tests' records are few.
FAST = LinkagePolicy(u_max_pairs=2e5)


def _cli(args: list[str], code: int = 0) -> Any:
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout) if code == 0 and "--json" in args else result


def _import(db: str, retailer: Path, source: str) -> dict[str, Any]:
    path = retailer / "crm" / f"crm_{source}.csv"
    return _cli(["import", "customers", str(path), "--source", source, "--db", db, "--json"])  # type: ignore[no-any-return]


@pytest.fixture(autouse=True, scope="module")
def _fast_policy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    path = tmp_path_factory.mktemp("policy") / "policy.yaml"
    path.write_text(f"u_max_pairs: {FAST.u_max_pairs}\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CLIENTCORE_RECONCILE", str(path))
        yield


@pytest.fixture(
    scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def reconciled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, retailer: Path
) -> Iterator[str]:
    """The three CRMs imported and reconciled once per backend for this module's tests."""
    if request.param == "duckdb":
        url = str(tmp_path_factory.mktemp("reconciled") / "clientcore.duckdb")
        schema = None
    else:
        import psycopg

        base = _pg_or_skip()
        schema = f"cc_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(base, autocommit=True) as con:
            con.execute(f"CREATE SCHEMA {schema}")
        sep = "&" if "?" in base else "?"
        url = f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    for source in SOURCES:
        _import(url, retailer, source)
    _cli(["reconcile", "run", "--db", url, "--json"])
    yield url
    if schema is not None:
        with psycopg.connect(base, autocommit=True) as con:
            con.execute(f"DROP SCHEMA {schema} CASCADE")


def test_import_standardizes_and_is_idempotent(db_url: str, retailer: Path) -> None:
    first = _import(db_url, retailer, "sales")
    assert first["rows"] == first["inserted"] > 1000
    assert first["rejected"] == 0
    assert first["unparsed"].get("phone", 0) > 0  # 0000000000 typed at the till
    again = _import(db_url, retailer, "sales")
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, first["rows"])
    store = open_store(db_url)
    try:
        rows = store.query(
            "SELECT count(*) FILTER (WHERE given_name IS NULL OR surname IS NULL), "
            "count(*) FILTER (WHERE postcode LIKE '%-%'), "
            "count(*) FILTER (WHERE phone NOT LIKE '+%') FROM customer_records"
        )
    finally:
        store.close()
    assert rows[0] == (0, 0, 0)


def test_the_three_crms_reconcile_into_people(reconciled: str, retailer: Path) -> None:
    labels = retailer / "truth" / "crm_records.csv"
    result = _cli(["reconcile", "evaluate", "--labels", str(labels), "--db", reconciled, "--json"])
    assert result["pairwise"]["f1"] >= 0.97
    assert result["cluster"]["f1"] >= 0.95
    assert result["largest_cluster"] <= result["largest_true_cluster"]
    assert result["records_without_label"] == result["labels_without_record"] == 0


def test_a_second_run_without_new_records_changes_nothing(reconciled: str) -> None:
    again = _cli(["reconcile", "run", "--db", reconciled, "--json"])
    assert again["mode"] == "nothing"
    assert not again["trained"]


def test_explain_gives_each_fields_weight(reconciled: str) -> None:
    store = open_store(reconciled)
    try:
        a, b = store.query(
            "SELECT ra.source || ':' || ra.record_id, rb.source || ':' || rb.record_id "
            "FROM record_links l JOIN customer_records ra ON ra.record_key = l.a "
            "JOIN customer_records rb ON rb.record_key = l.b WHERE l.status = 'match' "
            "ORDER BY l.a, l.b LIMIT 1"
        )[0]
    finally:
        store.close()
    why = _cli(["reconcile", "explain", a, b, "--db", reconciled, "--json"])
    assert why["verdict"].startswith("linked")
    assert why["match_probability"] >= 0.99
    total = why["prior_match_weight"] + sum(e["match_weight"] for e in why["evidence"])
    assert total == pytest.approx(why["match_weight"], abs=0.01)
    text = _cli(["reconcile", "explain", a, b, "--db", reconciled])
    assert "probability" in text.stdout


def test_incremental_matching_keeps_the_published_people(db_url: str, retailer: Path) -> None:
    store = open_store(db_url)
    try:
        for source in SOURCES[:2]:
            import_customers(store, retailer / "crm" / f"crm_{source}.csv", source)
        first = run(store, FAST)
        assert first.mode == "full"
        before = dict(store.query("SELECT record_key, cluster_id FROM record_clusters"))
        import_customers(store, retailer / "crm" / f"crm_{SOURCES[2]}.csv", SOURCES[2])
        second = run(store, FAST)
        assert (second.mode, second.trained) == ("incremental", False)
        assert second.new_records > 1000
        after = dict(store.query("SELECT record_key, cluster_id FROM record_clusters"))
        joined = store.query(
            "SELECT count(*) FROM record_clusters c JOIN customer_records r USING (record_key) "
            "WHERE r.source = ? AND c.cluster_id < c.record_key",
            [SOURCES[2]],
        )[0][0]
    finally:
        store.close()
    assert {k: after[k] for k in before} == before  # nobody's id moved
    assert joined > 500  # new records joined existing people


def test_person_shows_all_records_of_the_reconciled_person(reconciled: str) -> None:
    store = open_store(reconciled)
    try:
        reference = store.query(
            "SELECT r.source || ':' || r.record_id FROM record_clusters c "
            "JOIN customer_records r USING (record_key) WHERE c.cluster_id IN ("
            "SELECT cluster_id FROM record_clusters GROUP BY cluster_id HAVING count(*) >= 3) "
            "ORDER BY r.record_key LIMIT 1"
        )[0][0]
    finally:
        store.close()
    found = _cli(["reconcile", "person", reference, "--db", reconciled, "--json"])
    assert len(found["records"]) >= 3
    assert reference in {r["record"] for r in found["records"]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["reconcile", "explain", "sales:nope", "sales:nope2"], "no imported record sales:nope"),
        (["reconcile", "explain", "nocolon", "x:y"], "SOURCE:RECORD_ID"),
        (["reconcile", "evaluate", "--labels", "/no/such.csv"], "--labels: no such file"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    reconciled: str, args: list[str], message: str
) -> None:
    result = _cli([*args, "--db", reconciled], code=2)
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_import_refuses_a_bad_mapping(db_url: str, retailer: Path) -> None:
    path = str(retailer / "crm" / "crm_sales.csv")
    result = _cli(
        ["import", "customers", path, "--source", "other", "--map", "customer_no=e_mail",
         "--db", db_url], code=2,
    )  # fmt: skip
    assert "'e_mail' is not a field" in result.stderr
    result = _cli(["reconcile", "run", "--db", db_url], code=2)
    assert "no customer records" in result.stderr


def test_review_decisions_are_applied_and_kept_as_labels(reconciled: str) -> None:
    waiting = _cli(["reconcile", "review", "list", "--limit", "2", "--db", reconciled, "--json"])
    assert waiting["total"] >= 2
    first, second = waiting["pairs"]
    assert {e["field"] for e in first["evidence"]} >= {"given_name", "surname", "address"}
    assert all("match_weight" in e and "agreement" in e for e in first["evidence"])

    accepted = _cli(
        ["reconcile", "review", "accept", first["a"], first["b"], "--by", "ana", "--db",
         reconciled, "--json"]
    )  # fmt: skip
    assert accepted["same_person_now"]
    rejected = _cli(
        ["reconcile", "review", "reject", second["a"], second["b"], "--note", "siblings",
         "--db", reconciled, "--json"]
    )  # fmt: skip
    assert not rejected["same_person_now"]

    left = _cli(["reconcile", "review", "list", "--db", reconciled, "--json"])
    assert left["total"] == waiting["total"] - 2
    labels = _cli(["reconcile", "review", "labels", "--db", reconciled, "--json"])
    assert [label["clerical_match_score"] for label in labels["labels"]] == [1.0, 0.0]
    assert labels["labels"][1]["note"] == "siblings"

    why = _cli(["reconcile", "explain", second["a"], second["b"], "--db", reconciled, "--json"])
    assert why["verdict"] == "not linked: a reviewer rejected this pair"
    assert why["decision"]["decision"] == "rejected"
    # Decisions survive a full run with the same model.
    _cli(["reconcile", "run", "--full", "--db", reconciled, "--json"])
    why = _cli(["reconcile", "explain", first["a"], first["b"], "--db", reconciled, "--json"])
    assert why["same_person"]
