"""An in-memory set of the message keys already stored, for the process that writes.

Deduplication has no time window, so every append must know whether each (source, messageId)
was stored before — across everything ever stored. Asking the database means an index over all
keys, and DuckDB rewrites a primary-key index of random 128-bit keys whole at every checkpoint
(130 MB for 2M keys), which stalled every commit behind it. The writing process (DuckDB allows
one) keeps every stored key instead, as sorted NumPy arrays of its two 64-bit halves, and the
database keeps a plain, index-free list to rebuild them from. Keys are MD5 of source, unit
separator and message id, read as a little-endian 128-bit number: DuckDB's `md5_number`,
computed here in Python because a commit of a few hundred events costs less than one more
engine call.
"""

from __future__ import annotations

import hashlib
import threading

import numpy as np

# Capacity of each level before it merges into the next (the last level is unbounded).
LEVEL_SIZES = (16_384, 1_048_576)
_EMPTY = np.zeros(0, dtype=np.uint64)


def _contains(lows: np.ndarray, highs: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Which (low, high) keys are in the level; its lows are sorted, highs ride along."""
    if lows.size == 0:
        return np.zeros(low.size, dtype=bool)
    left = np.searchsorted(lows, low, side="left")
    right = np.searchsorted(lows, low, side="right")
    at = np.minimum(left, lows.size - 1)
    found = (right - left == 1) & (highs[at] == high)
    # Two stored keys sharing a low half: compare every high half of the run (vanishingly rare).
    for i in np.flatnonzero(right - left > 1).tolist():
        found[i] = bool(np.any(highs[left[i] : right[i]] == high[i]))
    return found


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
    into the next, so the writer never re-sorts millions of keys on its way to a commit. The
    merge into the last, unbounded level (a copy of everything stored) runs on a thread of its
    own; until it lands, the level being merged is still searched as it was."""

    def __init__(self, stored_high: np.ndarray, stored_low: np.ndarray) -> None:
        order = np.argsort(stored_low.astype(np.uint64))
        self._levels: list[tuple[np.ndarray, np.ndarray]] = [(_EMPTY, _EMPTY) for _ in LEVEL_SIZES]
        self._levels.append(
            (stored_low.astype(np.uint64)[order], stored_high.astype(np.uint64)[order])
        )
        self._frozen: tuple[np.ndarray, np.ndarray] = (_EMPTY, _EMPTY)  # being merged into the last
        self._merging: threading.Thread | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return int(sum(lows.size for lows, _ in self._snapshot()))

    def _snapshot(self) -> list[tuple[np.ndarray, np.ndarray]]:
        with self._lock:
            return [*self._levels, self._frozen]

    def stored(self, high: np.ndarray, low: np.ndarray) -> np.ndarray:
        """Per key: was exactly this 128-bit key stored?"""
        high, low = high.astype(np.uint64), low.astype(np.uint64)
        found = np.zeros(low.size, dtype=bool)
        for lows, highs in self._snapshot():
            found |= _contains(lows, highs, low, high)
        return found

    def add(self, high: np.ndarray, low: np.ndarray) -> None:
        """Record stored keys (one writer thread calls this)."""
        order = np.argsort(low.astype(np.uint64))
        low, high = low.astype(np.uint64)[order], high.astype(np.uint64)[order]
        with self._lock:
            self._levels[0] = _merged(self._levels[0], (low, high))
        last = len(LEVEL_SIZES)
        for i, size in enumerate(LEVEL_SIZES):
            if self._levels[i][0].size < size:
                break
            if i + 1 < last:
                with self._lock:
                    self._levels[i + 1] = _merged(self._levels[i + 1], self._levels[i])
                    self._levels[i] = (_EMPTY, _EMPTY)
            elif self._merging is None or not self._merging.is_alive():
                with self._lock:
                    self._frozen, self._levels[i] = self._levels[i], (_EMPTY, _EMPTY)
                self._merging = threading.Thread(
                    target=self._merge_last, name="clientcore-keyfilter", daemon=True
                )
                self._merging.start()
            # else: the level keeps growing until the running merge has landed

    def _merge_last(self) -> None:
        merged = _merged(self._levels[-1], self._frozen)
        with self._lock:
            self._levels[-1] = merged
            self._frozen = (_EMPTY, _EMPTY)

    def settle(self) -> None:
        """Wait for a merge in flight (tests and shutdown)."""
        if self._merging is not None:
            self._merging.join()


def _merged(
    into: tuple[np.ndarray, np.ndarray], keys: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """A sorted level with sorted keys inserted: one copy of the larger, no sort."""
    where = np.searchsorted(into[0], keys[0])
    return np.insert(into[0], where, keys[0]), np.insert(into[1], where, keys[1])
