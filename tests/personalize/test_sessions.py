"""Visits: the anonymousId cut at 30-minute pauses."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from clientcore.personalize.sessions import SESSION_GAP_SECONDS, current_session, session_ids

GAP = SESSION_GAP_SECONDS


def test_cuts_at_pauses_and_keys() -> None:
    anon = np.array([0, 0, 0, 1, -1, -1])
    profile = np.array([-1, -1, -1, -1, 7, 7])
    t = np.array([0.0, 60, 60 + GAP + 1, 30, 0, 100])
    ids = session_ids(anon, profile, t)
    assert ids[0] == ids[1] != ids[2]
    assert ids[3] not in (ids[0], ids[2])
    assert ids[4] == ids[5]  # no anonymousId: the profile's own visit


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 10 * GAP), min_size=1, max_size=30))
def test_session_ids_do_not_depend_on_row_order(times: list[float]) -> None:
    t = np.array(times)
    anon = np.arange(len(t)) % 2
    profile = np.full(len(t), -1)
    ids = session_ids(anon, profile, t)
    order = np.random.default_rng(0).permutation(len(t))
    again = session_ids(anon[order], profile[order], t[order])
    same = ids[:, None] == ids[None, :]
    same_again = again[:, None] == again[None, :]
    assert (same[np.ix_(order, order)] == same_again).all()


def test_current_session_is_the_open_trailing_run() -> None:
    t = np.array([0.0, 100, 100 + GAP + 5, 200 + GAP])
    assert current_session(t, now=300 + GAP).tolist() == [False, False, True, True]
    assert not current_session(t, now=200 + 2 * GAP + 1).any()  # closed by inactivity
    assert current_session(np.zeros(0), now=0.0).size == 0
