"""The integer plumbing of identify: dense codes and distinct (event, identifier) rows."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clientcore.identity.extract import TIMESTAMP, _dense, _distinct_rows, identify
from clientcore.identity.normalize import Normalizers
from clientcore.identity.spec import DEFAULT_SPEC


@given(st.lists(st.integers(0, 40), max_size=60), st.sampled_from([41, 1 << 22]))
def test_dense_codes_rank_the_distinct_keys(keys: list[int], size: int) -> None:
    """Both ways (marking slots, or hashing when the slots would be sparse)."""
    array = np.array(keys, dtype=np.int64)
    codes, distinct = _dense(array, size)
    assert distinct.tolist() == sorted(set(keys))
    assert distinct[codes].tolist() == keys


@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(-1, 5)), max_size=60),
    st.sampled_from([1, 10**9]),  # dense event numbers, or far apart (no table by number)
)
def test_distinct_rows_drop_duplicates_and_unknowns_and_keep_timestamps(
    rows: list[tuple[int, int]], spread: int
) -> None:
    seq = np.array([s * spread for s, _ in rows], dtype=np.int64)
    ident = np.array([i for _, i in rows], dtype=np.int64)
    stamp = seq * 7 + 3
    got_seq, got_ident, got_stamp = _distinct_rows(seq, ident, stamp, 6)
    expected = sorted({(s * spread, i) for s, i in rows if i >= 0})
    assert list(zip(got_seq.tolist(), got_ident.tolist(), strict=True)) == expected
    assert got_stamp.tolist() == [s * 7 + 3 for s, _ in expected]


def _occurrences(rows: list[tuple[int, str]]) -> pa.Table:
    return pa.table(
        {
            "seq": pa.array(range(1, len(rows) + 1), pa.int64()),
            "timestamp": pa.array([0] * len(rows), TIMESTAMP),
            "type": pa.array([rank for rank, _ in rows], pa.int32()),
            "raw": pa.array([raw for _, raw in rows], pa.string()),
        }
    )


@pytest.mark.parametrize("rows", [[], [(2, "0000000000"), (1, "no-at-sign"), (0, "  ")]])
def test_no_identifier_at_all(rows: list[tuple[int, str]]) -> None:
    """No events, or only values that do not normalize: no identifiers, no rows."""
    found = identify(_occurrences(rows), DEFAULT_SPEC, Normalizers("US"))
    assert found.identifiers.num_rows == 0
    assert found.seq.size == found.ident.size == found.timestamp.size == 0
