"""Fixed-horizon frequentist tests: Welch t-test, two-proportion z-test, CUPED.

Relative lift uses the delta method (Var(B/A) to first order) as gbstats does, because
product teams read "+3.2 %" far more easily than an absolute difference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import stats as sps

from clientcore.experiments.errors import InvalidInputError, InvalidStatsError
from clientcore.experiments.suffstats import CupedStats, SampleStats

Alternative = Literal["two-sided", "greater", "less"]


def clean(value: Any) -> Any:
    """JSON-safe floats: NaN/inf become None (orjson and browsers reject them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        return clean(value.item())
    return value


@dataclass(frozen=True, slots=True)
class Moments:
    """What every test needs from a variant: n, mean and unit-level variance."""

    n: int
    mean: float
    variance: float

    @classmethod
    def of(cls, stats: SampleStats) -> Moments:
        return cls(stats.n, stats.mean, stats.variance)

    @property
    def var_of_mean(self) -> float:
        return self.variance / self.n if self.n else math.nan


@dataclass(frozen=True, slots=True)
class Estimate:
    """A point estimate with standard error and a (1 - alpha) interval."""

    value: float
    se: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, Any]:
        return clean(
            {"value": self.value, "se": self.se, "ci_low": self.ci_low, "ci_high": self.ci_high}
        )


@dataclass(frozen=True, slots=True)
class TestResult:
    """Control vs one treatment on one metric."""

    __test__ = False  # not a pytest class

    method: str
    control_mean: float
    treatment_mean: float
    absolute: Estimate
    relative: Estimate
    statistic: float
    p_value: float
    df: float
    alpha: float
    extra: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return clean(
            {
                "method": self.method,
                "control_mean": self.control_mean,
                "treatment_mean": self.treatment_mean,
                "absolute": self.absolute.to_dict(),
                "relative": self.relative.to_dict(),
                "statistic": self.statistic,
                "p_value": self.p_value,
                "df": self.df,
                "alpha": self.alpha,
                **self.extra,
            }
        )


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise InvalidInputError(f"alpha must be in (0, 1), got {alpha}")


def relative_lift(
    mean_c: float, var_mean_c: float, mean_t: float, var_mean_t: float
) -> tuple[float, float]:
    """Delta-method lift t/c - 1 and its standard error (c and t independent)."""
    if mean_c == 0:
        return math.nan, math.nan
    lift = mean_t / mean_c - 1.0
    var = var_mean_t / mean_c**2 + mean_t**2 * var_mean_c / mean_c**4
    return lift, math.sqrt(max(var, 0.0))


def _interval(value: float, se: float, crit: float, alternative: Alternative) -> Estimate:
    if not math.isfinite(se) or se <= 0 or not math.isfinite(value):
        return Estimate(value, se, math.nan, math.nan)
    low = -math.inf if alternative == "less" else value - crit * se
    high = math.inf if alternative == "greater" else value + crit * se
    return Estimate(value, se, low, high)


def _p_value(stat: float, dist: Any, alternative: Alternative) -> float:
    if not math.isfinite(stat):
        return math.nan
    if alternative == "greater":
        return float(dist.sf(stat))
    if alternative == "less":
        return float(dist.cdf(stat))
    return float(min(1.0, 2.0 * dist.sf(abs(stat))))


def moments_test(
    control: Moments,
    treatment: Moments,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    method: str = "welch",
) -> TestResult:
    """Welch t-test on already-computed moments (shared by Welch and CUPED)."""
    _check_alpha(alpha)
    if control.n < 2 or treatment.n < 2:
        raise InvalidStatsError("each variant needs n >= 2 for a t-test")
    vc, vt = control.var_of_mean, treatment.var_of_mean
    se = math.sqrt(vc + vt)
    diff = treatment.mean - control.mean
    if se > 0:
        df = (vc + vt) ** 2 / (vc**2 / (control.n - 1) + vt**2 / (treatment.n - 1))
        stat = diff / se
    else:  # both variances zero: nothing to test
        df, stat = math.nan, math.nan
    dist = sps.t(df) if math.isfinite(df) else sps.norm
    tail = alpha if alternative != "two-sided" else alpha / 2
    crit = float(dist.ppf(1 - tail))
    lift, lift_se = relative_lift(control.mean, vc, treatment.mean, vt)
    return TestResult(
        method=method,
        control_mean=control.mean,
        treatment_mean=treatment.mean,
        absolute=_interval(diff, se, crit, alternative),
        relative=_interval(lift, lift_se, crit, alternative),
        statistic=stat,
        p_value=_p_value(stat, dist, alternative),
        df=df,
        alpha=alpha,
    )


