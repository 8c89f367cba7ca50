"""Always-valid inference: the normal-mixture SPRT (mSPRT) and its confidence sequence.

Why: dashboards are refreshed every day and people stop when they see p < 0.05. A fixed-horizon
p-value looked at 30 times has a false-positive rate near 20 %. The mixture likelihood ratio
Lambda_n is a non-negative martingale under H0, so by Ville's inequality
P(exists n: Lambda_n >= 1/alpha) <= alpha, whatever the stopping rule (Johari et al. 2017;
Howard et al. 2021). GrowthBook's sequential mode is the same normal mixture written as an
asymptotic confidence sequence; ``mixture_rho2`` is their tuning (eq. 161 of arXiv:2103.06476).

With data on z-scale ``z = delta_hat / se`` and ``u = N * rho2`` (N = total units):

    log Lambda = z**2 * u / (2 (1 + u)) - log(1 + u) / 2,   p_always_valid = min(1, 1/Lambda).

Ville's bound is tight only for continuous monitoring. With a known look schedule (e.g. once a
day for 30 days) :func:`calibrate_looks` computes the exact null distribution of the running
minimum p-value, so ``LookCalibration.p_value`` is valid for *any* stopping rule on those looks
and uses the full alpha (not ~alpha/2). Looking more often than the schedule voids that, not the
uncalibrated p-value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

from clientcore.experiments.errors import InvalidInputError, InvalidStatsError
from clientcore.experiments.frequentist import (
    Alternative,
    Estimate,
    Moments,
    TestResult,
    relative_lift,
)


def mixture_rho2(alpha: float, tuning_n: float) -> float:
    """Mixture variance per unit variance, tightest around ``tuning_n`` total units."""
    if not 0 < alpha < 1 or tuning_n <= 0:
        raise InvalidInputError("need 0 < alpha < 1 and tuning_n > 0")
    la = -2.0 * math.log(alpha)
    return (la + math.log(la + 1.0)) / tuning_n


def log_mixture_lr(z: ArrayLike, u: ArrayLike) -> NDArray[np.float64]:
    """log Lambda of the two-sided normal mixture; vectorised for simulations."""
    z2 = np.square(np.asarray(z, dtype=float))
    uu = np.asarray(u, dtype=float)
    return 0.5 * z2 * uu / (1.0 + uu) - 0.5 * np.log1p(uu)


def always_valid_p(z: ArrayLike, u: ArrayLike) -> NDArray[np.float64]:
    """min(1, 1/Lambda) at one look. Take the running minimum over looks for the path p."""
    return np.minimum(1.0, np.exp(-log_mixture_lr(z, u)))


def cs_halfwidth(se: ArrayLike, u: ArrayLike, alpha: float) -> NDArray[np.float64]:
    """Half-width of the (1 - alpha) confidence sequence: {delta: Lambda(delta) < 1/alpha}."""
    uu = np.asarray(u, dtype=float)
    return np.asarray(se, dtype=float) * np.sqrt(
        (1.0 + uu) / uu * (2.0 * math.log(1.0 / alpha) + np.log1p(uu))
    )


@dataclass(frozen=True, slots=True)
class LookCalibration:
    """Null distribution of min_k p_k for a fixed look schedule (sorted Monte Carlo sample)."""

    info_fractions: tuple[float, ...]
    alpha: float
    alpha_boundary: float
    null_min_p: NDArray[np.float64]

    def p_value(self, running_p: float) -> float:
        """P_H0(min over the schedule <= running_p): an always-valid p on this schedule."""
        k = np.searchsorted(self.null_min_p, running_p, side="right")
        return float(k / self.null_min_p.size)


@lru_cache(maxsize=32)
def _calibrate(
    fractions: tuple[float, ...], alpha: float, n_paths: int, seed: int
) -> LookCalibration:
    t = np.asarray(fractions, dtype=float)
    rng = np.random.default_rng(seed)
    inc = rng.standard_normal((n_paths, t.size)) * np.sqrt(np.diff(t, prepend=0.0))
    z = np.cumsum(inc, axis=1) / np.sqrt(t)  # z-score at each look under H0
    u = t * mixture_rho2(alpha, 1.0)  # N_k * rho2 with tuning_n = 1 in fraction units
    min_p = np.sort(always_valid_p(z, u).min(axis=1))
    boundary = float(np.quantile(min_p, alpha, method="inverted_cdf"))
    return LookCalibration(fractions, alpha, boundary, min_p)


def calibrate_looks(
    info_fractions: ArrayLike, alpha: float = 0.05, *, n_paths: int = 100_000, seed: int = 20240
) -> LookCalibration:
    """Exact-size boundary for looks at ``N_k / tuning_n`` = ``info_fractions`` (increasing).

    The mixture is tuned with ``tuning_n`` = the N that the fractions are relative to; use the
    same ``tuning_n`` in :func:`sequential_test`. Cached, ~0.1 s for 30 looks.
    """
    t = tuple(float(x) for x in np.asarray(info_fractions, dtype=float).ravel())
    if not t or any(b <= a for a, b in zip((0.0, *t), t, strict=False)):
        raise InvalidInputError("info_fractions must be positive and strictly increasing")
    return _calibrate(t, float(alpha), int(n_paths), int(seed))


def sequential_test(
    control: Moments,
    treatment: Moments,
    *,
    alpha: float = 0.05,
    tuning_n: float,
    previous_min_p: float = 1.0,
    calibration: LookCalibration | None = None,
    alternative: Alternative = "two-sided",
) -> TestResult:
    """mSPRT readout at the current look: always-valid p and confidence sequences.

    ``previous_min_p`` carries the running minimum from earlier looks (1.0 on the first look);
    the returned ``extra["running_min_p"]`` is what to store for the next look.
    """
    if alternative != "two-sided":
        raise InvalidInputError("the normal-mixture test here is two-sided only")
    if control.n < 2 or treatment.n < 2:
        raise InvalidStatsError("each variant needs n >= 2")
    vc, vt = control.var_of_mean, treatment.var_of_mean
    se = math.sqrt(vc + vt)
    diff = treatment.mean - control.mean
    u = (control.n + treatment.n) * mixture_rho2(alpha, tuning_n)
    z = diff / se if se > 0 else 0.0
    p_now = float(always_valid_p(z, u))
    running = min(previous_min_p, p_now)
    a_bound = alpha
    p_report = running
    if calibration is not None:
        a_bound = calibration.alpha_boundary
        p_report = calibration.p_value(running)
    half = float(cs_halfwidth(se, u, a_bound))
    lift, lift_se = relative_lift(control.mean, vc, treatment.mean, vt)
    half_rel = float(cs_halfwidth(lift_se, u, a_bound)) if math.isfinite(lift_se) else math.nan
    return TestResult(
        method="msprt",
        control_mean=control.mean,
        treatment_mean=treatment.mean,
        absolute=Estimate(diff, se, diff - half, diff + half),
        relative=Estimate(lift, lift_se, lift - half_rel, lift + half_rel),
        statistic=z,
        p_value=p_report,
        df=math.inf,
        alpha=alpha,
        extra={"running_min_p": running, "p_now": p_now, "alpha_boundary": a_bound},
    )


def fixed_horizon_z_crit(alpha: float) -> float:
    """Two-sided normal critical value, for the fixed-horizon comparison in benchmarks."""
    return float(sps.norm.ppf(1 - alpha / 2))
