"""Parameter recovery: simulate customers from known parameters, fit, compare."""

from __future__ import annotations

import numpy as np
import pytest

from clientcore.value.clv import models, simulate
from clientcore.value.clv.data import compress
from clientcore.value.clv.diagnostics import holdout_report

N = 40_000
CASES = {
    "bgnbd": (0.243, 4.414, 0.793, 2.426),
    "mbgnbd": (0.525, 6.183, 0.891, 1.614),
    "pnbd": (0.553, 10.578, 0.606, 11.669),
}


@pytest.mark.slow
@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd", "pnbd"])
def test_transaction_model_recovers_parameters(model: str) -> None:
    rng = np.random.default_rng(42)
    T = simulate.cohort_ages(N, 272, 84, 7.0, rng)
    truth = CASES[model]
    if model == "pnbd":
        sim = simulate.simulate_pnbd(truth, T, rng, holdout=39.0)
    else:
        sim = simulate.simulate_bgnbd(truth, T, rng, holdout=39.0, modified=model == "mbgnbd")
    fit = models.fit(model, sim.frequency, sim.recency, sim.T)
    names = models.PARAM_NAMES[model]
    for name, value in zip(names, truth, strict=True):
        tolerance = 0.35 if (model == "pnbd" and name in ("s", "beta")) else 0.12
        assert fit.params[name] == pytest.approx(value, rel=tolerance), name
    report = holdout_report(fit, sim.frequency, sim.recency, sim.T, sim.holdout_frequency, 39.0)
    assert report.predicted_total == pytest.approx(report.actual_total, rel=0.05)


@pytest.mark.slow
def test_gamma_gamma_recovers_parameters() -> None:
    rng = np.random.default_rng(7)
    x = rng.integers(1, 12, 20_000).astype(float)
    m = simulate.simulate_spend((6.25, 3.74, 15.44), x, rng)
    fit = models.fit("gg", x, monetary_value=m)
    for name, value in zip(("p", "q", "gamma"), (6.25, 3.74, 15.44), strict=True):
        assert fit.params[name] == pytest.approx(value, rel=0.1), name


@pytest.mark.slow
def test_large_fit_uses_warm_start_and_agrees() -> None:
    rng = np.random.default_rng(11)
    T = simulate.cohort_ages(850_000, 272, 84, 7.0, rng)
    sim = simulate.simulate_bgnbd(CASES["bgnbd"], T, rng)  # continuous times: many rows
    rows = compress(sim.frequency, sim.recency, sim.T)
    assert rows.x.size > 300_000
    warm = models.fit_rft("bgnbd", rows)
    cold = models.fit_rft("bgnbd", rows, warm_start=False)
    assert warm.log_likelihood == pytest.approx(cold.log_likelihood, rel=1e-10)
    for name, value in zip(models.PARAM_NAMES["bgnbd"], CASES["bgnbd"], strict=True):
        assert warm.params[name] == pytest.approx(cold.params[name], rel=1e-3), name
        assert warm.params[name] == pytest.approx(value, rel=0.1), name