def welch_test(
    control: SampleStats,
    treatment: SampleStats,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> TestResult:
    """Welch's unequal-variance t-test (matches scipy.stats.ttest_ind(equal_var=False))."""
    return moments_test(
        Moments.of(control), Moments.of(treatment), alpha=alpha, alternative=alternative
    )


def proportion_test(
    control: SampleStats,
    treatment: SampleStats,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> TestResult:
    """Two-proportion z-test: pooled SE for the p-value, unpooled (Wald) SE for intervals.

    The pooled SE is exact under H0 (equal rates); the Wald SE describes the lift we report.
    """
    _check_alpha(alpha)
    for s in (control, treatment):
        if not s.is_binary_like:
            raise InvalidStatsError("proportion_test needs 0/1 data (sum_squares == sum)")
        if s.n < 1:
            raise InvalidStatsError("each variant needs n >= 1")
    pc, pt = control.mean, treatment.mean
    vc, vt = pc * (1 - pc) / control.n, pt * (1 - pt) / treatment.n
    pooled = (control.sum + treatment.sum) / (control.n + treatment.n)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / control.n + 1 / treatment.n))
    diff = pt - pc
    stat = diff / se0 if se0 > 0 else math.nan
    tail = alpha if alternative != "two-sided" else alpha / 2
    crit = float(sps.norm.ppf(1 - tail))
    lift, lift_se = relative_lift(pc, vc, pt, vt)
    return TestResult(
        method="two_proportion_z",
        control_mean=pc,
        treatment_mean=pt,
        absolute=_interval(diff, math.sqrt(vc + vt), crit, alternative),
        relative=_interval(lift, lift_se, crit, alternative),
        statistic=stat,
        p_value=_p_value(stat, sps.norm, alternative),
        df=math.inf,
        alpha=alpha,
    )


def cuped_theta(stats: Sequence[CupedStats]) -> float:
    """theta = Cov(x, y) / Var(x), pooled *within* variants so the effect does not leak in."""
    cov = sum((s.n - 1) * s.covariance for s in stats if s.n >= 2)
    var_x = sum((s.n - 1) * s.pre.variance for s in stats if s.n >= 2)
    return cov / var_x if var_x > 0 else 0.0


def cuped_moments(stats: CupedStats, theta: float, x_mean: float) -> Moments:
    """Moments of y - theta (x - E[x]): same mean shift for all arms, smaller variance."""
    var = stats.post.variance + theta**2 * stats.pre.variance - 2 * theta * stats.covariance
    mean = stats.post.mean - theta * (stats.pre.mean - x_mean)
    return Moments(stats.n, mean, max(var, 0.0))


def cuped_test(
    control: CupedStats,
    treatment: CupedStats,
    *,
    theta: float | None = None,
    pooled: Sequence[CupedStats] | None = None,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> TestResult:
    """Welch test on CUPED-adjusted means.

    ``pooled`` (default: the two arms) is the set of variants theta and E[x] are pooled over,
    so every comparison of a multi-arm test shares one adjustment.
    """
    group = list(pooled) if pooled is not None else [control, treatment]
    th = cuped_theta(group) if theta is None else theta
    n_all = sum(s.n for s in group)
    x_mean = sum(s.sum_x for s in group) / n_all if n_all else 0.0
    mc, mt = cuped_moments(control, th, x_mean), cuped_moments(treatment, th, x_mean)
    res = moments_test(mc, mt, alpha=alpha, alternative=alternative, method="cuped")
    raw = control.post.variance / max(control.n, 1) + treatment.post.variance / max(treatment.n, 1)
    adj = mc.var_of_mean + mt.var_of_mean
    reduction = 1.0 - adj / raw if raw > 0 else 0.0
    return TestResult(
        method=res.method,
        control_mean=res.control_mean,
        treatment_mean=res.treatment_mean,
        absolute=res.absolute,
        relative=res.relative,
        statistic=res.statistic,
        p_value=res.p_value,
        df=res.df,
        alpha=alpha,
        extra={"theta": th, "variance_reduction": reduction},
    )
