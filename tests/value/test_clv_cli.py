"""CLI contract: JSON keys, one JSON document, one stderr line and exit 2 on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from clientcore.value.clv.cli import clv_app
from clientcore.value.clv.summary import CustomerSummary

runner = CliRunner()
TX_ARGS = ["--customer-col", "customer", "--date-col", "date", "--calibration-end", "1997-09-30"]


def _ok(args: list[str]) -> dict:
    result = runner.invoke(clv_app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_fit_from_transactions_json(cdnow_csv: Path) -> None:
    doc = _ok(
        [
            "fit",
            "--transactions",
            str(cdnow_csv),
            *TX_ARGS,
            "--observation-end",
            "1998-06-30",
            "--model",
            "bgnbd",
            "--json",
        ]
    )
    assert {"model", "params", "log_likelihood", "n_customers", "fit_seconds"} <= set(doc)
    assert doc["model"] == "bgnbd"
    assert doc["n_customers"] == 2357
    assert doc["params"]["a"] == pytest.approx(0.793, rel=0.01)
    assert doc["log_likelihood"] == pytest.approx(-9582.4, abs=0.1)
    assert doc["holdout"]["actual_total"] == 1882


def test_fit_writes_holdout_chart(tmp_path: Path, cdnow_csv: Path) -> None:
    chart = tmp_path / "holdout.svg"
    doc = _ok(
        [
            "fit",
            "--transactions",
            str(cdnow_csv),
            *TX_ARGS,
            "--observation-end",
            "1998-06-30",
            "--model",
            "pnbd",
            "--json",
            "--chart",
            str(chart),
        ]
    )
    assert doc["chart"] == str(chart)
    assert chart.read_text().startswith("<svg")


def test_fit_gg_needs_amount_and_reports_exclusions(cdnow_csv: Path) -> None:
    doc = _ok(
        [
            "fit",
            "--transactions",
            str(cdnow_csv),
            *TX_ARGS,
            "--amount-col",
            "amount",
            "--model",
            "gg",
            "--json",
        ]
    )
    assert doc["params"]["q"] == pytest.approx(3.74, rel=0.01)
    assert doc["n_customers"] == 946
    assert doc["n_excluded"] == 1411
    bad = runner.invoke(
        clv_app, ["fit", "--transactions", str(cdnow_csv), *TX_ARGS, "--model", "gg", "--json"]
    )
    assert bad.exit_code == 2
    assert bad.stderr.count("\n") == 1
    assert "--amount-col" in bad.stderr


def test_fit_from_summary_csv_and_parquet(tmp_path: Path, cdnow_summary: CustomerSummary) -> None:
    table = cdnow_summary.to_arrow()
    pq.write_table(table, tmp_path / "s.parquet")
    csv_path = tmp_path / "s.csv"
    import pyarrow.csv as pacsv

    pacsv.write_csv(table, csv_path)
    for path in (csv_path, tmp_path / "s.parquet"):
        doc = _ok(["fit", "--summary", str(path), "--model", "pnbd", "--json"])
        assert doc["log_likelihood"] == pytest.approx(-9595.0, abs=0.1)
    doc = _ok(["fit", "--summary", str(csv_path), "--model", "gg", "--json"])
    assert doc["params"]["p"] == pytest.approx(6.25, rel=0.01)


def test_predict_writes_csv_and_json(tmp_path: Path, cdnow_csv: Path) -> None:
    fit_doc = _ok(["fit", "--transactions", str(cdnow_csv), *TX_ARGS, "--model", "bgnbd", "--json"])
    gg_doc = _ok(
        [
            "fit",
            "--transactions",
            str(cdnow_csv),
            *TX_ARGS,
            "--amount-col",
            "amount",
            "--model",
            "gg",
            "--json",
        ]
    )
    (tmp_path / "bg.json").write_text(json.dumps(fit_doc))
    (tmp_path / "gg.json").write_text(json.dumps(gg_doc))
    common = [
        "predict",
        "--fit",
        str(tmp_path / "bg.json"),
        "--spend-fit",
        str(tmp_path / "gg.json"),
        "--transactions",
        str(cdnow_csv),
        *TX_ARGS,
        "--amount-col",
        "amount",
        "--horizon",
        "39",
        "--margin",
        "0.3",
        "--discount-rate",
        "0.1",
    ]
    doc = _ok([*common, "--output", str(tmp_path / "p.csv"), "--json"])
    assert doc["n_customers"] == 2357
    assert doc["totals"]["expected_purchases"] > 1500
    header = (tmp_path / "p.csv").read_text().splitlines()[0]
    assert header == "customer_id,p_alive,expected_purchases,expected_spend,clv"
    doc = _ok([*common, "--json"])
    first = doc["customers"][0]
    assert first["customer_id"] == "0001"
    assert first["expected_purchases"] == pytest.approx(1.226, abs=0.01)
    result = runner.invoke(clv_app, [*common, "--output", str(tmp_path / "p.json")])
    assert result.exit_code == 0
    assert "top customers" in result.stdout
    assert len(json.loads((tmp_path / "p.json").read_text())) == 2357


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ["--customer-col", "nope", "--date-col", "date", "--calibration-end", "1997-09-30"],
            "nope",
        ),
        (
            [
                "--customer-col",
                "customer",
                "--date-col",
                "amount",
                "--calibration-end",
                "1997-09-30",
            ],
            "amount",
        ),
        (
            ["--customer-col", "customer", "--date-col", "date", "--calibration-end", "30/09/1997"],
            "--calibration-end",
        ),
        (["--customer-col", "customer", "--date-col", "date"], "--calibration-end"),
        (
            [
                "--customer-col",
                "customer",
                "--date-col",
                "date",
                "--calibration-end",
                "1997-09-30",
                "--time-unit",
                "month",
            ],
            "--time-unit",
        ),
        (["--bogus"], "--bogus"),
    ],
)
def test_bad_input_exits_2_with_one_line(cdnow_csv: Path, args: list[str], needle: str) -> None:
    result = runner.invoke(
        clv_app, ["fit", "--transactions", str(cdnow_csv), "--model", "bgnbd", *args]
    )
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert needle in result.stderr
    assert result.stdout == ""


def test_bad_model_and_missing_summary_column(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("customer_id,frequency,recency\n1,0,0\n")
    for args, needle in (
        (["--summary", str(path), "--model", "nbd"], "--model"),
        (["--summary", str(path), "--model", "bgnbd"], "T"),
    ):
        result = runner.invoke(clv_app, ["fit", *args])
        assert result.exit_code == 2
        assert needle in result.stderr


def test_subprocess_prints_exactly_one_json_document(cdnow_csv: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-m",
            "clientcore.value.clv.cli",
            "fit",
            "--transactions",
            str(cdnow_csv),
            *TX_ARGS,
            "--model",
            "mbgnbd",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert json.loads(proc.stdout)["model"] == "mbgnbd"
    assert proc.stdout.count("\n") == 1
    assert isinstance(pa.__version__, str)
