"""Readout: SRM gate, method dispatch, serialisation."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pytest
from scipy import integrate
from scipy import stats as sps

from clientcore.experiments.bayesian import prob_beta_greater
from clientcore.experiments.errors import ExperimentsError, InvalidInputError
from clientcore.experiments.frequentist import Moments
from clientcore.experiments.stats import (
    CupedStats,
    SampleStats,
    bayes_beta_binomial,
    bayes_normal,
    calibrate_looks,
    normal_expected_loss,
    readout,
    srm_check,
)


def test_srm_triggers_on_5200_4800_with_50_50_plan() -> None:
    res = srm_check([5200, 4800], [0.5, 0.5])
    assert res.chi2 == pytest.approx(16.0)
    assert res.p_value == pytest.approx(sps.chisquare([5200, 4800]).pvalue)
    assert res.mismatch
    ok = srm_check([5020, 4980], [1, 1])
    assert not ok.mismatch
    assert ok.reason is None


def _metric(counts: list[int], rates: list[float]) -> list[SampleStats]:
    return [
        SampleStats.from_proportion(round(n * r), n) for n, r in zip(counts, rates, strict=True)
    ]


def test_readout_is_blocked_not_crashed_on_srm() -> None:
    out = readout({"conversion": _metric([5200, 4800], [0.05, 0.06])}, [0.5, 0.5])
    assert out.status == "blocked"
    assert "sample ratio mismatch" in (out.blocked_reason or "")
    assert out.comparisons == ()
    d = orjson.loads(orjson.dumps(out.to_dict()))
    assert d["status"] == "blocked"
    assert d["srm"]["mismatch"] is True


def test_readout_many_variants_and_metrics_with_corrections() -> None:
    rng = np.random.default_rng(0)
    counts = [4000, 4010, 3990]
    rev = [SampleStats.from_values(rng.gamma(2, 20 + i, n)) for i, n in enumerate(counts)]
    xs = [rng.normal(50, 10, n) for n in counts]
    cup = [CupedStats.from_values(x + rng.normal(i, 5, x.size), x) for i, x in enumerate(xs)]
    metrics = {"conv": _metric(counts, [0.05, 0.05, 0.065]), "revenue": rev, "spend": cup}
    out = readout(metrics, [1, 1, 1], variants=["control", "a", "b"], correction="bh")
    assert out.status == "ok"
    assert len(out.comparisons) == 6
    methods = {c.metric: c.result["method"] for c in out.comparisons}
    assert methods == {"conv": "two_proportion_z", "revenue": "welch", "spend": "cuped"}
    for c in out.comparisons:
        assert c.adjusted_p_value is not None
        assert c.p_value is not None
        assert c.adjusted_p_value >= c.p_value
    d = orjson.loads(orjson.dumps(out.to_dict()))
    assert d["comparisons"][0]["variant"] == "a"
    conv_b = next(c for c in out.comparisons if c.metric == "conv" and c.variant == "b")
    assert conv_b.significant


@pytest.mark.parametrize("method", ["sequential", "bayesian"])
def test_readout_other_methods_serialise(method: str) -> None:
    out = readout(
        {"conv": _metric([3000, 3000], [0.1, 0.12])}, [0.5, 0.5], method=method, tuning_n=6000
    )
    d = orjson.loads(orjson.dumps(out.to_dict()))
    assert d["status"] == "ok"
    if method == "bayesian":
        assert 0.99 < d["comparisons"][0]["chance_to_beat_control"] <= 1
    else:
        assert d["comparisons"][0]["method"] == "msprt"


def test_readout_rejects_malformed_input() -> None:
    with pytest.raises(InvalidInputError):
        readout({"m": _metric([10, 10], [0.1, 0.1])}, [0.5, 0.3, 0.2])
    with pytest.raises(ExperimentsError):
        srm_check([10, 10], [1, -1])


def test_bayes_normal_chance_and_loss_by_integration() -> None:
    c, t = Moments(2000, 10.0, 25.0), Moments(2000, 10.3, 30.0)
    res = bayes_normal(c, t)
    sd = math.sqrt(25 / 2000 + 30 / 2000)
    assert res.chance_to_beat_control == pytest.approx(sps.norm.cdf(0.3 / sd))
    loss_t = integrate.quad(lambda d: -d * sps.norm.pdf(d, 0.3, sd), -np.inf, 0)[0]
    loss_c = integrate.quad(lambda d: d * sps.norm.pdf(d, 0.3, sd), 0, np.inf)[0]
    assert res.risk_treatment == pytest.approx(loss_t, rel=1e-6)
    assert res.risk_control == pytest.approx(loss_c, rel=1e-6)
    assert normal_expected_loss(0.0, 0.0) == (0.0, 0.0)


def test_beta_binomial_monte_carlo_matches_exact_sum() -> None:
    res = bayes_beta_binomial(40, 1000, 55, 1000, draws=100_000, seed=3)
    exact = prob_beta_greater(1 + 55, 1 + 945, 1 + 40, 1 + 960)
    assert res.chance_to_beat_control == pytest.approx(exact, abs=0.005)
    assert res.risk_treatment < res.risk_control


def test_sequential_readout_uses_the_look_calibration() -> None:
    cal = calibrate_looks(np.arange(1, 31) / 30, 0.05, n_paths=20_000, seed=1)
    metric = _metric([15_000, 15_000], [0.05, 0.055])
    plain = readout({"conv": metric}, [1, 1], method="sequential", tuning_n=60_000)
    daily = readout({"conv": metric}, [1, 1], method="sequential", tuning_n=60_000, calibration=cal)
    p_plain, p_daily = plain.comparisons[0].p_value, daily.comparisons[0].p_value
    assert p_plain is not None
    assert p_daily is not None
    assert p_daily < p_plain  # the daily schedule leaves slack that calibration spends
    assert daily.comparisons[0].result["alpha_boundary"] == pytest.approx(cal.alpha_boundary)
