"""Times of day: people shop online in the evening and in stores during opening hours."""

from __future__ import annotations

import numpy as np

from clientcore.demo.config import DAY_MS

#: Local-hour weights of online and store activity (shifted to UTC by ``UTC_OFFSET_H``).
_ONLINE_HOURS = np.array(
    [2, 1, 1, 1, 1, 1, 2, 4, 6, 7, 7, 7, 8, 8, 7, 7, 7, 8, 9, 11, 12, 11, 8, 4], dtype=float
)
_STORE_HOURS = np.array(
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 8, 10, 10, 9, 9, 10, 11, 10, 8, 5, 2, 0, 0], dtype=float
)
UTC_OFFSET_H = 5


def snap_time_of_day(rng: np.random.Generator, t_ms: np.ndarray, store: np.ndarray) -> np.ndarray:
    """Keep the day, draw a realistic time of day (store opening hours for store visits)."""
    n = len(t_ms)
    online = rng.choice(24, size=n, p=_ONLINE_HOURS / _ONLINE_HOURS.sum())
    in_store = rng.choice(24, size=n, p=_STORE_HOURS / _STORE_HOURS.sum())
    hour = (np.where(store, in_store, online) + UTC_OFFSET_H) % 24
    return (t_ms // DAY_MS) * DAY_MS + hour * 3_600_000 + rng.integers(0, 3_600_000, n)
