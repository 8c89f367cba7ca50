"""Per-customer RFM summaries computed inside the SQL engine, never by Python loops.

`summary_sql` is engine-neutral SQL (CTEs, GROUP BY, CASE, integer arithmetic on day numbers,
DOUBLE PRECISION casts): it runs as-is on DuckDB and PostgreSQL and transpiles with SQLGlot.
It expects a relation with columns (customer_id, day, amount) where `day` is an integer day
number. Turning raw dates into day numbers differs between engines, so that staging step
(`stage_transactions`) is DuckDB-specific and kept separate.

Definitions follow lifetimes / the CDNOW papers: purchases on the same day are one
transaction (amounts summed); frequency = repeat transaction days up to calibration_end;
recency = last minus first transaction day; T = calibration_end minus first day;
monetary_value = mean value of the repeat transactions (0 without repeats); holdout counts
transaction days in (calibration_end, observation_end].
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from clientcore.value.clv.data import FloatArray
from clientcore.value.clv.errors import DataError

UNIT_DAYS: dict[str, float] = {"day": 1.0, "week": 7.0}
_EPOCH = dt.date(1970, 1, 1)

_SUMMARY_TEMPLATE = """
WITH daily AS (
  SELECT customer_id, day, SUM(amount) AS amount
  FROM {source}
  WHERE day <= {obs_end}
  GROUP BY customer_id, day
),
firsts AS (
  SELECT customer_id, MIN(day) AS first_day
  FROM daily
  GROUP BY customer_id
),
per_customer AS (
  SELECT f.customer_id, f.first_day,
    SUM(CASE WHEN d.day > f.first_day AND d.day <= {cal_end} THEN 1 ELSE 0 END) AS n_repeat,
    MAX(CASE WHEN d.day <= {cal_end} THEN d.day END) AS last_day,
    SUM(CASE WHEN d.day > f.first_day AND d.day <= {cal_end} THEN d.amount ELSE 0 END)
      AS repeat_value,
    SUM(CASE WHEN d.day > {cal_end} THEN 1 ELSE 0 END) AS n_holdout,
    SUM(CASE WHEN d.day > {cal_end} THEN d.amount ELSE 0 END) AS holdout_value
  FROM firsts f
  JOIN daily d ON d.customer_id = f.customer_id
  WHERE f.first_day <= {cal_end}
  GROUP BY f.customer_id, f.first_day
)
SELECT
  customer_id,
  first_day,
  CAST(n_repeat AS DOUBLE PRECISION) AS frequency,
  CAST(last_day - first_day AS DOUBLE PRECISION) / {unit} AS recency,
  CAST({cal_end} - first_day AS DOUBLE PRECISION) / {unit} AS T,
  CASE WHEN n_repeat > 0 THEN CAST(repeat_value AS DOUBLE PRECISION) / n_repeat ELSE 0.0 END
    AS monetary_value,
  CAST(n_holdout AS DOUBLE PRECISION) AS holdout_frequency,
  CAST(holdout_value AS DOUBLE PRECISION) AS holdout_value
