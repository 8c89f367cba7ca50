"""An in-memory filter of the message keys already stored, for the process that writes.

Deduplication has no time window, so every append must know whether each (source, messageId)
was stored before — across everything ever stored. Asking the database means an anti-join over
all keys per commit, which grows with the log. The writing process (DuckDB allows one) keeps
the low 64 bits of every stored key instead: a sorted array plus a set of recent additions.
A miss proves the event is new; a hit (a retry, almost always) is confirmed against the exact
128-bit key in the database, so a 64-bit coincidence can never drop an event.
"""

from __future__ import annotations

import hashlib

import numpy as np

_MASK = (1 << 64) - 1
MERGE_EVERY = 200_000


def message_key(source: str, message_id: str) -> int:
    """The 128-bit key of an event: MD5 of source, unit separator, message id (as DuckDB's
    md5_number computes it, so keys written either way agree)."""
    digest = hashlib.md5(f"{source}\x1f{message_id}".encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest, "little")


class KeyFilter:
    def __init__(self, stored_low64: np.ndarray) -> None:
        self._sorted = np.sort(stored_low64.astype(np.uint64))
        self._recent: set[int] = set()

    def __len__(self) -> int:
        return int(self._sorted.size) + len(self._recent)

    def maybe_stored(self, keys: list[int]) -> list[bool]:
        """For each key: False means certainly new; True means look it up exactly."""
        if not keys:
            return []
        low = np.fromiter((k & _MASK for k in keys), dtype=np.uint64, count=len(keys))
        hits = np.zeros(len(keys), dtype=bool)
        if self._sorted.size:
            where = np.searchsorted(self._sorted, low)
            where[where == self._sorted.size] = 0
            hits = self._sorted[where] == low
        recent = self._recent
        return [bool(h) or (k & _MASK) in recent for h, k in zip(hits, keys, strict=True)]

    def add(self, keys: list[int]) -> None:
        self._recent.update(k & _MASK for k in keys)
        if len(self._recent) >= MERGE_EVERY:
            merged = np.fromiter(self._recent, dtype=np.uint64, count=len(self._recent))
            self._sorted = np.sort(np.concatenate([self._sorted, merged]))
            self._recent = set()
