"""The edges of the identity graph from the events' identifiers, in NumPy.

An edge is a distinct pair of identifiers (a < b) seen together in some event, stamped with
the first such event. Events hold few identifiers (most two or three), so the pairs of all
events of one size come out of a few column gathers, and one sort finds the distinct ones:
much less work than the engine's self-join of the events on their number.
"""

from __future__ import annotations

import numpy as np

IntArray = np.ndarray


def event_pairs(seq: IntArray, ids: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Every pair of identifiers in one event: (a, b, seq) with a < b, from rows (seq, id)
    that are distinct and grouped by event (sorted by seq)."""
    if seq.size < 2:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy()
    start = np.flatnonzero(np.r_[True, seq[1:] != seq[:-1]])
    size = np.diff(np.r_[start, seq.size])
    counts = np.bincount(size)
    sizes = np.flatnonzero(counts[2:]) + 2
    total = int((counts[sizes] * sizes * (sizes - 1) // 2).sum())
    a = np.empty(total, dtype=np.int64)
    b = np.empty(total, dtype=np.int64)
    at = np.empty(total, dtype=np.int64)
    done = 0
    for k in sizes.tolist():
        rows = start[size == k][:, None]
        i, j = np.triu_indices(k, 1)
        x, y = ids[rows + i], ids[rows + j]  # one row per event, one column per pair
        part = slice(done, done + x.size)
        np.minimum(x, y, out=a[part].reshape(x.shape))
        np.maximum(x, y, out=b[part].reshape(x.shape))
        at[part] = np.repeat(seq[rows[:, 0]], i.size)
        done += x.size
    return a, b, at


def distinct_pairs(
    a: IntArray, b: IntArray, seq: IntArray, n: int
) -> tuple[IntArray, IntArray, IntArray]:
    """The distinct pairs among (a, b) < n, each with its smallest seq, sorted by (a, b)."""
    if a.size == 0:
        return a, b, seq
    key = a * n + b
    order = np.argsort(key)
    key = key[order]
    head = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    first = np.minimum.reduceat(seq[order], head)
    key = key[head]
    return key // n, key % n, first


def identifier_pairs(seq: IntArray, ids: IntArray, n: int) -> tuple[IntArray, IntArray, IntArray]:
    """The graph's edges (a, b, first_seq) from distinct (seq, id) rows sorted by seq, ids < n."""
    if n and (n - 1) > np.iinfo(np.int64).max // n:  # pragma: no cover - 3 billion identifiers
        raise OverflowError("too many identifiers for one pair key")
    return distinct_pairs(*event_pairs(seq, ids), n)
