"""`clientcore recommend …`: the scripted contract (one JSON document with --json, the keys
scripts read) and bad input answered with exit code 2 and one line naming the option."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from clientcore.cli import app
from tests.personalize.conftest import Retailer


@pytest.fixture
def shop(retailer: Retailer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Retailer:
    """A private copy of the trained retailer (database and models)."""
    monkeypatch.delenv("CLIENTCORE_DB", raising=False)
    monkeypatch.delenv("CLIENTCORE_MODELS", raising=False)
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "shop.duckdb"
    shutil.copy(retailer.db, db)
    shutil.copytree(retailer.models, Path(str(db) + ".models"))
    return Retailer(retailer.data, str(db), Path(str(db) + ".models"), retailer.report)


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, ["recommend", *args])


def _json(*args: str) -> Any:
    result = _run(*args, "--json")
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    assert result.stderr == ""
    return json.loads(result.stdout)


def _bad(*args: str) -> str:
    result = _run(*args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_train_makes_a_new_version(shop: Retailer) -> None:
    report = _json("train", "--db", shop.db, "--catalog", str(shop.catalog), "--max-cases", "100")
    assert report["version"] == "v2"
    assert report["interactions"] > 1000
    assert (shop.models / "recs" / "CURRENT").read_text().strip() == "v2"


def test_evaluate_contract(shop: Retailer) -> None:
    result = _json(
        "evaluate", "--db", shop.db, "--catalog", str(shop.catalog), "--k", "10",
        "--max-cases", "60", "--split-date", "2025-11-01",
    )  # fmt: skip
    assert result["ours"] in result["models"]
    assert set(result["models"]) >= {"popularity", "cooccurrence", "als", result["ours"]}
    for metrics in result["models"].values():
        assert {"recall@10", "ndcg@10", "mrr@10", "coverage"} <= set(metrics)
    assert result["split_date"] == "2025-11-01"


@pytest.mark.parametrize("channel", ["web", "email", "ads", "direct_mail", "pickup"])
def test_export_every_channel(shop: Retailer, tmp_path: Path, channel: str) -> None:
    out = tmp_path / f"{channel}.ndjson"
    report = _json(
        "export", "--db", shop.db, "--channel", channel, "--out", str(out), "--limit", "40",
        "--days", "60",
    )  # fmt: skip
    assert report["recipients"] > 0
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert len(lines) == report["recipients"]
    limit = {"web": 10, "email": 4, "ads": 3, "direct_mail": 6, "pickup": 3}[channel]
    for line in lines:
        assert 1 <= len(line["items"]) <= limit
        assert all(item["reason"] for item in line["items"])
    if channel == "email":
        assert all("@" in line["email"] for line in lines)
    if channel == "direct_mail":
        assert all(line["household_id"] and line["profile_ids"] for line in lines)


def test_export_csv_and_max_items(shop: Retailer, tmp_path: Path) -> None:
    out = tmp_path / "mail.csv"
    report = _json(
        "export", "--db", shop.db, "--channel", "email", "--out", str(out), "--max-items", "2",
        "--limit", "5",
    )  # fmt: skip
    rows = out.read_text().splitlines()
    assert rows[0] == "profile_id,email,rank,product_id,name,reason"
    assert len(rows) - 1 == report["rows"] <= 10


def test_for_one_person(shop: Retailer) -> None:
    document = _json("for", "--db", shop.db, "--k", "5", "nobody-we-know", "--channel", "web")
    assert document["profile_id"] is None
    assert len(document["items"]) == 5
    shown = _run("for", "--db", shop.db, "--k", "3", "nobody-we-know")
    assert shown.exit_code == 0
    assert "popular" in shown.stdout


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["evaluate", "--split-date", "01/11/2025"], "--split-date"),
        (["evaluate", "--k", "0"], "--k"),
        (["train", "--catalog", "missing.csv"], "--catalog"),
        (["train", "--window-days", "0"], "--window-days"),
        (["export", "--channel", "fax", "--out", "x.ndjson"], "--channel"),
        (["export", "--channel", "email", "--out", "x.ndjson", "--max-items", "0"], "--max-items"),
        (["for", "someone", "--k", "500"], "--k"),
        (["for", "someone", "--at", "yesterday"], "--at"),
        (["for", "someone", "--channel", "fax"], "--channel"),
    ],
)
def test_bad_input_names_the_option(shop: Retailer, args: list[str], option: str) -> None:
    assert option in _bad(*args, "--db", shop.db)


def test_no_model_yet_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLIENTCORE_MODELS", raising=False)
    line = _bad("export", "--db", str(tmp_path / "empty.duckdb"), "--channel", "web", "--out", "x")
    assert "recommend train" in line