FROM per_customer
ORDER BY customer_id
"""

_REPEATS_BY_DAY_TEMPLATE = """
WITH daily AS (
  SELECT customer_id, day FROM {source} WHERE day <= {obs_end} GROUP BY customer_id, day
),
firsts AS (
  SELECT customer_id, MIN(day) AS first_day FROM daily GROUP BY customer_id
)
SELECT d.day, COUNT(*) AS repeat_transactions
FROM daily d
JOIN firsts f ON d.customer_id = f.customer_id
WHERE d.day > f.first_day AND f.first_day <= {cal_end}
GROUP BY d.day
ORDER BY d.day
"""


def day_number(value: dt.date) -> int:
    """Days since 1970-01-01: the integer clock the portable SQL works on."""
    return (value - _EPOCH).days


def summary_sql(
    source: str, calibration_end: dt.date, observation_end: dt.date | None, time_unit: str = "week"
) -> str:
    """Engine-neutral summary query over `source` (customer_id, day, amount)."""
    if time_unit not in UNIT_DAYS:
        raise DataError("time_unit", f"must be one of {', '.join(UNIT_DAYS)}, got {time_unit!r}")
    cal = day_number(calibration_end)
    obs = day_number(observation_end) if observation_end is not None else cal
    return _SUMMARY_TEMPLATE.format(
        source=source, cal_end=cal, obs_end=obs, unit=f"{UNIT_DAYS[time_unit]:.1f}"
    )


def repeats_by_day_sql(source: str, calibration_end: dt.date, observation_end: dt.date) -> str:
    """Engine-neutral count of repeat transaction days per calendar day (for tracking plots)."""
    return _REPEATS_BY_DAY_TEMPLATE.format(
        source=source, cal_end=day_number(calibration_end), obs_end=day_number(observation_end)
    )


@dataclass(frozen=True, slots=True)
class CustomerSummary:
    """Per-customer summary arrays plus the settings they were computed with."""

    customer_id: np.ndarray
    first_day: np.ndarray
    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    monetary_value: FloatArray
    holdout_frequency: FloatArray
    holdout_value: FloatArray
    time_unit: str
    calibration_end: dt.date
    observation_end: dt.date | None

    @property
    def holdout_length(self) -> float:
        """Length of (calibration_end, observation_end] in time units (0 without holdout)."""
        if self.observation_end is None:
            return 0.0
        return (self.observation_end - self.calibration_end).days / UNIT_DAYS[self.time_unit]

    def __len__(self) -> int:
        return int(self.frequency.size)

    def to_arrow(self) -> pa.Table:
        """Arrow table with one row per customer."""
        return pa.table(
            {
                "customer_id": self.customer_id,
                "frequency": self.frequency,
                "recency": self.recency,
                "T": self.T,
                "monetary_value": self.monetary_value,
                "holdout_frequency": self.holdout_frequency,
                "holdout_value": self.holdout_value,
            }
        )


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _describe(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, str]:
    rows = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    return {str(r[0]): str(r[1]).upper() for r in rows}


def stage_transactions(
    con: duckdb.DuckDBPyConnection,
    source: str,
    customer_col: str,
    date_col: str,
    amount_col: str | None = None,
    view: str = "clv_transactions",
) -> str:
    """Create a temp view (customer_id, day, amount) over `source`; validate in SQL.

    Dates may be DATE/TIMESTAMP columns or text in YYYY-MM-DD or YYYYMMDD. Raises DataError
    naming the column and an offending value.
    """
    columns = _describe(con, source)
    for col in (customer_col, date_col, *([amount_col] if amount_col else [])):
        if col not in columns:
            raise DataError(col, f"no such column (columns: {', '.join(columns)})")
    c, d = _quote(customer_col), _quote(date_col)
    if columns[date_col].startswith(("DATE", "TIMESTAMP")):
        parsed = f"CAST({d} AS DATE)"
    else:
        text = f"trim(CAST({d} AS VARCHAR))"
        parsed = (
            f"CAST(coalesce(try_strptime({text}, '%Y-%m-%d'), try_strptime({text}, '%Y%m%d'))"
            " AS DATE)"
        )
    amount = f"TRY_CAST({_quote(amount_col)} AS DOUBLE)" if amount_col else "0.0"
    raw_amount = _quote(amount_col) if amount_col else "0.0"
    checks: list[tuple[str, str, str]] = [
        (customer_col, f"{c} IS NULL", "empty customer id"),
        (date_col, f"{d} IS NULL", "empty date"),
        (date_col, f"{parsed} IS NULL", "cannot read as a date (expected YYYY-MM-DD or YYYYMMDD)"),
    ]
    if amount_col:
        checks.append((amount_col, f"{amount} IS NULL", "not a number"))
    for col, condition, problem in checks:
        bad = con.execute(
            f"SELECT CAST({_quote(col)} AS VARCHAR) FROM {source} WHERE {condition} LIMIT 1"
        ).fetchall()
        if bad:
            raise DataError(col, f"{problem}: {bad[0][0]!r}")
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT {c} AS customer_id, "
        f"CAST({parsed} - DATE '1970-01-01' AS BIGINT) AS day, "
        f"{amount if amount_col else raw_amount} AS amount FROM {source}"
    )
    return view


def read_csv_source(con: duckdb.DuckDBPyConnection, path: str, view: str = "clv_raw") -> str:
    """Expose a CSV file as a view of text columns (parsing is done by `stage_transactions`)."""
    literal = "'" + path.replace("'", "''") + "'"
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {view} AS "
            f"SELECT * FROM read_csv({literal}, header = true, all_varchar = true)"
        )
        con.execute(f"SELECT * FROM {view} LIMIT 1").fetchall()
    except duckdb.Error as exc:
        raise DataError("transactions", f"cannot read {path} as CSV: {exc}") from exc
    return view


def summarize(
    con: duckdb.DuckDBPyConnection,
    source: str,
    calibration_end: dt.date,
    observation_end: dt.date | None = None,
    time_unit: str = "week",
) -> CustomerSummary:
    """Run `summary_sql` on a staged (customer_id, day, amount) relation; return arrays."""
    if observation_end is not None and observation_end < calibration_end:
        raise DataError("observation_end", "must not be before calibration_end")
    cols: dict[str, Any] = con.execute(
        summary_sql(source, calibration_end, observation_end, time_unit)
    ).fetchnumpy()
    if len(cols["frequency"]) == 0:
        raise DataError(
            "calibration_end", f"no customer made a first purchase on or before {calibration_end}"
        )

    def f64(name: str) -> FloatArray:
        return np.asarray(cols[name], dtype=np.float64)

    return CustomerSummary(
        customer_id=np.asarray(cols["customer_id"]),
        first_day=np.asarray(cols["first_day"], dtype=np.int64),
        frequency=f64("frequency"),
        recency=f64("recency"),
        T=f64("T"),
        monetary_value=f64("monetary_value"),
        holdout_frequency=f64("holdout_frequency"),
        holdout_value=f64("holdout_value"),
        time_unit=time_unit,
        calibration_end=calibration_end,
        observation_end=observation_end,
    )


def repeats_by_day(
    con: duckdb.DuckDBPyConnection,
    source: str,
    calibration_end: dt.date,
    observation_end: dt.date,
) -> tuple[np.ndarray, FloatArray]:
    """(day number, repeat transactions that day) for the calibration cohort."""
    cols = con.execute(repeats_by_day_sql(source, calibration_end, observation_end)).fetchnumpy()
    return (
        np.asarray(cols["day"], dtype=np.int64),
        np.asarray(cols["repeat_transactions"], dtype=np.float64),
    )
