"""Identifiers of stored events, read in the engine and normalized in Python per distinct value.

The engine does the heavy part (reading JSON paths of millions of events); Python normalizes
each distinct raw value once, with the libraries (phonenumbers, email-validator).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

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


# Above this many emails and phones to parse, half are parsed in a second process: parsing is
# the largest step of a rebuild and the libraries are pure Python (one core each).
PARALLEL_ABOVE = 50_000
_EXPENSIVE = ("email", "phone")


def _normalize_chunk(region: str, items: list[tuple[str, str]]) -> list[str | None]:
    normalizers = Normalizers(region)
    return [normalizers(kind, raw) for kind, raw in items]  # type: ignore[arg-type]


def normalize_values(
    items: list[tuple[str, str]], normalizers: Normalizers, region: str
) -> list[str | None]:
    """Normalized value of each (normalizer, raw) pair, None when it does not normalize."""
    expensive = [i for i, (kind, _) in enumerate(items) if kind in _EXPENSIVE]
    if len(expensive) < PARALLEL_ABOVE:
        return [normalizers(kind, raw) for kind, raw in items]  # type: ignore[arg-type]
    out: list[str | None] = [None] * len(items)
    for i, (kind, raw) in enumerate(items):
        if kind not in _EXPENSIVE:
            out[i] = normalizers(kind, raw)  # type: ignore[arg-type]
    # Sorted, so that spellings of one number or address tend to land in the same half and
    # share its cache. Spawned, not forked: the engine's threads must not be copied.
    expensive.sort(key=lambda i: items[i])
    half = len(expensive) // 2
    theirs, mine = expensive[:half], expensive[half:]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        future = pool.submit(_normalize_chunk, region, [items[i] for i in theirs])
        for i in mine:
            out[i] = normalizers(items[i][0], items[i][1])  # type: ignore[arg-type]
        for i, value in zip(theirs, future.result(), strict=True):
            out[i] = value
    return out


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
    normalized = normalize_values(
        [(kinds[kind], raw) for kind, raw in distinct], normalizers, spec.default_region
    )
    types, raws, values = [], [], []
    for (kind, raw), value in zip(distinct, normalized, strict=True):
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
