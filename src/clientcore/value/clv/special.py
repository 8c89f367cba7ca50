"""Special functions for the Pareto/NBD likelihood, evaluated in log space.

The Pareto/NBD drop-out term is (r+s+x) * I(t_x, T) with

    I(t1, t2) = integral_{t1}^{t2} (alpha+u)^-(r+x) (beta+u)^-(s+1) du,

which the Fader-Hardie note writes as a difference of Gauss hypergeometric terms
2F1(r+s+x, b'; r+s+x+1; z) with z = |alpha-beta| / (max(alpha, beta) + t) in [0, 1). Euler's
transformation turns each into 2F1(1, b''; c; z), a series of positive terms whose ratio stays
below z, so the sum converges with a known remainder bound. Near z = 1 the series needs
~1/(1-z) terms, so there the same integral is taken by Gauss-Legendre quadrature in
v = log(min(alpha, beta) + u), where the integrand is log-concave and smooth.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import gammaln, hyp2f1

from clientcore.value.clv.data import FloatArray

SERIES_MAX_Z = 0.9  # above this the quadrature is cheaper than the series
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(16)
_PANELS = 8
_DROP = 46.0  # log-integrand this far below its maximum contributes < 1e-20


def log1mexp(u: FloatArray) -> FloatArray:
    """log(1 - exp(u)) for u <= 0, accurate at both ends (Maechler 2012)."""
    u = np.minimum(u, 0.0)
    out = np.full_like(u, -np.inf)
    near = (u > -0.6931471805599453) & (u < 0.0)
    far = u <= -0.6931471805599453
    out[near] = np.log(-np.expm1(u[near]))
    out[far] = np.log1p(-np.exp(u[far]))
    return out


def log_hyp2f1_one(
    b: FloatArray, c: FloatArray, z: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """log 2F1(1, b; c; z) and its derivatives in b, c and z, for 0 <= z <= SERIES_MAX_Z, b < c.

    Terms t_n = t_(n-1) z (b+n-1)/(c+n-1) are positive with ratio below z, so after a term the
    rest is below t z/(1-z). The derivatives come from the same terms:
    dt_n/db = t_n sum_(j<n) 1/(b+j), dt_n/dc = -t_n sum_(j<n) 1/(c+j), dt_n/dz = n t_n / z.
    """
    total = np.ones_like(z)
    d_b = np.zeros_like(z)
    d_c = np.zeros_like(z)
    d_z = b / c  # the z -> 0 limit, kept where z == 0
    idx = np.flatnonzero(z > 0.0)
    bb, cc, zz = b[idx], c[idx], z[idx]
    term = np.ones_like(zz)
    acc, acc_b, acc_c, acc_z = (
        np.ones_like(zz),
        np.zeros_like(zz),
        np.zeros_like(zz),
        np.zeros_like(zz),
    )
    sum_b, sum_c = np.zeros_like(zz), np.zeros_like(zz)
    tail = zz / (1.0 - zz)
    n = 0.0
    while idx.size:
        for _ in range(8):
            inv_c = 1.0 / (cc + n)
            sum_b += 1.0 / (bb + n)
            sum_c += inv_c
            term *= zz * (bb + n) * inv_c
            n += 1.0
            acc += term
            acc_b += term * sum_b
            acc_c += term * sum_c
            acc_z += n * term
        done = term * tail * (n + 10.0) * (1.0 + sum_b + sum_c) <= 1e-16 * acc
        if done.any():
            pos = idx[done]
            total[pos] = acc[done]
            d_b[pos] = acc_b[done]
            d_c[pos] = -acc_c[done]
            d_z[pos] = acc_z[done] / zz[done]
            keep = ~done
            idx = idx[keep]
            bb, cc, zz, term, acc, tail = (v[keep] for v in (bb, cc, zz, term, acc, tail))
            acc_b, acc_c, acc_z, sum_b, sum_c = (
                v[keep] for v in (acc_b, acc_c, acc_z, sum_b, sum_c)
            )
    return np.log(total), d_b / total, d_c / total, d_z / total


def _phi(v: FloatArray, A: FloatArray, B: FloatArray, D: FloatArray) -> FloatArray:
    """Log-integrand in v, Jacobian included: -A v - B log(D + e^v)."""
    return -A * v - B * np.logaddexp(np.log(np.maximum(D, 1e-300)), v)


def log_integral(
    r: float, alpha: float, s: float, beta: float, x: FloatArray, t1: FloatArray, t2: FloatArray
) -> FloatArray:
    """log I(t1, t2) by composite Gauss-Legendre; -inf where t1 == t2.

    With v = log(min(alpha, beta) + u) the log-integrand is -A v - B log(D + e^v), concave, so
    the integrand is unimodal: integrate on either side of the mode, over the range where it
    is within e^-46 of its peak.
    """
    x = np.asarray(x, dtype=np.float64)
    if alpha >= beta:
        A, B, D, base = s + 0.0 * x, r + x, np.full_like(x, alpha - beta), beta
    else:
        A, B, D, base = r + x - 1.0, np.full_like(x, s + 1.0), np.full_like(x, beta - alpha), alpha
    v1 = np.log(base + t1)
    v2 = np.log(base + t2)
    # Interior mode only when A < 0 (integrand first rises): e^v / (D + e^v) = -A / B.
    rho = np.clip(-A / B, 0.0, 1.0 - 1e-16)
    with np.errstate(divide="ignore"):
        vm = np.log(D) + np.log(rho) - np.log1p(-rho)
    vm = np.clip(np.where(A < 0, vm, v1), v1, v2)
    peak = _phi(vm, A, B, D)
    lo = _bisect_level(vm, v1, peak - _DROP, A, B, D)
    hi = _bisect_level(vm, v2, peak - _DROP, A, B, D)
    out = np.full_like(x, -np.inf)
    terms = []
    for a_end, b_end in ((lo, vm), (vm, hi)):
        width = (b_end - a_end) / _PANELS
        for k in range(_PANELS):
            left = a_end + k * width
            nodes = left[:, None] + (0.5 * (_GL_NODES + 1.0))[None, :] * width[:, None]
            vals = _phi(nodes, A[:, None], B[:, None], D[:, None])  # Jacobian e^v included
            terms.append(vals + np.log(np.maximum(0.5 * width, 1e-300))[:, None])
    stacked = np.concatenate(terms, axis=1) + np.tile(np.log(_GL_WEIGHTS), 2 * _PANELS)
    top = stacked.max(axis=1)
    ok = (v2 > v1) & np.isfinite(top)
    out[ok] = top[ok] + np.log(np.exp(stacked[ok] - top[ok, None]).sum(axis=1))
    return out


def _bisect_level(
    start: FloatArray,
    end: FloatArray,
    level: FloatArray,
    A: FloatArray,
    B: FloatArray,
    D: FloatArray,
) -> FloatArray:
    """Point between start (above level) and end where the concave log-integrand meets level."""
    below = _phi(end, A, B, D) < level
    lo, hi = start.copy(), end.copy()
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        under = _phi(mid, A, B, D) < level
        hi = np.where(under, mid, hi)
        lo = np.where(under, lo, mid)
    return np.where(below, hi, end)


_GAP_EPS = 1e-5


def hyp2f1_regular(a: FloatArray, b: FloatArray, c: FloatArray, z: FloatArray) -> FloatArray:
    """Gauss 2F1 via SciPy, made safe where c - a - b is (nearly) an integer.

    There SciPy's transformation for z near 1 is singular (NaN at an exact integer, lost
    digits next to one). 2F1 is analytic in c, so evaluate at c shifted to put c - a - b
    just either side of the integer and interpolate linearly back: error O(1e-10).
    """
    a, b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c, z)))
    gap = c - a - b
    nearest = np.rint(gap)
    near = (np.abs(gap - nearest) < _GAP_EPS) & (z > 0.5)
    out = np.asarray(hyp2f1(a, b, c, z), dtype=np.float64)
    if near.any() and np.isfinite(gap).all():
        an, bn, cn, zn, gn, rn = (v[near] for v in (a, b, c, z, gap, nearest))
        lo = hyp2f1(an, bn, cn + (rn - _GAP_EPS - gn), zn)
        hi = hyp2f1(an, bn, cn + (rn + _GAP_EPS - gn), zn)
        out[near] = lo + (hi - lo) * (gn - (rn - _GAP_EPS)) / (2.0 * _GAP_EPS)
    return out


def _log_g_over_p(log_p: FloatArray, m: FloatArray, tau: FloatArray) -> FloatArray:
    """log[(1 - (1 + p tau)^-m) / p], stable for tiny and huge p tau."""
    log_ptau = log_p + np.log(tau)
    log1p_pt = np.logaddexp(0.0, log_ptau)
    return np.asarray(log1mexp(-m * log1p_pt) - log_p, dtype=np.float64)


def beta_expectation(a: float, B: FloatArray, m: FloatArray, tau: FloatArray) -> FloatArray:
    """E[(1 - (1 + p tau)^-m) / p] for p ~ Beta(a, B), by quadrature in y = logit(p).

    This is E[Y(t)] / P(alive) of the BG/NBD family (tau = t/(alpha+T), m = r+x) with no
    hypergeometric function, so it serves where SciPy's 2F1 breaks down. In y the
    log-integrand is smooth and nearly piecewise linear with slopes a, a-1 and -B; the range
    is cut where it is e^-46 below its peak and split at the bends (p = 1/tau, p = 1/2) and
    around the peak.
    """
    B, m, tau = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (B, m, tau)))
    lbeta = gammaln(a) + gammaln(B) - gammaln(a + B)

    def psi(y: FloatArray, b_: FloatArray, m_: FloatArray, t_: FloatArray) -> FloatArray:
        log_p = -np.logaddexp(0.0, -y)
        log_q = -np.logaddexp(0.0, y)
        return _log_g_over_p(log_p, m_, t_) + a * log_p + b_ * log_q

    # Coarse grid to locate the peak: covers both bends for any tau.
    centre = -0.5 * np.log(tau)
    grid = centre[:, None] + np.linspace(-80.0, 80.0, 321)[None, :]
    lo_edge = np.minimum(-np.log(tau) - 46.0 / min(a, 1.0) - 60.0, -60.0)
    hi_edge = 60.0 + 46.0 / np.minimum(B, 1.0)
    vals = psi(grid, B[:, None], m[:, None], tau[:, None])
    peak_at = grid[np.arange(B.size), np.argmax(vals, axis=1)]
    peak = vals.max(axis=1)
    level = peak - 46.0
    lo = _bisect(lambda y: psi(y, B, m, tau) < level, peak_at, lo_edge)
    hi = _bisect(lambda y: psi(y, B, m, tau) < level, peak_at, hi_edge)
    ltau = np.log(tau)
    bends = np.stack(
        [lo, -ltau - 3, -ltau + 3, -3 + 0 * lo, 3 + 0 * lo, hi]
        + [peak_at + d for d in (-8.0, -3.0, -1.0, 1.0, 3.0, 8.0)],
        axis=1,
    )
    edges = np.sort(np.clip(bends, lo[:, None], hi[:, None]), axis=1)
    total = np.full(B.shape, -np.inf)
    for j in range(edges.shape[1] - 1):
        left, right = edges[:, j], edges[:, j + 1]
        for sub in range(4):
            w = (right - left) / 4.0
            start = left + sub * w
            ys = start[:, None] + (0.5 * (_GL_NODES + 1.0))[None, :] * w[:, None]
            vals = psi(ys, B[:, None], m[:, None], tau[:, None])
            vals = (
                vals + np.log(_GL_WEIGHTS)[None, :] + np.log(np.maximum(0.5 * w, 1e-300))[:, None]
            )
            top = vals.max(axis=1)
            part = top + np.log(np.exp(vals - top[:, None]).sum(axis=1))
            total = np.logaddexp(total, np.where(w > 0, part, -np.inf))
    return np.asarray(np.exp(total - lbeta), dtype=np.float64)


def _bisect(
    below: Callable[[FloatArray], np.ndarray], start: FloatArray, end: FloatArray
) -> FloatArray:
    """Point between start (above the level) and end where `below` switches on."""
    end = np.broadcast_to(end, start.shape).astype(np.float64)
    lo, hi = start.copy(), end.copy()
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        under = below(mid)
        hi = np.where(under, mid, hi)
        lo = np.where(under, lo, mid)
    return np.where(below(end), hi, end)
