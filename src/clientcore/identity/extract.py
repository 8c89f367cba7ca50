"""Identifiers of stored events: read in the engine, normalized once per distinct value.

The engine does the heavy part (reading JSON paths of millions of events) and hands over
(seq, timestamp, type, raw) rows, the type as the rule's position in the spec. Arrow encodes
the distinct (type, raw) pairs as integers; Python normalizes each of them once with the
libraries (phonenumbers, email-validator) — or, for ids already in canonical form, not at all —
and from there on every event's identifiers are integers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from clientcore.identity.normalize import EXPENSIVE, Normalizers
from clientcore.identity.parsing import parse_keys
from clientcore.identity.spec import IdentitySpec, Normalizer
from clientcore.store import Store

TIMESTAMP = pa.timestamp("us", tz="UTC")


def _json_text(backend: str, path: str) -> str:
    if backend == "postgres":
        parts = ",".join(path.removeprefix("$.").split("."))
        return f"(payload #>> '{{{parts}}}')"
    return f"json_extract_string(payload, '{path}')"


def extraction_sql(spec: IdentitySpec, backend: str) -> tuple[str, int]:
    """(seq, timestamp, type, raw) for every identifier of events with seq in (?, ?], with the
    number of statements the bounds are given to. `type` is the rule's rank in the spec.

    Every payload is read: parsing it costs less than searching its text for the keys first."""
    columns = [(rank, c) for rank, rule in enumerate(spec.identifiers) for c in rule.columns]
    found = [(rank, p) for rank, rule in enumerate(spec.identifiers) for p in rule.paths]
    if backend == "postgres":
        # One scan: each event row fans out into one row per column and path.
        values = ", ".join(
            [f"({rank}, e.{column})" for rank, column in columns]
            + [f"({rank}, {_json_text(backend, path)})" for rank, path in found]
        )
        sql = (
            "SELECT e.seq, e.timestamp, f.type, f.raw FROM events e "
            f"CROSS JOIN LATERAL (VALUES {values}) AS f(type, raw) "
            "WHERE e.seq > ? AND e.seq <= ? AND f.raw IS NOT NULL"
        )
        return sql, 1
    parts = [
        f"SELECT seq, timestamp, {rank} AS type, {column} AS raw FROM events "
        f"WHERE seq > ? AND seq <= ? AND {column} IS NOT NULL"
        for rank, column in columns
    ]
    if found:
        # Every path in one parse of each payload, then paired with its type.
        ranks = "[" + ", ".join(str(rank) for rank, _ in found) + "]"
        paths = "[" + ", ".join(f"'{path}'" for _, path in found) + "]"
        parts.append(
            "SELECT * FROM (SELECT seq, timestamp, unnest(" + ranks + ") AS type, "
            f"unnest(json_extract_string(payload, {paths})) AS raw "
            "FROM events WHERE seq > ? AND seq <= ?) AS found WHERE raw IS NOT NULL"
        )
    return " UNION ALL ".join(parts), len(parts)


def extract(store: Store, spec: IdentitySpec, after_seq: int, upto_seq: int) -> pa.Table:
    """Raw identifier occurrences (seq, timestamp, type, raw) of the events in
    (after_seq, upto_seq]."""
    sql, statements = extraction_sql(spec, store.backend)
    table = store.arrow(sql, [after_seq, upto_seq] * statements)
    schema = pa.schema(
        [("seq", pa.int64()), ("timestamp", TIMESTAMP), ("type", pa.int32()), ("raw", pa.string())]
    )
    if table.num_rows == 0:
        return schema.empty_table()
    return pa.table([table.column(i).cast(field.type) for i, field in enumerate(schema)], schema)


@dataclass(frozen=True)
class Identified:
    """The normalized identifiers of a range of events, as integers.

    `identifiers`: one row per distinct identifier (type, type_rank, value, first_seq — the
    first event that showed it). Then one entry per (event, identifier) the event showed,
    sorted by event: `seq`, `ident` (a row number of `identifiers`) and the event's
    `timestamp` (microseconds since the epoch, UTC)."""

    identifiers: pa.Table
    seq: np.ndarray
    ident: np.ndarray
    timestamp: np.ndarray


def _unchanged_by_strip(words: pa.Array) -> np.ndarray:
    """Which strings begin and end with a printable ASCII character other than a space: just
    the non-empty ones that `str.strip()` (normalize_text) returns unchanged."""
    words = words.cast(pa.large_string())
    n = len(words)
    _, offsets_buf, data_buf = words.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[words.offset : words.offset + n + 1]
    if data_buf is None or offsets[-1] == offsets[0]:
        return np.zeros(n, dtype=bool)
    data = np.frombuffer(data_buf, dtype=np.uint8)
    start, end = offsets[:-1], offsets[1:]
    filled = end > start
    first = data[np.where(filled, start, offsets[0])]
    last = data[np.where(filled, end - 1, offsets[0])]
    ok = filled & (first >= 0x21) & (first <= 0x7E) & (last >= 0x21) & (last <= 0x7E)
    if words.null_count:
        ok &= ~np.asarray(words.is_null())
    return ok


def _codes(column: pa.Array | pa.ChunkedArray | np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """Dictionary encoding: each row's code (int64), and the distinct values in code order."""
    if isinstance(column, np.ndarray):
        column = pa.array(column)
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column])
    encoded = pc.dictionary_encode(column)
    if encoded.num_chunks == 0 or len(encoded) == 0:
        return np.zeros(0, dtype=np.int64), pa.array([], column.type)
    dictionary = encoded.chunk(0).dictionary
    if any(not _same(chunk.dictionary, dictionary) for chunk in encoded.chunks[1:]):
        # Arrow gives every chunk the one dictionary of the whole column; should a version
        # not, unify (slow: it compares as many dictionaries as there are chunks).
        table = pa.table({"c": encoded}).unify_dictionaries()
        encoded = table.column("c")
        dictionary = encoded.chunk(0).dictionary
    codes = np.concatenate([chunk.indices.to_numpy() for chunk in encoded.chunks])
    return codes.astype(np.int64), dictionary


