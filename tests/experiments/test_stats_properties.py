"""Property tests: merging statistics, corrections, sequential duality."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from clientcore.experiments.frequentist import Moments
from clientcore.experiments.stats import (
    CupedStats,
    SampleStats,
    always_valid_p,
    benjamini_hochberg,
    calibrate_looks,
    cs_halfwidth,
    holm,
    mixture_rho2,
    sequential_test,
)

values = st.lists(
    st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False),
    min_size=0,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(values, min_size=1, max_size=6), st.randoms(use_true_random=False))
def test_merging_is_order_independent_and_equals_batch(chunks: list[list[float]], rnd) -> None:
    parts = [SampleStats.from_values(c) for c in chunks]
    shuffled = parts[:]
    rnd.shuffle(shuffled)
    incremental = sum(shuffled, SampleStats.zero())
    batch = SampleStats.from_values([v for c in chunks for v in c])
    assert incremental.n == batch.n
    scale = 1 + sum(abs(v) for c in chunks for v in c) ** 2
    assert incremental.sum == pytest.approx(batch.sum, abs=1e-9 * math.sqrt(scale))
    assert incremental.sum_squares == pytest.approx(batch.sum_squares, abs=1e-9 * scale)


@settings(max_examples=40, deadline=None)
@given(values, values, values)
def test_cuped_merge_is_associative(a: list[float], b: list[float], c: list[float]) -> None:
    sa, sb, sc = (CupedStats.from_values(v, v[::-1]) for v in (a, b, c))
    left, right = (sa + sb) + sc, sa + (sb + sc)
    assert left.n == right.n
    for f in ("sum", "sum_squares", "sum_x", "sum_x2", "sum_xy"):
        assert getattr(left, f) == pytest.approx(getattr(right, f), rel=1e-9, abs=1e-6)


pvals = st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=30)


@settings(max_examples=80, deadline=None)
@given(pvals)
def test_bh_matches_scipy_and_holm_is_stricter(p: list[float]) -> None:
    bh = benjamini_hochberg(p)
    np.testing.assert_allclose(bh, sps.false_discovery_control(p, method="bh"), rtol=1e-12)
    h = holm(p)
    assert np.all(h >= np.asarray(p) - 1e-15)
    assert np.all(h >= bh - 1e-12)
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(h[order]) >= -1e-15)


def test_holm_by_hand_and_nan_passthrough() -> None:
    p = [0.01, 0.04, 0.03, float("nan"), 0.005]
    # sorted: .005*4=.02, .01*3=.03, .03*2=.06, .04*1 -> max(.06,.04)=.06
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, np.nan, 0.02])


@settings(max_examples=60, deadline=None)
@given(
    st.floats(min_value=-8, max_value=8),
    st.floats(min_value=1e-3, max_value=10),
    st.integers(min_value=10, max_value=10**6),
)
def test_confidence_sequence_is_dual_to_always_valid_p(z: float, se: float, n: int) -> None:
    alpha = 0.05
    u = n * mixture_rho2(alpha, 5000)
    p = float(always_valid_p(z, u))
    outside = abs(z * se) > float(cs_halfwidth(se, u, alpha))
    if not math.isclose(p, alpha, rel_tol=1e-6):
        assert outside == (p < alpha)


def test_sequential_is_more_conservative_than_fixed_horizon() -> None:
    c, t = Moments(5000, 10.0, 16.0), Moments(5000, 10.25, 16.0)
    res = sequential_test(c, t, tuning_n=10_000)
    fixed_p = 2 * sps.norm.sf(0.25 / math.sqrt(2 * 16 / 5000))
    assert fixed_p < 0.01
    assert res.p_value > 5 * fixed_p
    assert res.absolute.ci_high - res.absolute.ci_low > 2 * 1.96 * res.absolute.se
    assert (res.absolute.ci_low > 0) == (res.p_value < 0.05)
    again = sequential_test(c, t, tuning_n=10_000, previous_min_p=0.001)
    assert again.p_value == 0.001  # running minimum is carried between looks


def test_look_calibration_spends_more_alpha_but_stays_valid() -> None:
    cal = calibrate_looks(np.arange(1, 31) / 30, 0.05, n_paths=20_000, seed=1)
    assert cal.alpha_boundary > 0.05  # 30 discrete looks leave Ville's bound slack
    assert cal.p_value(cal.alpha_boundary) == pytest.approx(0.05, abs=1e-3)
    assert cal.p_value(1e-9) == 0.0
    assert cal.p_value(0.01) <= cal.p_value(0.02)
