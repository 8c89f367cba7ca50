"""Property tests: finite likelihoods everywhere, sane predictions, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clientcore.value.clv import ClvError, DataError, FitError, models
from clientcore.value.clv.fitting import FittedModel
from clientcore.value.clv.lifetime_value import customer_lifetime_value

positive = st.floats(min_value=1e-3, max_value=1e4, allow_nan=False)
frequency = st.sampled_from([0.0, 1.0, 2.0, 7.0, 50.0, 1e3, 1e4])
age = st.floats(min_value=0.0, max_value=1e5, allow_nan=False)
share = st.floats(min_value=0.0, max_value=1.0)


def _fit(model: str, params: tuple[float, ...]) -> FittedModel:
    names = models.PARAM_NAMES[model]
    return FittedModel(model, dict(zip(names, params, strict=True)), 0.0, 1, True, 0.0)


@settings(max_examples=150, deadline=None)
@given(
    model=st.sampled_from(["bgnbd", "pnbd", "mbgnbd"]),
    params=st.tuples(positive, positive, positive, positive),
    x=frequency,
    T=age,
    frac=share,
)
def test_likelihood_and_predictions_finite(
    model: str, params: tuple[float, ...], x: float, T: float, frac: float
) -> None:
    t_x = 0.0 if x == 0 else T * frac
    fit = _fit(model, params)
    ll = models.log_likelihood(fit, [x], [t_x], [T])
    assert np.isfinite(ll).all()
    assert ll[0] <= 1e-9 or x > 0  # a log-probability when x = 0 (a density otherwise)
    for t in (0.5, 39.0, 1e5):
        e = models.expected_purchases(fit, t, [x], [t_x], [T])
        u = models.expected_purchases(fit, [t])
        assert np.isfinite(e).all()
        assert np.isfinite(u).all()
        assert e[0] >= 0.0
        assert u[0] >= 0.0
    pa = models.p_alive(fit, [x], [t_x], [T])
    assert np.isfinite(pa).all()
    assert 0.0 <= pa[0] <= 1.0


@settings(max_examples=40, deadline=None)
@given(
    model=st.sampled_from(["bgnbd", "pnbd", "mbgnbd"]),
    params=st.tuples(
        st.floats(0.05, 20), st.floats(0.1, 100), st.floats(0.05, 20), st.floats(0.1, 100)
    ),
    x=st.sampled_from([0.0, 1.0, 3.0, 20.0, 1e4]),
    T=st.floats(0.5, 1e4),
    frac=share,
)
def test_expected_purchases_monotone_in_horizon(
    model: str, params: tuple[float, ...], x: float, T: float, frac: float
) -> None:
    t_x = 0.0 if x == 0 else T * frac
    fit = _fit(model, params)
    horizons = np.array([0.0, 1.0, 5.0, 39.0, 200.0, 1000.0])
    cond = models.expected_purchases(fit, horizons, np.full(6, x), np.full(6, t_x), np.full(6, T))
    unc = models.expected_purchases(fit, horizons)
    for values in (cond, unc):
        assert np.isfinite(values).all()
        assert values[0] == pytest.approx(0.0, abs=1e-12)
        assert (np.diff(values) >= -1e-9 * (1 + np.abs(values[1:]))).all()


def test_clv_discounting_and_margin() -> None:
    bg = _fit("bgnbd", (0.243, 4.414, 0.793, 2.426))
    gg = FittedModel("gg", {"p": 6.25, "q": 3.74, "gamma": 15.44}, 0.0, 1, True, 0.0)
    x, t_x, T, m = (
        np.array([0.0, 2.0, 7.0]),
        np.array([0.0, 30.43, 29.86]),
        np.full(3, 38.86),
        np.array([0.0, 30.0, 45.0]),
    )
    plain = customer_lifetime_value(bg, gg, x, t_x, T, m, 52.0, 1.0, 0.0)
    expect = models.expected_purchases(bg, 52.0, x, t_x, T) * models.expected_spend(gg, x, m)
    assert plain == pytest.approx(expect, rel=1e-12)
    discounted = customer_lifetime_value(bg, gg, x, t_x, T, m, 52.0, 0.3, 0.1)
    assert (discounted < 0.3 * plain).all()
    assert (discounted > 0.3 * plain / 1.1).all()
    longer = customer_lifetime_value(bg, gg, x, t_x, T, m, 104.0, 0.3, 0.1)
    assert (longer > discounted).all()


def test_error_hierarchy() -> None:
    assert issubclass(FitError, ClvError)
    assert issubclass(DataError, ClvError)
    assert issubclass(DataError, ValueError)
    assert issubclass(FitError, RuntimeError)


@pytest.mark.parametrize("model", ["bgnbd", "pnbd", "mbgnbd"])
def test_no_repeat_buyers_is_a_fit_error(model: str) -> None:
    with pytest.raises(FitError, match="no repeat buyers") as info:
        models.fit(model, [0, 0, 0], [0, 0, 0], [10, 20, 30])
    assert info.value.model == model


@pytest.mark.parametrize(
    ("x", "t_x", "T", "field"),
    [
        ([1, -1], [1, 0], [2, 2], "frequency"),
        ([1.5, 1], [1, 0], [2, 2], "frequency"),
        ([1, 1], [3, 0], [2, 2], "recency"),
        ([0, 1], [1, 0], [2, 2], "recency"),
        ([1, 1], [1, 1], [2, float("nan")], "T"),
    ],
)
def test_bad_summaries_name_the_field(x: list, t_x: list, T: list, field: str) -> None:
    with pytest.raises(DataError) as info:
        models.fit("bgnbd", x, t_x, T)
    assert info.value.field == field


def test_gamma_gamma_excludes_returns_and_counts_them() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(1, 6, 500).astype(float)
    m = rng.gamma(6.0, 6.0, 500)
    m[:7] = 0.0
    m[7:12] = -12.5  # net of returns
    x[12:30] = 0.0
    fit = models.fit("gg", x, monetary_value=m)
    assert fit.n == 470
    assert fit.n_excluded == 30
    assert fit.extras["excluded_nonpositive_spend"] == 12.0
    assert fit.extras["excluded_zero_frequency"] == 18.0
    with pytest.raises(FitError, match="at least two repeat buyers"):
        models.fit("gg", [0, 1, 2], monetary_value=[5.0, -1.0, 0.0])


def test_no_convergence_is_a_fit_error() -> None:
    # Everyone buys at a constant pace and nobody drops out: the drop-out parameters diverge.
    x = np.full(200, 20.0)
    with pytest.raises(FitError, match=r"pnbd|Pareto"):
        models.fit("pnbd", x, np.full(200, 40.0), np.full(200, 40.0))
