"""FEBRL dataset 1 end to end through the command line, trained without labels: pairwise F1
≥ 0.995 (the issue's figure; the other FEBRL files are in benchmarks/bench_reconcile_febrl.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clientcore.cli import app
from tests.reconcile.conftest import FEBRL, febrl_labels

runner = CliRunner()


def _ok(args: list[str]) -> dict[str, object]:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_febrl_dataset1_without_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("max_records_per_source: 10\n")
    monkeypatch.setenv("CLIENTCORE_RECONCILE", str(policy))
    db = str(tmp_path / "febrl.duckdb")
    mapping = str(FEBRL / "mapping.yaml")
    imported = _ok(
        ["import", "customers", str(FEBRL / "dataset1.csv"), "--source", "febrl1",
         "--mapping", mapping, "--db", db, "--json"]
    )  # fmt: skip
    assert imported["inserted"] == 1000
    _ok(["reconcile", "run", "--db", db, "--json"])
    labels = febrl_labels(FEBRL / "dataset1.csv", "febrl1", tmp_path / "labels.csv")
    result = _ok(["reconcile", "evaluate", "--labels", str(labels), "--db", db, "--json"])
    assert result["pairwise"]["f1"] >= 0.995  # type: ignore[index]
    assert result["largest_cluster"] <= result["largest_true_cluster"]
