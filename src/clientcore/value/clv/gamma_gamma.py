"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV", section 4.2).

A customer's transaction values are Gamma(p, nu) with nu ~ Gamma(q, gamma) across customers.
For x repeat transactions with mean m_x the likelihood is

    G(px+q) / (G(px) G(q)) * gamma^q * m_x^(px-1) * x^(px) / (gamma + x m_x)^(px+q).

Terms in x alone are summed over distinct x and the m- and x-only logs are precomputed, so an
evaluation costs one log and one division per customer. Customers with x = 0 carry no spend
information and customers whose mean spend is <= 0 (returns) are outside the model: both are
excluded and counted, never passed to the likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, gammaln

from clientcore.value.clv.data import FloatArray, as_float_array
from clientcore.value.clv.errors import DataError, FitError

PARAM_NAMES: tuple[str, ...] = ("p", "q", "gamma")


@dataclass(frozen=True, slots=True)
class SpendData:
    """Repeat buyers with positive mean spend, plus how many customers were left out."""

    x: FloatArray
    m: FloatArray
    n_zero_frequency: int
    n_nonpositive_spend: int

    @property
    def n_excluded(self) -> int:
        """Customers not used by the fit."""
        return self.n_zero_frequency + self.n_nonpositive_spend


def select(frequency: ArrayLike, monetary_value: ArrayLike) -> SpendData:
    """Keep customers the model covers (x > 0 and mean spend > 0); count the rest."""
    x = as_float_array(frequency, "frequency")
    m = as_float_array(monetary_value, "monetary_value")
    if x.shape != m.shape:
        raise DataError("monetary_value", f"length {m.size} differs from frequency ({x.size})")
    if (x < 0).any() or (x != np.floor(x)).any():
        raise DataError("frequency", "must be a non-negative integer")
    repeat = x > 0
    keep = repeat & (m > 0)
    return SpendData(
        x=x[keep],
        m=m[keep],
        n_zero_frequency=int((~repeat).sum()),
        n_nonpositive_spend=int((repeat & ~(m > 0)).sum()),
    )


@dataclass(frozen=True, slots=True)
class _Prepared:
    n: float
    xu: FloatArray
    wx: FloatArray
    x: FloatArray
    mx: FloatArray  # x * m (total spend)
    sum_x_log_xm: float  # sum of x log m + x log x
    sum_log_m: float


def prepare(data: SpendData) -> _Prepared:
    """Precompute everything in the likelihood that does not depend on the parameters."""
    xu, inv = np.unique(data.x, return_inverse=True)
    log_m = np.log(data.m)
    return _Prepared(
        n=float(data.x.size),
        xu=xu,
        wx=np.bincount(inv).astype(np.float64),
        x=data.x,
        mx=data.x * data.m,
        sum_x_log_xm=float((data.x * (log_m + np.log(data.x))).sum()),
        sum_log_m=float(log_m.sum()),
    )


def neg_log_likelihood(theta: FloatArray, d: _Prepared) -> tuple[float, FloatArray]:
    """-LL and analytic gradient in log-parameter space."""
    p, q, g = np.exp(theta)
    pxq = p * d.xu + q
    ll = float((d.wx * (gammaln(pxq) - gammaln(p * d.xu))).sum())
    ll += d.n * (-gammaln(q) + q * np.log(g)) + p * d.sum_x_log_xm - d.sum_log_m
    denom = g + d.mx
    log_denom = np.log(denom)
    ll -= float(p * (d.x * log_denom).sum() + q * log_denom.sum())
    dig = d.wx * digamma(pxq)
    g_p = float((dig * d.xu).sum() - (d.wx * d.xu * digamma(p * d.xu)).sum())
    g_p += d.sum_x_log_xm - float((d.x * log_denom).sum())
    g_q = float(dig.sum()) + d.n * (np.log(g) - digamma(q)) - float(log_denom.sum())
    g_g = d.n * q / g - float(((p * d.x + q) / denom).sum())
    return -ll, -np.array([g_p * p, g_q * q, g_g * g])


def start_values(d: _Prepared) -> FloatArray:
    """p = 1, q = 2 and gamma matching the mean spend, E[M] = p gamma / (q - 1)."""
    mean_spend = float(d.mx.sum() / max(float(d.x.sum()), 1.0))
    return np.array([1.0, 2.0, max(mean_spend, 1e-6)])


def check_data(data: SpendData) -> None:
    """At least two distinct spend values are needed to say anything about heterogeneity."""
    if data.x.size < 2 or np.ptp(data.m) == 0.0:
        raise FitError(
            "gg",
            f"need at least two repeat buyers with different positive mean spend "
            f"(have {data.x.size}; excluded {data.n_zero_frequency} with frequency 0 and "
            f"{data.n_nonpositive_spend} with mean spend <= 0)",
        )


def log_likelihood_rows(params: ArrayLike, x: ArrayLike, m: ArrayLike) -> FloatArray:
    """Per-customer log-likelihood of mean spend m given x (> 0, m > 0)."""
    p, q, g = (float(v) for v in np.asarray(params, dtype=np.float64))
    xa = np.asarray(x, dtype=np.float64)
    ma = np.asarray(m, dtype=np.float64)
    out = (
        gammaln(p * xa + q)
        - gammaln(p * xa)
        - gammaln(q)
        + q * np.log(g)
        + (p * xa - 1.0) * np.log(ma)
        + p * xa * np.log(xa)
        - (p * xa + q) * np.log(g + ma * xa)
    )
    return np.asarray(out, dtype=np.float64)


def population_mean(params: ArrayLike) -> float:
    """E[M] = p gamma / (q - 1); infinite (nan here) when q <= 1."""
    p, q, g = (float(v) for v in np.asarray(params, dtype=np.float64))
    return p * g / (q - 1.0) if q > 1.0 else float("nan")


def conditional_expected_spend(
    params: ArrayLike, x: ArrayLike, m: ArrayLike, fallback: float | None = None
) -> FloatArray:
    """E[M | x, m_x] = (gamma + x m_x) p / (p x + q - 1), a weighted mean of prior and data.

    Customers the model cannot use (x = 0, or m_x <= 0 after returns) get the population mean;
    when q <= 1 that mean does not exist and `fallback` (e.g. the observed mean spend) is used.
    """
    p, q, g = (float(v) for v in np.asarray(params, dtype=np.float64))
    xa, ma = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(m, dtype=np.float64))
    prior = population_mean((p, q, g))
    if not np.isfinite(prior):
        prior = float(fallback) if fallback is not None else float("nan")
    usable = (xa > 0) & (ma > 0)
    denom = np.where(usable, p * xa + q - 1.0, 1.0)
    post = (g + xa * ma) * p / denom
    return np.asarray(np.where(usable, post, prior), dtype=np.float64)
