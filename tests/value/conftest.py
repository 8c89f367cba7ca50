"""Shared CDNOW fixtures: the 1/10 sample shipped in tests/data/cdnow (see its README)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from clientcore.value.clv import summary

CDNOW_SAMPLE = Path(__file__).resolve().parents[1] / "data" / "cdnow" / "CDNOW_sample.txt"
CAL_END = dt.date(1997, 9, 30)
OBS_END = dt.date(1998, 6, 30)


def cdnow_table() -> pa.Table:
    """Whitespace-separated sample: master id, sample id, YYYYMMDD, CDs, dollars."""
    raw = np.loadtxt(CDNOW_SAMPLE, dtype=str)
    return pa.table(
        {"customer": raw[:, 1], "date": raw[:, 2], "amount": raw[:, 4].astype(np.float64)}
    )


@pytest.fixture(scope="session")
def cdnow_summary() -> summary.CustomerSummary:
    con = duckdb.connect()
    con.register("cdnow_raw", cdnow_table())
    view = summary.stage_transactions(con, "cdnow_raw", "customer", "date", "amount")
    return summary.summarize(con, view, CAL_END, OBS_END, "week")


@pytest.fixture(scope="session")
def cdnow_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cdnow") / "cdnow.csv"
    table = cdnow_table()
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["customer", "date", "amount"])
        writer.writerows(
            zip(
                table["customer"].to_pylist(),
                table["date"].to_pylist(),
                table["amount"].to_pylist(),
                strict=True,
            )
        )
    return path
