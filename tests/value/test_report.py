"""The value report and the `clientcore value` commands on the generated retailer (DuckDB):
`report --json` is one JSON document, `--html` one self-contained file with inline SVG charts,
a bad cost file exits 2 with one line naming the field, `customer` shows the traceable P&L.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from clientcore.value.cli import value_app
from tests.value import test_pnl_retailer as shared
from tests.value.test_pnl_retailer import Retailer

retailer = shared.retailer  # the session fixture: one generated retailer for both modules

DUCKDB = pytest.mark.parametrize("retailer", ["duckdb"], indirect=True)


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(value_app, list(args))


def _one_line_error(result: Result) -> str:
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def report_run(retailer: Retailer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str]:
    """`value report --json --html FILE` once: (parsed JSON, HTML text)."""
    html = tmp_path_factory.mktemp("report") / "value.html"
    catalog = str(retailer.data / "catalog.csv")
    result = _invoke("report", "--json", "--html", str(html), "--catalog", catalog,
                     "--db", retailer.url)  # fmt: skip
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    assert result.stderr == ""
    return json.loads(result.stdout), html.read_text()


@DUCKDB
def test_json_is_one_document(report_run: tuple[Any, str]) -> None:
    doc, _ = report_run
    assert {"headline", "pnl", "whale_curve", "by_channel", "by_cohort", "clv", "tiers",
            "migrations", "rfm", "best", "worst"} <= set(doc)  # fmt: skip
    assert re.match(r"The top 10% of customers give \d+% of profit", doc["headline"])
    assert doc["pnl"]["reconciliation"]["max_abs_difference"] == "0.000000"
    assert len(doc["best"]) == len(doc["worst"]) == 5
    best = [float(row["contribution"]) for row in doc["best"]]
    assert best == sorted(best, reverse=True)
    assert best[0] >= float(doc["worst"][0]["contribution"])
    assert sum(t["customers"] for t in doc["tiers"]) == doc["customers"]
    assert doc["clv"]["fitted"], doc["clv"]["error"]
    assert doc["clv"]["holdout"]["buckets"]
    assert sum(map(sum, doc["migrations"]["matrix"])) >= doc["customers"]
    assert {row["segment"] for row in doc["rfm"]} <= {
        "Champions", "Loyal", "Promising", "New", "Need Attention", "About to Sleep",
        "At Risk", "Can't Lose Them", "Hibernating", "Lost",
    }  # fmt: skip
    cohorts = [g["key"] for g in doc["by_cohort"] if g["key"] != "no order"]
    assert cohorts == sorted(cohorts)
    assert cohorts[0].startswith("2024-")


@DUCKDB
def test_html_is_one_self_contained_file(report_run: tuple[Any, str]) -> None:
    doc, html = report_run
    assert html.startswith("<!doctype html>")
    assert html.rstrip().endswith("</html>")
    svgs = re.findall(r"<svg .*?</svg>", html, re.S)
    assert len(svgs) == 4  # whale curve, tier sizes, CLV distribution, calibration
    assert "Whale curve" in svgs[0]
    assert "polyline" in svgs[0]
    assert "Customers per tier" in svgs[1]
    assert "Predicted 12-month value" in svgs[2]
    assert "holdout" in svgs[3]
    assert "<script" not in html
    assert "src=" not in html
    assert "<link" not in html
    assert doc["headline"].replace("'", "&#x27;") in html


@DUCKDB
def test_terminal_report_and_period(retailer: Retailer) -> None:
    catalog = str(retailer.data / "catalog.csv")
    result = _invoke("report", "--catalog", catalog, "--db", retailer.url,
                     "--period-start", "2025-01-01", "--period-end", "2026-01-01")  # fmt: skip
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    for title in ("Profit and loss", "Whale curve", "Value tiers", "RFM segments",
                  "5 best customers", "5 worst customers"):  # fmt: skip
        assert title in result.stdout
    assert "Tier migrations since 2025-01-01" in result.stdout


@DUCKDB
def test_bad_cost_file_exits_2_naming_the_field(retailer: Retailer, tmp_path: Path) -> None:
    costs = tmp_path / "costs.yaml"
    costs.write_text("marketing:\n  Email Sent: {per_event: -0.01}\n")
    line = _one_line_error(_invoke("report", "--costs", str(costs), "--db", retailer.url))
    assert "marketing.Email Sent.per_event" in line
    costs.write_text("catalog: {path: nowhere.csv}\n")
    line = _one_line_error(_invoke("customer", "x", "--costs", str(costs), "--db", retailer.url))
    assert "catalog.path" in line
    line = _one_line_error(_invoke("report", "--period-start", "soon", "--db", retailer.url))
    assert "--period-start" in line


@DUCKDB
def test_customer_command(retailer: Retailer, report_run: tuple[Any, str]) -> None:
    doc, _ = report_run
    best = doc["best"][0]
    catalog = str(retailer.data / "catalog.csv")
    args = ("customer", best["identifier"], "--catalog", catalog, "--db", retailer.url)
    result = _invoke(*args, "--json")
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    mine = json.loads(result.stdout)
    assert mine["profile_id"] == best["profile_id"]
    assert mine["statement"]["contribution"] == best["contribution"]
    orders = [x for x in mine["lines"] if x["section"] == "gross_sales"]
    assert orders[0]["events"] == best["orders"]
    assert mine["clv"]["fitted"]
    assert mine["clv"]["clv"] == best["clv"]
    table = _invoke(*args, "--no-clv")
    assert table.exit_code == 0
    assert "P&L, line by line" in table.stdout
    _one_line_error(_invoke("customer", "nobody@nowhere.example", "--db", retailer.url))


@pytest.mark.postgres
@pytest.mark.parametrize("retailer", ["postgres"], indirect=True)
def test_report_on_postgres_matches_duckdb(retailer: Retailer, tmp_path: Path) -> None:
    """The same retailer on PostgreSQL gives the figures DuckDB gives (the DuckDB run is
    repeated here on its own file so the two can be compared)."""
    from clientcore.collect.importer import import_events
    from clientcore.identity.spec import DEFAULT_SPEC
    from clientcore.identity.sync import stitch
    from clientcore.store import open_store
    from clientcore.value.report import build_report

    docs = []
    for url in (retailer.url, str(tmp_path / "again.duckdb")):
        store = open_store(url)
        try:
            if url.endswith(".duckdb"):
                import_events(store, retailer.data / "events.ndjson")
                stitch(store, DEFAULT_SPEC)
            docs.append(build_report(store, retailer.costs).to_dict())
        finally:
            store.close()
    pg, duck = docs
    for key in ("headline", "pnl", "tiers", "rfm", "best", "worst", "by_channel", "by_cohort"):
        assert pg[key] == duck[key], key
    assert pg["clv"]["total_clv"] == pytest.approx(duck["clv"]["total_clv"], rel=1e-6)


@DUCKDB
def test_demo_chapter(retailer: Retailer) -> None:
    from rich.console import Console

    from clientcore.store import open_store
    from clientcore.value.tour import value_chapter

    console = Console(record=True, width=160)
    store = open_store(retailer.url)
    try:
        value_chapter(store, retailer.data, console)
    finally:
        store.close()
    text = console.export_text()
    assert re.search(r"The top 10% of customers give \d+% of profit", text)
    assert "The 5 most profitable customers" in text
    assert "The 5 least profitable customers" in text
    assert "the generator's true total profit" in text
