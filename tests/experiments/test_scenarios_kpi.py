"""Scenario search finds a good combination; KPI alerts fire on drops and explain them."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from clientcore.experiments.errors import InvalidInputError
from clientcore.experiments.kpi import (
    detect_anomalies,
    drill_down,
    drill_down_ratio,
    investigate,
    seasonal_baseline,
)
from clientcore.experiments.scenarios import ScenarioSearch

FACTORS = {
    "offer": ["none", "5pct", "10pct", "free_ship"],
    "channel": ["email", "sms", "push"],
    "message": ["plain", "urgency", "social", "benefit"],
    "send_time": ["morning", "noon", "evening"],
}
EFFECTS = {
    "offer": [0.0, 0.2, 0.45, 0.3],
    "channel": [0.1, 0.35, -0.2],
    "message": [0.0, 0.15, 0.05, 0.25],
    "send_time": [0.0, -0.1, 0.2],
}


def true_rate(combo: dict[str, str]) -> float:
    logit = -3.0 + sum(EFFECTS[f][FACTORS[f].index(v)] for f, v in combo.items())
    return 1 / (1 + np.exp(-logit))


def test_scenario_search_finds_a_near_best_combination() -> None:
    rng = np.random.default_rng(0)
    search = ScenarioSearch(FACTORS, draws=1000, seed=1)
    for _ in range(25):
        for combo in search.propose(3):
            n = 3000
            search.observe(combo, int(rng.binomial(n, true_rate(combo))), n)
    best_rate = max(
        true_rate(dict(zip(FACTORS, c, strict=True))) for c in itertools.product(*FACTORS.values())
    )
    res = search.best(ci_level=0.9)
    assert true_rate(res.best) >= 0.95 * best_rate
    assert res.rate_ci_low < true_rate(res.best) < res.rate_ci_high
    assert len(search.results) < 50  # far fewer than the 144 combinations were tried
    restored = ScenarioSearch.from_dict(json.loads(json.dumps(search.to_dict())))
    assert restored.best().best == res.best


def test_scenario_search_validates_levels() -> None:
    search = ScenarioSearch(FACTORS)
    with pytest.raises(InvalidInputError, match="unknown level"):
        search.observe({**search.propose(1)[0], "channel": "fax"}, 1, 10)
    with pytest.raises(InvalidInputError, match="lacks factor"):
        search.observe({"offer": "none"}, 1, 10)


def _series(days: int, seed: int, level: float = 1000.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    weekly = np.array([0.9, 0.85, 0.9, 1.0, 1.1, 1.35, 1.2])[t % 7]
    return level * weekly * (1 + 0.001 * t) * (1 + 0.03 * rng.standard_normal(days))


def test_seasonal_detector_flags_the_drop_and_nothing_else() -> None:
    v = _series(140, seed=1)
    v[120] *= 0.7  # a Saturday-sized drop on whatever weekday it is
    alerts = detect_anomalies(v)
    assert 120 in [a.index for a in alerts]
    assert len(alerts) <= 2  # ~0.25 % false alarms per day at 3.5 robust sd on this data
    assert min(alerts, key=lambda a: a.score).index == 120
    alerts = [a for a in alerts if a.index == 120]
    assert alerts[0].expected == pytest.approx(v[120] / 0.7, rel=0.1)
    base = seasonal_baseline(v)
    assert np.isnan(base.expected[:42]).all()
    assert np.isfinite(base.expected[42:]).all()
    assert detect_anomalies(np.ones(60)) == []


def test_additive_drill_down_shares() -> None:
    rows = drill_down({"a": 100.0, "b": 50.0, "c": 30.0}, {"a": 70.0, "b": 45.0, "c": 35.0})
    assert [r.value for r in rows] == ["a", "b", "c"]
    assert sum(r.share for r in rows) == pytest.approx(1.0)
    assert rows[0].share == pytest.approx(-30 / -30 * 30 / 30)


def test_ratio_drill_down_is_exact_and_separates_mix_from_rate() -> None:
    # rates unchanged; traffic moves to the low-converting channel -> pure mix effect
    before = {"email": (50.0, 1000.0), "social": (10.0, 1000.0)}
    after = {"email": (25.0, 500.0), "social": (15.0, 1500.0)}
    rows = drill_down_ratio(before, after)
    total = 40 / 2000 - 60 / 2000
    assert sum(r.delta for r in rows) == pytest.approx(total)
    assert all(r.rate == pytest.approx(0.0) for r in rows)
    assert sum(r.share for r in rows) == pytest.approx(1.0)
    worse = drill_down_ratio(before, {"email": (30.0, 1000.0), "social": (10.0, 1000.0)})
    assert worse[0].value == "email"
    assert worse[0].rate == pytest.approx(-0.01)
    assert worse[0].share == pytest.approx(1.0)


def test_investigate_points_at_the_broken_channel() -> None:
    channels = {
        "email": _series(120, 2, 500),
        "sms": _series(120, 3, 300),
        "push": _series(120, 4, 200),
    }
    channels["email"][110] *= 0.4  # an email outage
    stores = {"north": channels["email"] * 0.5 + channels["sms"], "south": None}
    stores["south"] = channels["email"] * 0.5 + channels["push"]
    alerts = investigate({"channel": channels, "store": stores})
    assert [a.alert.index for a in alerts] == [110]
    top = alerts[0].drill["channel"][0]
    assert top.value == "email"
    assert top.share > 0.8
    doc = json.loads(json.dumps(alerts[0].to_dict()))
    assert doc["drill_down"]["store"][0]["share"] == pytest.approx(0.5, abs=0.2)
    with pytest.raises(InvalidInputError, match="same total"):
        investigate({"channel": channels, "bad": {"x": channels["email"]}})
