"""Golden values for the fixed-horizon tests against scipy and hand-written textbook formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from clientcore.experiments.errors import InvalidStatsError
from clientcore.experiments.stats import (
    CupedStats,
    SampleStats,
    cuped_test,
    cuped_theta,
    proportion_test,
    relative_lift,
    welch_test,
)


@pytest.fixture
def samples() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return rng.normal(10.0, 3.0, 400), rng.normal(10.6, 4.5, 650)


def test_welch_matches_scipy(samples: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = samples
    ours = welch_test(SampleStats.from_values(a), SampleStats.from_values(b))
    ref = sps.ttest_ind(b, a, equal_var=False)
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-10)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-8)
    assert ours.df == pytest.approx(ref.df, rel=1e-10)
    ci = ref.confidence_interval(0.95)
    assert ours.absolute.ci_low == pytest.approx(ci.low, rel=1e-9)
    assert ours.absolute.ci_high == pytest.approx(ci.high, rel=1e-9)


@pytest.mark.parametrize("alternative", ["greater", "less"])
def test_welch_one_sided_matches_scipy(
    samples: tuple[np.ndarray, np.ndarray], alternative: str
) -> None:
    a, b = samples
    ours = welch_test(
        SampleStats.from_values(a),
        SampleStats.from_values(b),
        alternative=alternative,  # type: ignore[arg-type]
    )
    ref = sps.ttest_ind(b, a, equal_var=False, alternative=alternative)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-8)


def test_relative_lift_delta_method_by_hand() -> None:
    lift, se = relative_lift(10.0, 0.04, 11.0, 0.09)
    assert lift == pytest.approx(0.1)
    # Var(B/A) ~ var_B / A^2 + B^2 var_A / A^4
    assert se == pytest.approx(math.sqrt(0.09 / 100 + 121 * 0.04 / 10_000))


def test_two_proportion_matches_statsmodels_formulas() -> None:
    # statsmodels.stats.proportion.proportions_ztest (pooled) and Wald confint, by hand.
    xc, nc, xt, nt = 480, 10_000, 552, 10_100
    res = proportion_test(SampleStats.from_proportion(xc, nc), SampleStats.from_proportion(xt, nt))
    pc, pt = xc / nc, xt / nt
    pool = (xc + xt) / (nc + nt)
    z = (pt - pc) / math.sqrt(pool * (1 - pool) * (1 / nc + 1 / nt))
    p = 2 * sps.norm.sf(abs(z))
    se = math.sqrt(pc * (1 - pc) / nc + pt * (1 - pt) / nt)
    assert res.statistic == pytest.approx(z, rel=1e-12)
    assert res.p_value == pytest.approx(p, rel=1e-10)
    assert res.absolute.ci_low == pytest.approx(pt - pc - 1.959963984540054 * se, rel=1e-9)
    assert res.absolute.ci_high == pytest.approx(pt - pc + 1.959963984540054 * se, rel=1e-9)
    assert res.relative.value == pytest.approx(pt / pc - 1)
    # golden numbers, computed once by hand with the formulas above
    assert res.statistic == pytest.approx(2.13705, abs=1e-5)
    assert res.p_value == pytest.approx(0.032594, abs=1e-6)


def test_proportion_rejects_non_binary() -> None:
    with pytest.raises(InvalidStatsError):
        proportion_test(SampleStats(10, 5.0, 9.0), SampleStats.from_proportion(4, 10))


def test_too_few_units_is_a_clear_error() -> None:
    with pytest.raises(InvalidStatsError, match="n >= 2"):
        welch_test(SampleStats.from_values([1.0]), SampleStats.from_values([1.0, 2.0]))


def _cuped_data(seed: int, effect: float) -> tuple[CupedStats, CupedStats, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.gamma(2.0, 25.0, size=(2, 3000))  # pre-period spend
    y = 0.8 * x + rng.normal(0, 15, size=x.shape)
    y[1] += effect
    return CupedStats.from_values(y[0], x[0]), CupedStats.from_values(y[1], x[1]), x


def test_cuped_reduces_variance_on_correlated_data() -> None:
    c, t, _ = _cuped_data(1, effect=2.0)
    plain = welch_test(c.post, t.post)
    adj = cuped_test(c, t)
    assert adj.absolute.se < 0.5 * plain.absolute.se
    assert adj.extra["variance_reduction"] > 0.7
    assert adj.extra["theta"] == pytest.approx(0.8, abs=0.03)
    assert adj.absolute.ci_low < 2.0 < adj.absolute.ci_high
    assert adj.p_value < plain.p_value


def test_cuped_theta_is_pooled_within_variant_ols_slope() -> None:
    c, t, _ = _cuped_data(2, effect=50.0)  # a huge effect must not leak into theta
    rng = np.random.default_rng(2)
    x = rng.gamma(2.0, 25.0, size=(2, 3000))
    y = 0.8 * x + rng.normal(0, 15, size=x.shape)
    y[1] += 50.0
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    assert cuped_theta([c, t]) == pytest.approx(float((xc * yc).sum() / (xc * xc).sum()))


def test_cuped_with_uncorrelated_covariate_changes_little() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(2, 2000)), rng.normal(size=(2, 2000))
    c, t = CupedStats.from_values(y[0], x[0]), CupedStats.from_values(y[1], x[1])
    assert cuped_test(c, t).absolute.se == pytest.approx(
        welch_test(c.post, t.post).absolute.se, rel=0.02
    )
