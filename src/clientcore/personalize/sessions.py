"""Sessions: a visitor's run of events on one anonymousId without a 30-minute pause.

The analytics SDKs keep one anonymousId per browser or app install for months, so the id
alone is not a visit; the usual inactivity cut (Google Analytics, Segment's session tools)
splits it. Events without an anonymousId (a call-center order keyed by userId) form sessions
of their profile instead.
"""

from __future__ import annotations

import numpy as np

from clientcore.personalize.data import Interactions

SESSION_GAP_SECONDS = 30 * 60


def session_ids(
    anon: np.ndarray, profile: np.ndarray, t: np.ndarray, gap: float = SESSION_GAP_SECONDS
) -> np.ndarray:
    """A session number per row (rows in any order); equal numbers mean one visit."""
    n = len(t)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    key = np.where(anon >= 0, anon, -2 - profile)  # visitor: anonymousId, else the profile
    order = np.lexsort((t, key))
    k, tt = key[order], t[order]
    starts = np.ones(n, dtype=bool)
    starts[1:] = (k[1:] != k[:-1]) | (tt[1:] - tt[:-1] > gap)
    number = np.cumsum(starts) - 1
    out = np.empty(n, dtype=np.int64)
    out[order] = number
    return out


def sessions_of(data: Interactions, gap: float = SESSION_GAP_SECONDS) -> np.ndarray:
    return session_ids(data.anon, data.profile, data.t, gap)


def current_session(t: np.ndarray, now: float, gap: float = SESSION_GAP_SECONDS) -> np.ndarray:
    """Which of one visitor's events (times `t`, any order) belong to the visit going on at
    `now`: the trailing run without a pause longer than `gap`, if it is still open."""
    if len(t) == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(t, kind="stable")
    tt = t[order]
    if now - tt[-1] > gap:
        return np.zeros(len(t), dtype=bool)
    breaks = np.flatnonzero(np.diff(tt) > gap)
    first = int(breaks[-1]) + 1 if len(breaks) else 0
    mask = np.zeros(len(t), dtype=bool)
    mask[order[first:]] = True
    return mask