def _dense(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Each key's rank among the distinct keys, and those keys ascending: keys in [0, size)."""
    if size > 8 * keys.size + (1 << 20):  # sparse keys: hash them instead of marking slots
        codes, distinct = _codes(keys)
        order = np.argsort(distinct.to_numpy())
        rank = np.empty(order.size, dtype=np.int64)
        rank[order] = np.arange(order.size)
        return rank[codes], distinct.to_numpy()[order]
    present = np.zeros(size, dtype=bool)
    present[keys] = True
    rank = np.cumsum(present, dtype=np.int64) - 1
    return rank[keys], np.flatnonzero(present)


def _same(x: pa.Array, y: pa.Array) -> bool:
    """Equal arrays: at once when they share their buffers (as Arrow's chunks do)."""

    def where(array: pa.Array) -> list[int | None]:
        return [buffer.address if buffer else None for buffer in array.buffers()]

    if len(x) == len(y) and x.offset == y.offset and where(x) == where(y):
        return True
    return bool(x.equals(y))


def _normalized(
    types: np.ndarray, raws: pa.Array, kinds: list[Normalizer], normalizers: Normalizers
) -> pa.Array:
    """The normalized value of each distinct (type, raw), null when it does not normalize."""
    text = np.array([kind == "text" for kind in kinds], dtype=bool)
    # Ids already in canonical form need no Python: their value is the raw text itself.
    slow = np.flatnonzero(~(text[types] & _unchanged_by_strip(raws)))
    slow_kinds = [kinds[t] for t in types[slow].tolist()]
    slow_keys = [
        normalizers.key(kind, raw)
        for kind, raw in zip(slow_kinds, raws.take(pa.array(slow)).to_pylist(), strict=True)
    ]
    parse_keys(
        [(k, key) for k, key in zip(slow_kinds, slow_keys, strict=True) if k in EXPENSIVE],
        normalizers,
    )
    slow_values = [normalizers.by_key(k, key) for k, key in zip(slow_kinds, slow_keys, strict=True)]
    pick = np.arange(len(raws), dtype=np.int64)
    pick[slow] = len(raws) + np.arange(slow.size)
    both = pa.concat_arrays([raws.cast(pa.string()), pa.array(slow_values, pa.string())])
    return both.take(pa.array(pick))


def normalize_values(
    items: Sequence[tuple[str, str]], normalizers: Normalizers, region: str
) -> list[str | None]:
    """Normalized value of each (normalizer, raw) pair, None when it does not normalize; a
    long list's email and phone keys are parsed on two processes. `region` is the
    normalizers' own (reconcile's standardization calls this too)."""
    if region != normalizers.region:
        raise ValueError(f"the normalizers are for {normalizers.region}, not {region}")
    typed = [(cast(Normalizer, kind), raw) for kind, raw in items]
    keys = [(kind, normalizers.key(kind, raw)) for kind, raw in typed]
    parse_keys([(kind, key) for kind, key in keys if kind in EXPENSIVE], normalizers)
    return [normalizers.by_key(kind, key) for kind, key in keys]


def identify(occurrences: pa.Table, spec: IdentitySpec, normalizers: Normalizers) -> Identified:
    """Normalize `extract`'s rows into identifiers; values that do not normalize are dropped."""
    kinds: list[Normalizer] = [rule.normalize for rule in spec.identifiers]
    n_types = len(kinds)
    types = occurrences.column("type").to_numpy().astype(np.int64)
    # The distinct (type, raw) pairs, each normalized once.
    word, words = _codes(occurrences.column("raw"))
    pair, keys = _dense(word * n_types + types, len(words) * n_types)
    pair_type = keys % n_types
    values = _normalized(pair_type, words.take(pa.array(keys // n_types)), kinds, normalizers)
    # Spellings of one (type, value) are one identifier.
    kept = np.flatnonzero(np.asarray(values.is_valid()))
    value_code, value_words = _codes(values.take(pa.array(kept)))
    ident_of_kept, ident_np = _dense(
        value_code * n_types + pair_type[kept], len(value_words) * n_types
    )
    ident_of_pair = np.full(keys.size, -1, dtype=np.int64)
    ident_of_pair[kept] = ident_of_kept
    ident_of = ident_of_pair[pair]
    ident_type = ident_np % n_types
    seq, ident, stamp = _distinct_rows(
        occurrences.column("seq").to_numpy(),
        ident_of,
        _micros(occurrences.column("timestamp")),
        ident_np.size,
    )
    first_seq = np.full(ident_np.size, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_seq, ident, seq)
    names = pa.array([rule.type for rule in spec.identifiers], pa.string())
    identifiers = pa.table(
        {
            "type": names.take(pa.array(ident_type)),
            "type_rank": pa.array(ident_type, pa.int64()),
            "value": value_words.take(pa.array(ident_np // n_types)).cast(pa.string()),
            "first_seq": pa.array(first_seq, pa.int64()),
        }
    )
    return Identified(identifiers, seq, ident, stamp)


def _micros(column: pa.ChunkedArray) -> np.ndarray:
    return column.cast(TIMESTAMP).cast(pa.int64()).to_numpy()


def _distinct_rows(
    seq: np.ndarray, ident: np.ndarray, stamp: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (seq, ident) rows with ident >= 0, sorted by (seq, ident), with each
    event's timestamp."""
    if seq.size == 0 or n == 0:
        none = np.zeros(0, dtype=np.int64)
        return none, none.copy(), none.copy()
    low = int(seq.min())
    span = int(seq.max()) - low + 1
    if span <= 4 * seq.size + 1024 and span <= np.iinfo(np.int64).max // n:
        # Events are numbered densely: one sort of a packed key, timestamps by event number.
        offset = seq - low
        stamp_of = np.empty(span, dtype=np.int64)
        stamp_of[offset] = stamp  # every occurrence of an event carries the event's timestamp
        key = offset * n + ident
        key = key[ident >= 0]
        key.sort()
        key = key[_run_starts(key)]
        offset, ident = np.divmod(key, n)
        return offset + low, ident, stamp_of[offset]
    keep = ident >= 0
    seq, ident, stamp = seq[keep], ident[keep], stamp[keep]
    order = np.lexsort((ident, seq))
    seq, ident, stamp = seq[order], ident[order], stamp[order]
    head = _run_starts(seq, ident)
    return seq[head], ident[head], stamp[head]


def _run_starts(*columns: np.ndarray) -> np.ndarray:
    """Of sorted rows, those that differ from the row before: where each run begins."""
    starts = np.ones(columns[0].size, dtype=bool)
    if starts.size > 1:
        differs = starts[1:]
        differs[:] = False
        for column in columns:
            differs |= column[1:] != column[:-1]
    return starts
