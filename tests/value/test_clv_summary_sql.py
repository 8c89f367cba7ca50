"""Summaries computed in DuckDB from transactions, with the papers' conventions."""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from clientcore.value.clv import DataError, summary

CAL, OBS = dt.date(2024, 1, 31), dt.date(2024, 3, 1)


def _summarize(table: pa.Table, unit: str = "day") -> summary.CustomerSummary:
    con = duckdb.connect()
    con.register("tx", table)
    view = summary.stage_transactions(con, "tx", "cust", "d", "amt")
    return summary.summarize(con, view, CAL, OBS, unit)


def test_same_day_purchases_are_one_transaction_and_formats_mix() -> None:
    table = pa.table(
        {
            "cust": ["a", "a", "a", "a", "a", "b", "c", "c"],
            "d": [
                "2024-01-01",
                "20240101",
                "2024-01-11",
                "2024-01-11",
                "2024-02-10",
                "2024-01-31",
                "2024-02-05",
                "2024-02-06",
            ],
            "amt": [10.0, 5.0, 7.0, 3.0, 99.0, 4.0, 1.0, 1.0],
        }
    )
    s = _summarize(table)
    assert list(s.customer_id) == ["a", "b"]  # c starts after calibration_end
    assert s.frequency.tolist() == [1.0, 0.0]
    assert s.recency.tolist() == [10.0, 0.0]
    assert s.T.tolist() == [30.0, 0.0]
    assert s.monetary_value.tolist() == [10.0, 0.0]  # repeat day: 7 + 3
    assert s.holdout_frequency.tolist() == [1.0, 0.0]
    assert s.holdout_value.tolist() == [99.0, 0.0]
    weeks = _summarize(table, "week")
    assert weeks.recency[0] == pytest.approx(10 / 7)
    assert weeks.holdout_length == 30 / 7
    assert s.to_arrow().num_rows == 2


def test_sql_is_engine_neutral() -> None:
    sql = summary.summary_sql("tx", CAL, OBS, "week")
    lowered = sql.lower()
    for dialect_only in ("strptime", "date_diff", "datediff", "::", "epoch", "qualify"):
        assert dialect_only not in lowered
    assert re.search(r"cast\(.* as double precision\)", lowered)
    con = duckdb.connect()
    con.execute("CREATE TABLE tx AS SELECT 'z' AS customer_id, 19700 AS day, 2.5 AS amount")
    assert con.execute(sql).fetchall()[0][0] == "z"


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("d", ["2024-01-01", "not a date"], "cannot read as a date"),
        ("amt", ["1.0", "ten"], "not a number"),
        ("cust", ["a", None], "empty customer id"),
    ],
)
def test_bad_values_name_the_column(column: str, values: list, message: str) -> None:
    base = {"cust": ["a", "b"], "d": ["2024-01-01", "2024-01-02"], "amt": ["1.0", "2.0"]}
    base[column] = values
    con = duckdb.connect()
    con.register("tx", pa.table(base))
    with pytest.raises(DataError, match=message) as info:
        summary.stage_transactions(con, "tx", "cust", "d", "amt")
    assert info.value.field == column


def test_missing_column_and_empty_cohort() -> None:
    con = duckdb.connect()
    con.register("tx", pa.table({"cust": ["a"], "d": ["2024-05-01"], "amt": [1.0]}))
    with pytest.raises(DataError) as info:
        summary.stage_transactions(con, "tx", "customer", "d", "amt")
    assert info.value.field == "customer"
    view = summary.stage_transactions(con, "tx", "cust", "d", None)
    with pytest.raises(DataError, match="no customer"):
        summary.summarize(con, view, CAL, OBS)
    assert np.isfinite(0.0)
