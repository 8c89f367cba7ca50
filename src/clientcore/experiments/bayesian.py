"""Bayesian readout: chance to beat control and expected loss ("risk").

Normal approximation (gbstats' default): the posterior of the difference is N(d, se^2) with a
flat prior, or shrunk towards ``prior_mean`` by a normal prior on the effect. For conversion
rates the exact Beta-Binomial posterior is available by seeded Monte Carlo.

Expected loss of shipping the treatment is E[max(0, -D)]: what we lose on average if it is
actually worse. Decision rule in practice: ship when chance_to_beat >= 0.95 and the loss is
below a tolerated threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as sps
from scipy.special import betaln

from clientcore.experiments.errors import InvalidInputError, InvalidStatsError
from clientcore.experiments.frequentist import Moments, clean, relative_lift


@dataclass(frozen=True, slots=True)
class BayesResult:
    method: str
    control_mean: float
    treatment_mean: float
    effect_mean: float
    effect_sd: float
    ci_low: float
    ci_high: float
    relative_mean: float
    chance_to_beat_control: float
    risk_treatment: float  # expected loss if we ship the treatment
    risk_control: float  # expected loss if we keep the control

    def to_dict(self) -> dict[str, Any]:
        return clean({k: getattr(self, k) for k in self.__slots__})


def normal_expected_loss(mean: float, sd: float) -> tuple[float, float]:
    """(E[max(0, -D)], E[max(0, D)]) for D ~ N(mean, sd^2)."""
    if sd <= 0:
        return max(-mean, 0.0), max(mean, 0.0)
    z = mean / sd
    pdf = float(sps.norm.pdf(z))
    loss_t = sd * pdf - mean * float(sps.norm.cdf(-z))
    loss_c = sd * pdf + mean * float(sps.norm.cdf(z))
    return loss_t, loss_c


def bayes_normal(
    control: Moments,
    treatment: Moments,
    *,
    prior_mean: float = 0.0,
    prior_sd: float = math.inf,
    ci_level: float = 0.95,
) -> BayesResult:
    """Normal-approximation posterior of the absolute difference."""
    if control.n < 2 or treatment.n < 2:
        raise InvalidStatsError("each variant needs n >= 2")
    if not 0 < ci_level < 1:
        raise InvalidInputError("ci_level must be in (0, 1)")
    vc, vt = control.var_of_mean, treatment.var_of_mean
    d, v = treatment.mean - control.mean, vc + vt
    if math.isfinite(prior_sd) and prior_sd > 0 and v > 0:
        prec = 1 / v + 1 / prior_sd**2
        d, v = (d / v + prior_mean / prior_sd**2) / prec, 1 / prec
    sd = math.sqrt(v)
    z = float(sps.norm.ppf(0.5 + ci_level / 2))
    ctw = float(sps.norm.cdf(d / sd)) if sd > 0 else float(d > 0) + 0.5 * float(d == 0)
    loss_t, loss_c = normal_expected_loss(d, sd)
    lift, _ = relative_lift(control.mean, vc, treatment.mean, vt)
    return BayesResult(
        method="bayes_normal",
        control_mean=control.mean,
        treatment_mean=treatment.mean,
        effect_mean=d,
        effect_sd=sd,
        ci_low=d - z * sd,
        ci_high=d + z * sd,
        relative_mean=lift,
        chance_to_beat_control=ctw,
        risk_treatment=loss_t,
        risk_control=loss_c,
    )


def bayes_beta_binomial(
    control_successes: int,
    control_n: int,
    treatment_successes: int,
    treatment_n: int,
    *,
    prior: tuple[float, float] = (1.0, 1.0),
    draws: int = 200_000,
    seed: int = 0,
    ci_level: float = 0.95,
) -> BayesResult:
    """Beta(prior + successes, prior + failures) posteriors, compared by seeded Monte Carlo."""
    if not (0 <= control_successes <= control_n and 0 <= treatment_successes <= treatment_n):
        raise InvalidStatsError("need 0 <= successes <= n in both variants")
    a0, b0 = prior
    rng = np.random.default_rng(seed)
    pc = rng.beta(a0 + control_successes, b0 + control_n - control_successes, draws)
    pt = rng.beta(a0 + treatment_successes, b0 + treatment_n - treatment_successes, draws)
    d = pt - pc
    lo, hi = np.quantile(d, [0.5 - ci_level / 2, 0.5 + ci_level / 2])
    mc = (a0 + control_successes) / (a0 + b0 + control_n)
    mt = (a0 + treatment_successes) / (a0 + b0 + treatment_n)
    return BayesResult(
        method="bayes_beta_binomial",
        control_mean=mc,
        treatment_mean=mt,
        effect_mean=float(d.mean()),
        effect_sd=float(d.std(ddof=1)),
        ci_low=float(lo),
        ci_high=float(hi),
        relative_mean=float(np.mean(pt / pc) - 1.0),
        chance_to_beat_control=float(np.mean(d > 0)),
        risk_treatment=float(np.mean(np.maximum(-d, 0.0))),
        risk_control=float(np.mean(np.maximum(d, 0.0))),
    )


def prob_beta_greater(a_t: float, b_t: float, a_c: float, b_c: float) -> float:
    """Exact P(p_t > p_c) for Beta posteriors with integer a_t (Evan Miller's sum).

    Used as the golden reference for the Monte Carlo path; O(a_t) terms.
    """
    if a_t != int(a_t) or a_t < 1:
        raise InvalidInputError("a_t must be a positive integer")
    i = np.arange(int(a_t), dtype=float)
    terms = betaln(a_c + i, b_c + b_t) - np.log(b_t + i) - betaln(1 + i, b_t) - betaln(a_c, b_c)
    return float(np.exp(terms).sum())
