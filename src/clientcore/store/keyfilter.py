"""An in-memory filter of the message keys already stored, for the process that writes.

Deduplication has no time window, so every append must know whether each (source, messageId)
was stored before — across everything ever stored. Asking the database means an anti-join over
all keys per commit, which grows with the log. The writing process (DuckDB allows one) keeps
the low 64 bits of every stored key instead, as sorted NumPy arrays. A miss proves the event is
new; a hit (a retry, almost always) is confirmed against the exact 128-bit key in the database,
so a 64-bit coincidence can never drop an event. Keys are MD5 of source, unit separator and
message id, read as a little-endian 128-bit number: DuckDB's `md5_number`, computed here in
Python because a commit of a few hundred events costs less than one more engine call.
"""

from __future__ import annotations

import hashlib

import numpy as np

# Capacity of each level before it merges into the next (the last level is unbounded).
LEVEL_SIZES = (16_384, 1_048_576)


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    if sorted_keys.size == 0:
        return np.zeros(keys.size, dtype=bool)
    where = np.searchsorted(sorted_keys, keys)
    where[where == sorted_keys.size] = 0
    return np.asarray(sorted_keys[where] == keys)


def hash_message_keys(
    sources: list[str], message_ids: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(high, low, position) of each distinct key, at its first position in the batch."""
    first: dict[bytes, int] = {}
    for position, (source, message_id) in enumerate(zip(sources, message_ids, strict=True)):
        digest = hashlib.md5(f"{source}\x1f{message_id}".encode(), usedforsecurity=False).digest()
        first.setdefault(digest, position)
    halves = np.frombuffer(b"".join(first), dtype="<u8").reshape(-1, 2)
    positions = np.fromiter(first.values(), dtype=np.int64, count=len(first))
    return halves[:, 1].astype(np.uint64), halves[:, 0].astype(np.uint64), positions


class KeyFilter:
    """Sorted levels, smallest first: a commit inserts into the first, and a full level merges
    into the next, so the writer never re-sorts millions of keys on its way to a commit."""

    def __init__(self, stored_low64: np.ndarray) -> None:
        self._levels = [np.zeros(0, dtype=np.uint64) for _ in LEVEL_SIZES]
        self._levels.append(np.sort(stored_low64.astype(np.uint64)))

    def __len__(self) -> int:
        return int(sum(level.size for level in self._levels))

    def maybe_stored(self, low64: np.ndarray) -> np.ndarray:
        """Per key: False means certainly new; True means look it up exactly."""
        keys = low64.astype(np.uint64)
        found = np.zeros(keys.size, dtype=bool)
        for level in self._levels:
            found |= _contains(level, keys)
        return found

    def add(self, low64: np.ndarray) -> None:
        keys = np.sort(low64.astype(np.uint64))
        first = self._levels[0]
        self._levels[0] = np.insert(first, np.searchsorted(first, keys), keys)
        for i, size in enumerate(LEVEL_SIZES):
            if self._levels[i].size < size:
                break
            # Two sorted runs: the stable sort (timsort) merges them in linear time.
            merged = np.concatenate([self._levels[i + 1], self._levels[i]])
            self._levels[i + 1] = np.sort(merged, kind="stable")
            self._levels[i] = np.zeros(0, dtype=np.uint64)
