"""`clientcore import customers`: a CRM export into standardized customer records.

Idempotent on (source, record_id): importing a file again changes nothing; a record whose
row changed is updated (and its links are worked out again by the next `reconcile run`).
Each record keeps its raw row, so an explanation can show what the CRM really said. Rows are
reported with their 1-based data row number when they cannot be taken (no record id, the
same record id twice in one file).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv

from clientcore.reconcile import MappingError, UnknownRecordError
from clientcore.reconcile.fields import RECORD_FIELDS
from clientcore.reconcile.mapping import resolve_mapping
from clientcore.reconcile.standardize import standardize
from clientcore.store import Store

MAX_ERRORS_KEPT = 1000
_DELETE_CHUNK = 1000


@dataclass
class CustomerImportReport:
    path: str
    source: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    # Values that were present but did not standardize (an e-mail without a domain…).
    unparsed: dict[str, int] = field(default_factory=dict)
    mapping: dict[str, str] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def read_header(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError) as error:
        raise MappingError(f"{path.name} is not a readable CSV file: {error}", "FILE") from error
    if not header:
        raise MappingError(f"{path.name} is empty", "FILE")
    return [name.strip() for name in header]


def _read_rows(path: Path, header: list[str], columns: list[str]) -> pa.Table:
    try:
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                include_columns=columns,
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, OSError) as error:
        raise MappingError(f"{path.name} is not a readable CSV file: {error}", "FILE") from error


def import_customers(
    store: Store,
    path: Path,
    source: str,
    mapping_path: Path | None = None,
    map_options: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CustomerImportReport:
    """Read, map, standardize and upsert one export; `progress(done, total)` is in rows."""
    started = time.perf_counter()
    if not path.is_file():
        raise MappingError(f"no such file: {path}", "FILE")
    if not source or not source.replace("_", "").replace("-", "").isalnum():
        raise MappingError("--source must be a name of letters, digits, - and _", "source")
    header = read_header(path)
    mapping = resolve_mapping(source, header, mapping_path, map_options)
    report = CustomerImportReport(str(path), source, mapping=dict(mapping.columns))
    table = _read_rows(path, header, list(mapping.columns))
    n = table.num_rows
    report.rows = n
    if progress:
        progress(0, n)
    raw: dict[str, list[str | None]] = {
        target: [v.strip() if v else None for v in table.column(column).to_pylist()]
        for column, target in mapping.columns.items()
    }
    keep = _valid_rows(raw["record_id"], report)
    std = standardize(raw, mapping)
    for target, values in raw.items():
        if target in std and target not in ("full_name",):
            lost = sum(1 for i in keep if values[i] and std[target][i] is None)
            if lost:
                report.unparsed[target] = lost
    if progress:
        progress(n // 2, n)
    rows_json = _raw_json(table, keep)
    incoming = pa.table(
        {
            "source": pa.array([source] * len(keep), pa.string()),
            "record_id": pa.array([raw["record_id"][i] for i in keep], pa.string()),
            **{name: pa.array([std[name][i] for i in keep], pa.string()) for name in RECORD_FIELDS},
            "raw": pa.array(rows_json, pa.string()),
        }
    )
    _upsert(store, source, incoming, report)
    report.seconds = round(time.perf_counter() - started, 3)
    if progress:
        progress(n, n)
    return report


def _valid_rows(ids: list[str | None], report: CustomerImportReport) -> list[int]:
    """Rows to take: a record id is required; when one repeats, its last row wins."""
    last: dict[str, int] = {}
    for i, record_id in enumerate(ids):
        if not record_id:
            _reject(report, i + 1, "record_id", "is empty")
            continue
        if record_id in last:
            _reject(report, last[record_id] + 1, "record_id", f"repeated at row {i + 1}")
        last[record_id] = i
    return sorted(last.values())


def _reject(report: CustomerImportReport, row: int, column: str, reason: str) -> None:
    report.rejected += 1
    if len(report.errors) < MAX_ERRORS_KEPT:
        report.errors.append({"row": row, "field": column, "reason": reason})


def _raw_json(table: pa.Table, keep: list[int]) -> list[str]:
    names = table.column_names
    columns = [table.column(name).to_pylist() for name in names]
    return [
        orjson.dumps(
            {name: columns[j][i] for j, name in enumerate(names) if columns[j][i]}
        ).decode()
        for i in keep
    ]


def _upsert(store: Store, source: str, incoming: pa.Table, report: CustomerImportReport) -> None:
    """New records get the next keys; changed ones are replaced under their key."""
    existing = store.arrow(
        "SELECT record_id, record_key, raw FROM customer_records WHERE source = ?", [source]
    )
    next_key, batch = store.query(
        "SELECT coalesce(max(record_key), 0) + 1, coalesce(max(import_batch), 0) + 1 "
        "FROM customer_records"
    )[0]
    compute = duckdb.connect(":memory:")
    compute.register("incoming", incoming)
    compute.register("existing", existing)
    columns = ", ".join(["source", "record_id", *RECORD_FIELDS, "raw"])
    staged = compute.sql(
        f"""SELECT coalesce(e.record_key, ? + row_number() OVER (
                       PARTITION BY e.record_key IS NULL ORDER BY i.record_id) - 1) AS record_key,
                   {", ".join("i." + c for c in columns.split(", "))},
                   ?::BIGINT AS import_batch, e.record_key IS NOT NULL AS known
            FROM incoming i LEFT JOIN existing e USING (record_id)
            WHERE e.raw IS NULL OR e.raw <> i.raw""",
        params=[int(next_key), int(batch)],
    ).to_arrow_table()
    compute.close()
    known = staged.column("known").to_pylist()
    report.updated = sum(known)
    report.inserted = staged.num_rows - report.updated
    report.unchanged = incoming.num_rows - staged.num_rows
    if not staged.num_rows:
        return
    replaced = [
        key for key, k in zip(staged.column("record_key").to_pylist(), known, strict=True) if k
    ]
    with store.transaction():
        for start in range(0, len(replaced), _DELETE_CHUNK):
            chunk = replaced[start : start + _DELETE_CHUNK]
            store.execute(
                f"DELETE FROM customer_records WHERE record_key IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
        store.write_table("customer_records", staged.drop_columns(["known"]))


def record_key(store: Store, reference: str) -> int:
    """The key of `SOURCE:RECORD_ID` (the record id may itself contain colons)."""
    source, sep, record_id = reference.partition(":")
    if not sep or not source or not record_id:
        raise UnknownRecordError(f"records are named SOURCE:RECORD_ID; got {reference!r}", "record")
    rows = store.query(
        "SELECT record_key FROM customer_records WHERE source = ? AND record_id = ?",
        [source, record_id],
    )
    if not rows:
        raise UnknownRecordError(f"no imported record {reference}", "record")
    return int(rows[0][0])
