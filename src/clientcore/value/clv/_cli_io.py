"""File handling for the CLI: load summaries or transactions, write predictions.

Kept apart from `cli.py` so the command definitions stay readable; everything here raises
DataError naming the option or column at fault, which the CLI turns into one stderr line.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import orjson

from clientcore.value.clv.data import FloatArray
from clientcore.value.clv.errors import DataError
from clientcore.value.clv.summary import (
    UNIT_DAYS,
    CustomerSummary,
    read_csv_source,
    stage_transactions,
    summarize,
)

_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")


def parse_date(value: str | None, option: str) -> dt.date | None:
    """YYYY-MM-DD (or YYYYMMDD) option value; DataError naming the option otherwise."""
    if value is None:
        return None
    match = _DATE.match(value.strip())
    try:
        if match is None:
            raise ValueError
        return dt.date(*(int(g) for g in match.groups()))
    except ValueError:
        raise DataError(option, f"expected a date as YYYY-MM-DD, got {value!r}") from None


def check_unit(time_unit: str) -> str:
    if time_unit not in UNIT_DAYS:
        raise DataError("--time-unit", f"must be day or week, got {time_unit!r}")
    return time_unit


def _existing(path: Path, option: str) -> str:
    if not path.is_file():
        raise DataError(option, f"file not found: {path}")
    return str(path)


def load_transactions(
    path: Path,
    customer_col: str | None,
    date_col: str | None,
    amount_col: str | None,
    calibration_end: str | None,
    observation_end: str | None,
    time_unit: str,
) -> CustomerSummary:
    """Summarise a transactions CSV in DuckDB (same-day purchases are one transaction)."""
    for option, value in (
        ("--customer-col", customer_col),
        ("--date-col", date_col),
        ("--calibration-end", calibration_end),
    ):
        if not value:
            raise DataError(option, "required with --transactions")
    assert customer_col is not None
    assert date_col is not None
    cal = parse_date(calibration_end, "--calibration-end")
    obs = parse_date(observation_end, "--observation-end")
    assert cal is not None
    if obs is not None and obs < cal:
        raise DataError("--observation-end", f"{obs} is before --calibration-end {cal}")
    con = duckdb.connect()
    try:
        raw = read_csv_source(con, _existing(path, "--transactions"))
        view = stage_transactions(con, raw, customer_col, date_col, amount_col)
        return summarize(con, view, cal, obs, check_unit(time_unit))
    finally:
        con.close()


def load_summary(path: Path, need_spend: bool) -> dict[str, Any]:
    """Columns customer_id, frequency, recency, T (and monetary_value) from CSV or Parquet."""
    file = _existing(path, "--summary").replace("'", "''")
    reader = "read_parquet" if path.suffix.lower() in {".parquet", ".pq"} else "read_csv"
    con = duckdb.connect()
    try:
        try:
            cols = {
                str(r[0])
                for r in con.execute(f"DESCRIBE SELECT * FROM {reader}('{file}')").fetchall()
            }
        except duckdb.Error as exc:
            raise DataError("--summary", f"cannot read {path}: {exc}") from exc
        wanted = ["frequency", "recency", "T"] + (["monetary_value"] if need_spend else [])
        for name in ["customer_id", *wanted]:
            if name not in cols:
                raise DataError(
                    name, f"column missing from {path.name} (have: {', '.join(sorted(cols))})"
                )
        for name in wanted:
            bad = con.execute(
                f"SELECT CAST(\"{name}\" AS VARCHAR) FROM {reader}('{file}') "
                f'WHERE TRY_CAST("{name}" AS DOUBLE) IS NULL LIMIT 1'
            ).fetchall()
            if bad:
                raise DataError(name, f"not a number: {bad[0][0]!r}")
        select = ", ".join(['"customer_id"', *(f'CAST("{n}" AS DOUBLE) AS "{n}"' for n in wanted)])
        data = con.execute(f"SELECT {select} FROM {reader}('{file}')").fetchnumpy()
    finally:
        con.close()
    out: dict[str, Any] = {"customer_id": np.asarray(data["customer_id"])}
    for name in wanted:
        out[name] = np.asarray(data[name], dtype=np.float64)
    if out["frequency"].size == 0:
        raise DataError("--summary", f"{path.name} has no rows")
    return out


def load_fit(path: Path, option: str) -> dict[str, Any]:
    """A fit JSON written by `clientcore clv fit --json`."""
    try:
        data = orjson.loads(Path(_existing(path, option)).read_bytes())
    except orjson.JSONDecodeError as exc:
        raise DataError(option, f"{path.name} is not JSON: {exc}") from exc
    if not isinstance(data, dict) or "model" not in data or "params" not in data:
        raise DataError(option, f"{path.name} is not a fit record (needs model and params)")
    return data


def write_predictions(path: Path, columns: dict[str, np.ndarray]) -> None:
    """CSV or JSON (list of records) depending on the extension."""
    names = list(columns)
    n = len(next(iter(columns.values())))
    if path.suffix.lower() == ".json":
        rows = [{k: plain(columns[k][i]) for k in names} for i in range(n)]
        path.write_bytes(orjson.dumps(rows))
        return
    if path.suffix.lower() != ".csv":
        raise DataError("--output", f"use a .csv or .json file name, got {path.name}")
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(names)
        for i in range(n):
            writer.writerow([plain(columns[k][i]) for k in names])


def plain(value: Any) -> Any:
    """NumPy scalars as Python values (for csv and orjson)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def finite_or_none(values: FloatArray) -> list[float | None]:
    """JSON has no NaN: map non-finite numbers to null."""
    return [float(v) if np.isfinite(v) else None for v in values]
