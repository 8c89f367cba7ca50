"""The writer's set of stored message keys: whatever the order of adds and merges between its
levels (the last one on a thread of its own), it answers exactly "this 128-bit key was stored"
— no misses, and no false alarms even when two keys share a 64-bit half."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from clientcore.store import keyfilter
from clientcore.store.keyfilter import KeyFilter

# Halves from a small range, so that keys often share one half and differ in the other.
_half = st.integers(min_value=0, max_value=6) | st.integers(min_value=0, max_value=2**64 - 1)
_keys = st.lists(st.tuples(_half, _half), max_size=12)


def _arrays(keys: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    high = np.array([h for h, _ in keys], dtype=np.uint64)
    low = np.array([lo for _, lo in keys], dtype=np.uint64)
    return high, low


@settings(max_examples=80, deadline=None)
@given(stored=_keys, commits=st.lists(_keys, max_size=25), probes=_keys, settle=st.booleans())
def test_the_set_answers_exactly_whatever_the_merges(
    stored: list[tuple[int, int]],
    commits: list[list[tuple[int, int]]],
    probes: list[tuple[int, int]],
    settle: bool,
) -> None:
    levels = keyfilter.LEVEL_SIZES
    keyfilter.LEVEL_SIZES = (4, 16)  # tiny levels: merges happen within a few commits
    try:
        stored = list(dict.fromkeys(stored))  # the database holds each key once
        known = KeyFilter(*_arrays(stored))
        seen = set(stored)
        for keys in commits:
            fresh = [key for key in dict.fromkeys(keys) if key not in seen]
            known.add(*_arrays(fresh))
            seen.update(fresh)
        if settle:
            known.settle()
        asked = sorted(seen)[:20] + probes
        answer = known.stored(*_arrays(asked)).tolist()
        known.settle()
        size = len(known)
    finally:
        keyfilter.LEVEL_SIZES = levels
    assert answer == [key in seen for key in asked]
    assert size == len(seen)
