"""BG/NBD (Fader, Hardie & Lee 2005) and MBG/NBD (Batislam, Denizel & Filiztekin 2007).

Both models share one likelihood shape; MBG/NBD adds a drop-out chance at time zero:

    L = B(a, b+x+k)/B(a, b) * G(r+x)/G(r) * alpha^r
        * [ (alpha+T)^-(r+x) + delta * a/(b+x-1+k) * (alpha+t_x)^-(r+x) ]

with k = 0, delta = [x > 0] for BG/NBD and k = 1, delta = 1 for MBG/NBD. Everything is kept
in logs (the bracket is a softplus), so x = 1e4 or T = 1e5 cannot overflow. The gradient is
analytic; terms that depend on x only are summed over distinct x, terms in log(alpha+T) over
distinct T, and only the bracket is evaluated per distinct (x, t_x, T) row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, expit, gammaln

from clientcore.value.clv.data import FloatArray, Rft
from clientcore.value.clv.errors import FitError
from clientcore.value.clv.special import beta_expectation, hyp2f1_regular

PARAM_NAMES: tuple[str, ...] = ("r", "alpha", "a", "b")


@dataclass(frozen=True, slots=True)
class _Prepared:
    """Data reduced once per fit so each likelihood evaluation touches as little as possible."""

    n: float
    k: int
    xu: FloatArray  # distinct frequencies
    wx: FloatArray  # customers per distinct frequency
    Tu: FloatArray  # distinct ages
    wT: FloatArray  # customers per distinct age
    xT: FloatArray  # sum of x per distinct age
    mx: FloatArray  # rows carrying the second (drop-out) term
    mxi: np.ndarray  # index of each such row's x in xu
    mtx: FloatArray
    mT: FloatArray
    mgap: FloatArray  # T - t_x
    mw: FloatArray


def prepare(data: Rft, modified: bool) -> _Prepared:
    """Group the compressed rows by x and by T; keep per-row arrays only where needed."""
    xu, xinv = np.unique(data.x, return_inverse=True)
    wx = np.asarray(np.bincount(xinv, weights=data.w), dtype=np.float64)
    Tu, Tinv = np.unique(data.T, return_inverse=True)
    wT = np.asarray(np.bincount(Tinv, weights=data.w), dtype=np.float64)
    xT = np.asarray(np.bincount(Tinv, weights=data.w * data.x), dtype=np.float64)
    rows = np.ones(data.x.size, dtype=bool) if modified else data.x > 0
    return _Prepared(
        n=float(data.w.sum()),
        k=1 if modified else 0,
        xu=xu,
        wx=wx,
        Tu=Tu,
        wT=wT,
        xT=xT,
        mx=data.x[rows],
        mxi=xinv[rows],
        mtx=data.t_x[rows],
        mT=data.T[rows],
        mgap=data.T[rows] - data.t_x[rows],
        mw=data.w[rows],
    )


def neg_log_likelihood(theta: FloatArray, p: _Prepared) -> tuple[float, FloatArray]:
    """-LL and its gradient with respect to log-parameters (analytic)."""
    r, alpha, a, b = np.exp(theta)
    k, n, xu, wx = p.k, p.n, p.xu, p.wx
    # Terms in x only.
    ab = a + b
    ll = float(
        (wx * (gammaln(r + xu) + gammaln(b + xu + k) - gammaln(ab + xu + k))).sum()
        + n * (-gammaln(r) + r * np.log(alpha) - gammaln(b) + gammaln(ab))
    )
    dig_abx = digamma(ab + xu + k)
    g_r = float((wx * digamma(r + xu)).sum() + n * (np.log(alpha) - digamma(r)))
    g_alpha = n * r / alpha
    g_a = float(-(wx * dig_abx).sum() + n * digamma(ab))
    g_b = float((wx * (digamma(b + xu + k) - dig_abx)).sum() + n * (digamma(ab) - digamma(b)))
    # Terms in log(alpha + T): -(r + x) log(alpha + T), summed per distinct T.
    coef = r * p.wT + p.xT
    ll -= float((coef * np.log(alpha + p.Tu)).sum())
    g_r -= float((p.wT * np.log(alpha + p.Tu)).sum())
    g_alpha -= float((coef / (alpha + p.Tu)).sum())
    # Drop-out term: log(1 + exp(d)), d = log(a/(b+x-1+k)) + (r+x) log((alpha+T)/(alpha+t_x)).
    if p.mx.size:
        bxk = b + np.maximum(p.xu - 1.0 + k, 0.0)  # x = 0 rows never use it in BG/NBD
        a_tx = alpha + p.mtx
        q = p.mgap / a_tx
        lr = np.log1p(q)
        rx = r + p.mx
        d = (np.log(a) - np.log(bxk))[p.mxi] + rx * lr
        ll += float((p.mw * np.logaddexp(0.0, d)).sum())
        ws = p.mw * expit(d)
        per_x = np.bincount(p.mxi, weights=ws, minlength=xu.size)
        g_r += float((ws * lr).sum())
        g_alpha -= float((ws * rx * (q / (alpha + p.mT))).sum())
        g_a += float(per_x.sum()) / a
        g_b -= float((per_x / bxk).sum())
    grad = -np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b])
    return -ll, grad


def start_values(p: _Prepared) -> FloatArray:
    """Neutral start: r = 1 and alpha matching the observed repeat rate; a = b = 1."""
    total_x = float((p.wx * p.xu).sum())
    total_T = float((p.wT * p.Tu).sum())
    alpha = total_T / max(total_x, 1e-9) if total_T > 0 else 1.0
    return np.array([1.0, min(max(alpha, 1e-6), 1e6), 1.0, 1.0])


def check_data(model: str, data: Rft) -> None:
    """Refuse data that cannot identify the model rather than return meaningless numbers."""
    if not (data.x > 0).any():
        raise FitError(model, "no repeat buyers (every frequency is 0): parameters not identified")
    if not (data.T > 0).any():
        raise FitError(model, "every customer has T = 0: no observation time to learn from")


def log_likelihood_rows(
    params: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, modified: bool = False
) -> FloatArray:
    """Per-customer log-likelihood (plain vectorised form, used for reporting and tests)."""
    r, alpha, a, b = (float(v) for v in np.asarray(params, dtype=np.float64))
    xa, ta, Ta = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    k = 1 if modified else 0
    base = (
        gammaln(r + xa)
        - gammaln(r)
        + r * np.log(alpha)
        + gammaln(b + xa + k)
        - gammaln(a + b + xa + k)
        + gammaln(a + b)
        - gammaln(b)
        - (r + xa) * np.log(alpha + Ta)
    )
    d = _log_odds_dead(r, alpha, a, b, xa, ta, Ta, k)
    second = np.logaddexp(0.0, d)
    if not modified:
        second = np.where(xa > 0, second, 0.0)
    return np.asarray(base + second, dtype=np.float64)


def _log_odds_dead(
    r: float,
    alpha: float,
    a: float,
    b: float,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
    k: int,
) -> FloatArray:
    """log of P(dead)/P(alive) given (x, t_x, T); -inf where death is impossible (BG, x=0)."""
    bxk = np.maximum(b + x - 1.0 + k, 1e-300)
    d = np.log(a) - np.log(bxk) + (r + x) * np.log1p((T - t_x) / (alpha + t_x))
    if k == 0:
        d = np.where(x > 0, d, -np.inf)
    return np.asarray(d, dtype=np.float64)


def p_alive(
    params: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, modified: bool = False
) -> FloatArray:
    """P(customer still active at T | x, t_x, T)."""
    r, alpha, a, b = (float(v) for v in np.asarray(params, dtype=np.float64))
    xa, ta, Ta = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (x, t_x, T)))
    d = _log_odds_dead(r, alpha, a, b, xa, ta, Ta, 1 if modified else 0)
    return np.asarray(expit(-d), dtype=np.float64)


def conditional_expected(
    params: ArrayLike,
    t: ArrayLike,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    modified: bool = False,
) -> FloatArray:
    """E[purchases in (T, T+t] | x, t_x, T].

    (a+b+x-1+k)/(a-1) * [1 - (1-z)^(r+x) 2F1(r+x, b+x+k; a+b+x-1+k; z)] * P(alive), with
    z = t/(alpha+T+t). The 2F1 stays bounded as z -> 1 only when a-1-r-x > 0; otherwise
    Euler's transformation gives the bounded form (1-z)^(a-1) 2F1(a+b-1+k-r, a-1; same; z).
    Each row uses the bounded one, so neither huge x nor huge a overflows; rows where SciPy's
    2F1 still fails fall back to `special.beta_expectation` (quadrature over the posterior
    of p). At a = 1 exactly the prefactor is 0/0, so a is nudged by 1e-7.
    """
    r, alpha, a, b = (float(v) for v in np.asarray(params, dtype=np.float64))
    if abs(a - 1.0) < 1e-7:
        a = 1.0 + 1e-7
    k = 1 if modified else 0
    ta_, xa, txa, Ta = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (t, x, t_x, T))
    )
    z = ta_ / (alpha + Ta + ta_)
    c = a + b + xa - 1.0 + k
    direct = a - 1.0 - r - xa > 0.0
    power = np.where(direct, r + xa, a - 1.0)
    p1 = np.where(direct, r + xa, a + b - 1.0 + k - r)
    p2 = np.where(direct, b + xa + k, a - 1.0)
    log_factor = power * np.log1p(-z)
    term = np.zeros_like(z)  # (1-z)^power (2F1 - 1); 0 where the factor underflows
    live = log_factor > -700.0
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        if live.any():  # non-finite values here are replaced just below
            f = hyp2f1_regular(p1[live], p2[live], c[live], z[live])
            term[live] = np.exp(log_factor[live]) * (f - 1.0)
        bracket = -np.expm1(log_factor) - term
        per_alive = np.asarray(c / (a - 1.0) * bracket, dtype=np.float64)
    # Where SciPy's 2F1 fails (non-finite, or negative from lost digits), integrate instead.
    bad = (~np.isfinite(per_alive) | (per_alive < 0.0)) & (ta_ > 0.0)
    if bad.any():
        tau = ta_[bad] / (alpha + Ta[bad])
        per_alive[bad] = beta_expectation(a, b + xa[bad] + k, r + xa[bad], tau)
    alive = p_alive((r, alpha, a, b), xa, txa, Ta, modified)
    return np.asarray(np.maximum(per_alive, 0.0) * alive, dtype=np.float64)


def expected(params: ArrayLike, t: ArrayLike, modified: bool = False) -> FloatArray:
    """E[repeat purchases in (0, t]] for a new customer (the conditional form at x=t_x=T=0)."""
    tt = np.asarray(t, dtype=np.float64)
    zero = np.zeros_like(tt)
    return conditional_expected(params, tt, zero, zero, zero, modified)
