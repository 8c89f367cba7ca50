"""Runs where the data is: local-mode PySpark gives the same per-customer summaries as DuckDB.

Needs PySpark and Java; skips with the reason when either is missing, unless CI requires the
Spark backend (CLIENTCORE_REQUIRE_BACKENDS contains "spark"), where it fails instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb
import numpy as np
import pytest

from clientcore.value.clv import summary
from tests.conftest import spark_or_skip
from tests.value.conftest import CAL_END, OBS_END, cdnow_table

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    spark_or_skip()
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("clientcore-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_spark_summaries_equal_duckdb(spark: Any) -> None:
    from clientcore.value.clv.spark import summarize_spark

    con = duckdb.connect()
    con.register("cdnow_raw", cdnow_table())
    view = summary.stage_transactions(con, "cdnow_raw", "customer", "date", "amount")
    local = summary.summarize(con, view, CAL_END, OBS_END, "week")
    staged = con.sql(f"SELECT customer_id, day, amount FROM {view}").fetchall()
    frame = spark.createDataFrame(staged, "customer_id string, day long, amount double")
    frame.createOrReplaceTempView("clv_tx")
    remote = summarize_spark(spark, "clv_tx", CAL_END, OBS_END, "week")
    assert len(remote) == len(local) == 2357
    order_l, order_r = np.argsort(local.customer_id), np.argsort(remote.customer_id)
    assert (local.customer_id[order_l] == remote.customer_id[order_r]).all()
    for name in ("frequency", "recency", "T", "monetary_value", "holdout_frequency"):
        np.testing.assert_allclose(
            getattr(remote, name)[order_r], getattr(local, name)[order_l], rtol=1e-12, err_msg=name
        )
