"""Identifiers of stored events, read in the engine and normalized in Python per distinct value.

The engine does the heavy part (reading JSON paths of millions of events); Python normalizes
each distinct raw value once, with the libraries (phonenumbers, email-validator).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from clientcore.identity.normalize import Normalizers
from clientcore.identity.spec import IdentitySpec
from clientcore.store import Store


def _json_text(backend: str, path: str) -> str:
    if backend == "postgres":
        parts = ",".join(path.removeprefix("$.").split("."))
        return f"(payload #>> '{{{parts}}}')"
    return f"json_extract_string(payload, '{path}')"


def _payload_text(backend: str) -> str:
    return "payload::TEXT" if backend == "postgres" else "payload::VARCHAR"


def extraction_sql(spec: IdentitySpec, backend: str) -> str:
    """(seq, timestamp, type, raw) for every identifier of events with seq in (?, ?]."""
    parts: list[str] = []
    for rule in spec.identifiers:
        for column in rule.columns:
            parts.append(
                f"SELECT seq, timestamp, '{rule.type}' AS type, {column} AS raw FROM events "
                f"WHERE seq > ? AND seq <= ? AND {column} IS NOT NULL"
            )
    # Read JSON only from events whose text mentions one of the keys (most events do not).
    keys = sorted({path.rsplit(".", 1)[1] for rule in spec.identifiers for path in rule.paths})
    mentions = " OR ".join(f"strpos({_payload_text(backend)}, '\"{key}\"') > 0" for key in keys)
    found = [(rule.type, path) for rule in spec.identifiers for path in rule.paths]
    if backend == "postgres":
        for kind, path in found:
            parts.append(
                f"SELECT seq, timestamp, '{kind}' AS type, {_json_text(backend, path)} AS raw "
                f"FROM events WHERE seq > ? AND seq <= ? AND ({mentions or 'FALSE'})"
            )
    elif found:
        # DuckDB reads every path in one parse of each payload, then pairs them with types.
        kinds = "[" + ", ".join(f"'{kind}'" for kind, _ in found) + "]"
        paths = "[" + ", ".join(f"'{path}'" for _, path in found) + "]"
        parts.append(
            f"SELECT seq, timestamp, unnest({kinds}) AS type, "
            f"unnest(json_extract_string(payload, {paths})) AS raw "
            f"FROM events WHERE seq > ? AND seq <= ? AND ({mentions})"
        )
    return " UNION ALL ".join(parts)


def extract(store: Store, spec: IdentitySpec, after_seq: int, upto_seq: int) -> pa.Table:
    """Raw identifier occurrences of the events in (after_seq, upto_seq]."""
    sql = extraction_sql(spec, store.backend)
    n_parts = sql.count(" UNION ALL ") + 1
    params: list[int] = [after_seq, upto_seq] * n_parts
    table = store.arrow(f"SELECT * FROM ({sql}) AS found WHERE raw IS NOT NULL", params)
    return table


def normalize_occurrences(
    occurrences: pa.Table,
    spec: IdentitySpec,
    normalizers: Normalizers,
) -> pa.Table:
    """(seq, timestamp, type, value, type_rank): values that do not normalize are dropped."""
    compute = duckdb.connect(":memory:")
    compute.register("occ", occurrences)
    distinct = compute.sql("SELECT DISTINCT type, raw FROM occ").fetchall()
    kinds = {rule.type: rule.normalize for rule in spec.identifiers}
    types, raws, values = [], [], []
    for kind, raw in distinct:
        value = normalizers(kinds[kind], raw)  # type: ignore[arg-type]
        if value is None:
            continue
        types.append(kind)
        raws.append(raw)
        values.append(value)
    mapping = pa.table(
        {
            "type": pa.array(types, pa.string()),
            "raw": pa.array(raws, pa.string()),
            "value": pa.array(values, pa.string()),
        }
    )
    compute.register("mapping", mapping)
    result = compute.sql(
        "SELECT DISTINCT o.seq, o.timestamp, m.type, m.value FROM occ o "
        "JOIN mapping m ON o.type = m.type AND o.raw = m.raw"
    ).to_arrow_table()
    compute.close()
    rank = {rule.type: i for i, rule in enumerate(spec.identifiers)}
    ranks = pc.cast(
        pc.index_in(result.column("type"), value_set=pa.array(list(rank), pa.string())), pa.int64()
    )
    return result.append_column("type_rank", ranks)
