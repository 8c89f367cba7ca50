"""RFM golden cases: tie-aware quintile scores and the named segments of the (R, F) grid."""

from __future__ import annotations

import numpy as np
import pytest

from clientcore.value.rfm import GRID, SEGMENTS, quintile_scores, rfm, segment


def test_quintile_scores_golden() -> None:
    assert quintile_scores([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).tolist() == [
        1, 1, 2, 2, 3, 3, 4, 4, 5, 5,
    ]  # fmt: skip
    # Ties share a score: six one-order customers all score 1, nobody is split at random.
    assert quintile_scores([1, 1, 1, 1, 1, 1, 2, 2, 3, 7]).tolist() == [
        1, 1, 1, 1, 1, 1, 4, 4, 5, 5,
    ]  # fmt: skip
    # Recency: fewer days since the last order is better.
    assert quintile_scores([5, 400, 30, 30, 90], higher_is_better=False).tolist() == [5, 1, 3, 3, 2]
    assert quintile_scores([]).tolist() == []
    assert quintile_scores([7.0]).tolist() == [1]


@pytest.mark.parametrize(
    ("r", "f", "name"),
    [
        (5, 5, "Champions"),
        (5, 4, "Champions"),
        (4, 5, "Loyal"),
        (3, 4, "Loyal"),
        (5, 1, "New"),
        (4, 1, "Promising"),
        (5, 3, "Promising"),
        (3, 3, "Need Attention"),
        (3, 1, "About to Sleep"),
        (2, 3, "At Risk"),
        (1, 4, "At Risk"),
        (1, 5, "Can't Lose Them"),
        (2, 5, "Can't Lose Them"),
        (2, 2, "Hibernating"),
        (1, 2, "Hibernating"),
        (1, 1, "Lost"),
    ],
)
def test_segment_golden(r: int, f: int, name: str) -> None:
    assert segment(r, f) == name


def test_grid_uses_every_segment_and_nothing_else() -> None:
    used = {name for row in GRID for name in row}
    assert used == set(SEGMENTS)
    assert all(len(row) == 5 for row in GRID)
    assert len(GRID) == 5


def test_rfm_end_to_end() -> None:
    ids = np.arange(10)
    recency = [1, 2, 3, 4, 5, 300, 310, 320, 330, 340]
    frequency = [9, 8, 1, 1, 1, 9, 8, 1, 1, 1]
    monetary = [900, 800, 50, 40, 30, 950, 700, 20, 10, 5]
    result = rfm(ids, recency, frequency, monetary)
    assert result.r.tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert result.f.tolist() == [5, 4, 1, 1, 1, 5, 4, 1, 1, 1]
    assert result.segments == [
        "Champions", "Champions", "Promising", "Promising", "About to Sleep", "Loyal",
        "At Risk", "Hibernating", "Lost", "Lost",
    ]  # fmt: skip
    summary = {row["segment"]: row for row in result.summary()}
    assert summary["Lost"]["customers"] == 2
    assert summary["Champions"]["mean_monetary"] == 850
    assert list(summary) == [s for s in SEGMENTS if s in summary]
