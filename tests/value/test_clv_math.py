"""Likelihood and prediction math: references computed with mpmath (60 digits) and lifetimes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from clientcore.value.clv import bgnbd, gamma_gamma, models, pareto
from clientcore.value.clv.data import compress
from clientcore.value.clv.fitting import FittedModel

# (r, alpha, s, beta, x, t_x, T, log L) with log L from mpmath's 2F1 at 60 digits.
PARETO_REFERENCE = [
    (0.5533, 10.578, 0.6062, 11.669, 2.0, 30.43, 38.86, -9.554253621632506),
    (0.5533, 10.578, 0.6062, 11.669, 0.0, 0.0, 38.86, -0.5212313930428776),
    (0.5533, 10.578, 0.6062, 11.669, 10000.0, 30.0, 38.86, 45060.82576487513),
    (0.5533, 10.578, 0.6062, 11.669, 3.0, 100000.0, 100000.0, -44.308041221642306),
    (0.5533, 10.578, 0.6062, 11.669, 3.0, 20.0, 100000.0, -12.617663742272876),
    (2.0, 5000.0, 0.3, 1.0, 0.0, 0.0, 39.0, -0.00694088319043671),
    (0.2, 1.0, 1.5, 8000.0, 0.0, 0.0, 39.0, -0.73620942280683),
    (0.2, 1.0, 1.5, 8000.0, 4.0, 2.0, 39.0, -12.635972586754866),
    (1.3, 2000000.0, 0.8, 0.05, 7.0, 0.5, 52.0, -94.23499772133523),
    (0.9, 3.0, 1.0, 3.0, 5.0, 10.0, 20.0, -12.88193352421449),
]

BG = (0.2425945140094242, 4.4136016964785165, 0.7929220834678331, 2.425906883226697)
MBG = (0.524843148284735, 6.1830850959224435, 0.8913594168385538, 1.6140023096172043)
PNBD = (0.5532770533614626, 10.577683519028499, 0.6062399801261223, 11.668734902858821)
# (x, t_x, T, E[Y(39)], P(alive)) per model, as lifetimes 0.11.3 computes them.
LIFETIMES = {
    "bgnbd": [
        (0, 0.0, 38.86, 0.1947820305075446, 1.0),
        (1, 1.71, 38.86, 0.20325479014440964, 0.21223192456134085),
        (7, 29.86, 38.86, 3.445020238935658, 0.6625334793301674),
        (500, 38.0, 39.0, 1.8678636510592816, 0.005442756632291091),
    ],
    "pnbd": [
        (0, 0.0, 38.86, 0.10705886668680736, 0.29509580127731994),
        (2, 30.43, 38.86, 1.4550987616772941, 0.8691156617901628),
        (30, 35.0, 38.0, 18.165977546242406, 0.8932712894098213),
        (500, 38.0, 39.0, 9.861467199298064, 0.03011777836551286),
    ],
    "mbgnbd": [
        (0, 0.0, 38.86, 0.1539542855546284, 0.3897150635244122),
        (2, 30.43, 38.86, 1.2626692233804964, 0.7061256853883633),
        (3, 10.0, 10.0, 4.453392507422586, 0.8380924885361904),
    ],
}
UNCONDITIONAL = {  # E[X(t)] at t = 1, 39, 78, 500
    "bgnbd": [0.053184293379878206, 1.1950100355920679, 1.8579583542729425, 4.8819768242723285],
    "pnbd": [0.05100637605026509, 1.213404022317973, 1.9098661472342617, 5.318811951391512],
    "mbgnbd": [0.05306032413647156, 1.1822797542894514, 1.8036304142856525, 4.34370179422537],
}
PARAMS = {"bgnbd": BG, "pnbd": PNBD, "mbgnbd": MBG}


def _fit(model: str) -> FittedModel:
    names = models.PARAM_NAMES[model]
    return FittedModel(model, dict(zip(names, PARAMS[model], strict=True)), 0.0, 1, True, 0.0)


@pytest.mark.parametrize("case", PARETO_REFERENCE)
def test_pareto_loglik_matches_mpmath(case: tuple[float, ...]) -> None:
    *params, x, t_x, T, want = case
    got = pareto.log_likelihood_rows(params, [x], [t_x], [T])[0]
    assert got == pytest.approx(want, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("model", ["bgnbd", "pnbd", "mbgnbd"])
def test_predictions_match_lifetimes(model: str) -> None:
    fit = _fit(model)
    for x, t_x, T, e, pa in LIFETIMES[model]:
        assert models.expected_purchases(fit, 39, x, t_x, T) == pytest.approx(e, rel=1e-9)
        assert models.p_alive(fit, x, t_x, T) == pytest.approx(pa, rel=1e-9)
    got = models.expected_purchases(fit, [1, 39, 78, 500])
    assert got == pytest.approx(UNCONDITIONAL[model], rel=1e-9)


@pytest.mark.parametrize("modified", [False, True])
def test_bg_gradient_is_analytic_and_right(modified: bool) -> None:
    rng = np.random.default_rng(5)
    x = rng.poisson(2.0, 300).astype(float)
    T = rng.uniform(20, 40, 300)
    t_x = np.where(x > 0, T * rng.uniform(0, 1, 300), 0.0)
    prep = bgnbd.prepare(compress(x, t_x, T), modified)
    theta = np.log([0.4, 5.0, 0.7, 2.0])
    value, grad = bgnbd.neg_log_likelihood(theta, prep)
    numeric = approx_fprime(theta, lambda th: bgnbd.neg_log_likelihood(th, prep)[0], 1e-6)
    assert grad == pytest.approx(numeric, rel=1e-4, abs=1e-3)
    direct = -bgnbd.log_likelihood_rows(np.exp(theta), x, t_x, T, modified).sum()
    assert value == pytest.approx(direct, rel=1e-12)


def test_gamma_gamma_gradient() -> None:
    rng = np.random.default_rng(6)
    x = rng.integers(1, 10, 400).astype(float)
    m = rng.gamma(5.0, 8.0, 400)
    prep = gamma_gamma.prepare(gamma_gamma.select(x, m))
    theta = np.log([5.0, 3.0, 14.0])
    value, grad = gamma_gamma.neg_log_likelihood(theta, prep)
    numeric = approx_fprime(theta, lambda th: gamma_gamma.neg_log_likelihood(th, prep)[0], 1e-6)
    assert grad == pytest.approx(numeric, rel=1e-4, abs=1e-3)
    assert value == pytest.approx(
        -gamma_gamma.log_likelihood_rows(np.exp(theta), x, m).sum(), rel=1e-12
    )


@pytest.mark.parametrize("model", ["bgnbd", "pnbd", "mbgnbd"])
def test_edge_cases_are_finite(model: str) -> None:
    x = np.array([0.0, 0.0, 1.0, 1e4, 1e4, 5.0, 3.0, 2.0])
    t_x = np.array([0.0, 0.0, 1e5, 30.0, 1e5, 1e5, 0.0, 38.86])
    T = np.array([0.0, 1e5, 1e5, 38.86, 1e5, 1e5, 38.86, 38.86])
    fit = _fit(model)
    assert np.isfinite(models.log_likelihood(fit, x, t_x, T)).all()
    pa = models.p_alive(fit, x, t_x, T)
    assert np.isfinite(pa).all()
    assert ((pa >= 0) & (pa <= 1)).all()
    for t in (0.0, 1.0, 39.0, 1e5):
        e = models.expected_purchases(fit, t, x, t_x, T)
        assert np.isfinite(e).all()
        assert (e >= 0).all()


def test_compression_keeps_the_likelihood() -> None:
    rng = np.random.default_rng(7)
    days = rng.integers(0, 273, 5000)
    x = rng.poisson(1.0, 5000).astype(float)
    T = (273 - days) / 7.0
    t_x = np.where(x > 0, np.floor(rng.uniform(0, 1, 5000) * (273 - days)) / 7.0, 0.0)
    rft = compress(x, t_x, T)
    assert rft.x.size < 5000
    assert rft.n == 5000
    for modified in (False, True):
        full = bgnbd.log_likelihood_rows(BG, x, t_x, T, modified).sum()
        packed = (rft.w * bgnbd.log_likelihood_rows(BG, rft.x, rft.t_x, rft.T, modified)).sum()
        assert packed == pytest.approx(full, rel=1e-12)
    cont = compress(x, t_x + rng.uniform(0, 1e-3, 5000) * (x > 0), T)
    assert cont.n == 5000


def test_gamma_gamma_expected_spend() -> None:
    params = (6.25, 3.74, 15.44)
    got = gamma_gamma.conditional_expected_spend(params, [0, 2, 2, 3], [0.0, 40.0, -5.0, 10.0])
    prior = 6.25 * 15.44 / 2.74
    assert got[0] == pytest.approx(prior)
    assert got[2] == pytest.approx(prior)
    assert got[1] == pytest.approx((15.44 + 80.0) * 6.25 / (12.5 + 2.74))
