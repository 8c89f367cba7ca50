"""The writer's filter of stored message keys: whatever the order of adds and merges between
its levels, it answers exactly "this low half was stored" (no misses, no false alarms)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from clientcore.store import keyfilter
from clientcore.store.keyfilter import KeyFilter

_keys = st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=12)


@settings(max_examples=80, deadline=None)
@given(stored=_keys, commits=st.lists(_keys, max_size=25), probes=_keys)
def test_filter_answers_exactly_whatever_the_merges(
    stored: list[int], commits: list[list[int]], probes: list[int]
) -> None:
    levels = keyfilter.LEVEL_SIZES
    keyfilter.LEVEL_SIZES = (4, 16)  # tiny levels: merges happen within a few commits
    try:
        known = KeyFilter(np.array(stored, dtype=np.uint64))
        seen = set(stored)
        for keys in commits:
            known.add(np.array(keys, dtype=np.uint64))
            seen.update(keys)
        asked = sorted(seen)[:20] + probes
        answer = known.maybe_stored(np.array(asked, dtype=np.uint64)).tolist()
    finally:
        keyfilter.LEVEL_SIZES = levels
    assert answer == [key in seen for key in asked]
    assert len(known) == len(stored) + sum(len(keys) for keys in commits)
