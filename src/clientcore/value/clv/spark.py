"""The per-customer summaries on Spark: the same query, transpiled by SQLGlot.

When the event log outgrows one machine, the summaries that the lifetime-value models need are
computed where the data is. `summary_sql` is written once; SQLGlot turns it into Spark SQL.
Needs the optional extra: `pip install 'clientcore[spark]'` (PySpark, SQLGlot, and Java).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from clientcore.value.clv.summary import CustomerSummary, summary_sql


def spark_summary_sql(
    source: str, calibration_end: dt.date, observation_end: dt.date | None, time_unit: str = "week"
) -> str:
    import sqlglot

    query = summary_sql(source, calibration_end, observation_end, time_unit)
    return sqlglot.transpile(query, read="duckdb", write="spark")[0]


def summarize_spark(
    spark: Any,
    source: str,
    calibration_end: dt.date,
    observation_end: dt.date | None = None,
    time_unit: str = "week",
) -> CustomerSummary:
    """Run the summary on a Spark view with columns (customer_id, day, amount)."""
    rows = spark.sql(
        spark_summary_sql(source, calibration_end, observation_end, time_unit)
    ).collect()

    def column(name: str, dtype: Any = np.float64) -> np.ndarray:
        return np.asarray([row[name] for row in rows], dtype=dtype)

    return CustomerSummary(
        customer_id=np.asarray([row["customer_id"] for row in rows]),
        first_day=column("first_day", np.int64),
        frequency=column("frequency"),
        recency=column("recency"),
        T=column("T"),
        monetary_value=column("monetary_value"),
        holdout_frequency=column("holdout_frequency"),
        holdout_value=column("holdout_value"),
        time_unit=time_unit,
        calibration_end=calibration_end,
        observation_end=observation_end,
    )
