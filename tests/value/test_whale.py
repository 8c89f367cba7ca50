"""Whale-curve golden values on a hand-made table of ten customers.

Contributions 500, 200, 100, 80, 50, 20, 0, -10, -40, -100 (total 800): the top 10% (one
customer) give 500/800 = 62.5%; the curve peaks at 950/800 = 118.75% after six customers
(60%); three customers (30%) lose 150, i.e. destroy 18.75% of the profit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from clientcore.value.concentration import by_group, whale_curve

TEN = [0, -10, 500, 20, -100, 200, 80, -40, 100, 50]  # deliberately unsorted


def test_golden_values() -> None:
    curve = whale_curve(TEN)
    assert curve.customers == 10
    assert curve.total == 800
    assert curve.share_of_top(0.10) == pytest.approx(0.625)
    assert curve.share_of_top(0.20) == pytest.approx(700 / 800)
    assert curve.share_of_top(0.15) == pytest.approx((0.625 + 0.875) / 2)  # interpolated
    assert curve.share_of_top(1.0) == pytest.approx(1.0)
    assert (curve.peak_x, curve.peak_y) == (pytest.approx(0.6), pytest.approx(1.1875))
    assert curve.loss_making_share == pytest.approx(0.3)
    assert curve.destroyed == 150
    assert curve.destroyed_share == pytest.approx(0.1875)
    assert curve.headline() == (
        "The top 10% of customers give 62% of profit; the bottom 30% destroy 19% of it."
    )
    doc = curve.to_dict(points=11)
    assert doc["curve"][1] == [0.1, 0.625]
    assert doc["top_shares"]["0.1"] == 0.625
    assert doc["peak"] == {"customer_share": 0.6, "profit_share": 1.1875}


def test_curve_is_monotone_up_to_the_peak_then_down() -> None:
    rng = np.random.default_rng(3)
    curve = whale_curve(rng.normal(20, 50, 1000))
    steps = np.diff(curve.y)
    k = int(np.argmax(curve.y))
    assert (steps[:k] >= 0).all()
    assert (steps[k:] <= 0).all()
    assert curve.y[0] == 0
    assert curve.y[-1] == pytest.approx(1.0)


def test_no_profit_or_no_customers() -> None:
    losing = whale_curve([-5, -1, 2])
    assert math.isnan(losing.share_of_top(0.1))
    assert losing.headline().startswith("Customers lose money overall")
    assert losing.to_dict()["curve"] == []
    assert whale_curve([]).headline() == "No customers in this period."
    # a fifth of the best customer (20 of 30): 4 / 30
    assert whale_curve([10, 20]).headline() == "The top 10% of customers give 13% of profit."


def test_by_group() -> None:
    keys = ["web", "store", "web", "web", "store"]
    groups = by_group(keys, [100, 50, -20, 20, 50])
    assert [g.key for g in groups] == ["web", "store"]
    web = groups[0]
    assert (web.customers, web.contribution) == (3, 100)
    assert web.top10_share == pytest.approx(0.3 * 100 / 100)  # a third of the first customer
    assert web.loss_making_share == pytest.approx(1 / 3)
    assert web.destroyed_share == pytest.approx(0.2)
    assert groups[1].loss_making_share == 0
