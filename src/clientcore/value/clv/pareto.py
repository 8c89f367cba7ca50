"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987) in the Fader-Hardie (2005) formulation.

    L = G(r+x)/G(r) alpha^r beta^s [ (alpha+T)^-(r+x) (beta+T)^-s + s/(r+s+x) A0 ]

A0 is the difference of two 2F1 terms; Fader and Hardie pick the branch (alpha >= beta or
alpha < beta) that keeps the argument z in [0, 1). After Euler's transformation each term is

    F(t) = (alpha+t)^-(r+x) (beta+t)^-s        2F1(1, r+x; r+s+x+1; z)   if alpha >= beta
    F(t) = (alpha+t)^(1-r-x) (beta+t)^-(s+1)   2F1(1, s+1; r+s+x+1; z)   otherwise

and A0 = F(t_x) - F(T), taken as log F(t_x) + log(1 - F(T)/F(t_x)). All of it stays in logs, so
huge x or T cannot overflow; for z near 1 the same A0 comes from quadrature (see `special`).
The gradient is analytic: the series for 2F1 yields its derivatives in b, c and z as it sums.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, gammaln

from clientcore.value.clv.data import FloatArray, Rft
from clientcore.value.clv.errors import FitError
from clientcore.value.clv.special import (
    SERIES_MAX_Z,
    log1mexp,
    log_hyp2f1_one,
    log_integral,
)

PARAM_NAMES: tuple[str, ...] = ("r", "alpha", "s", "beta")
_STEP = 1e-5  # central-difference step in log-parameter space


@dataclass(frozen=True, slots=True)
class _Parts:
    """log of the common factor, of the 'alive at T' term and of the drop-out term."""

    base: FloatArray
    alive: FloatArray
    dead: FloatArray


def _log_f(
    r: float, alpha: float, s: float, beta: float, x: FloatArray, t: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """log F(t) and its gradient in (r, alpha, s, beta), rows whose z is in series range."""
    c = r + s + x + 1.0
    at, bt = alpha + t, beta + t
    la, lb = np.log(at), np.log(bt)
    if alpha >= beta:
        g, g_b, g_c, g_z = log_hyp2f1_one(r + x, c, (alpha - beta) / at)
        value = -(r + x) * la - s * lb + g
        grad = (-la + g_b + g_c, -(r + x) / at + g_z * bt / at**2, -lb + g_c, -s / bt - g_z / at)
    else:
        g, g_b, g_c, g_z = log_hyp2f1_one(np.full_like(x, s + 1.0), c, (beta - alpha) / bt)
        value = (1.0 - r - x) * la - (s + 1.0) * lb + g
        grad = (
            -la + g_c,
            (1.0 - r - x) / at - g_z / bt,
            -lb + g_b + g_c,
            -(s + 1.0) / bt + g_z * at / bt**2,
        )
    return value, np.array(grad)


def _series_mask(alpha: float, beta: float, t_x: FloatArray) -> np.ndarray:
    return np.asarray(abs(alpha - beta) / (max(alpha, beta) + t_x) <= SERIES_MAX_Z)


def _parts(params: ArrayLike, x: FloatArray, t_x: FloatArray, T: FloatArray) -> _Parts:
    r, alpha, s, beta = (float(v) for v in np.asarray(params, dtype=np.float64))
    rx = r + x
    alive = -rx * np.log(alpha + T) - s * np.log(beta + T)
    series = _series_mask(alpha, beta, t_x)
    log_a0 = np.empty_like(x)
    if series.any():
        xs = x[series]
        f_tx, _ = _log_f(r, alpha, s, beta, xs, t_x[series])
        f_T, _ = _log_f(r, alpha, s, beta, xs, T[series])
        log_a0[series] = f_tx + log1mexp(np.minimum(f_T - f_tx, 0.0))
    quad = ~series
    if quad.any():
        xq = x[quad]
        log_a0[quad] = np.log(r + s + xq) + log_integral(r, alpha, s, beta, xq, t_x[quad], T[quad])
    dead = np.log(s) - np.log(r + s + x) + log_a0
    base = gammaln(rx) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    return _Parts(base=base, alive=alive, dead=dead)


def log_likelihood_rows(
    params: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> FloatArray:
    """Per-customer log-likelihood."""
    xa, ta, Ta = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (x, t_x, T)))
    with np.errstate(divide="ignore"):
        p = _parts(params, xa.ravel(), ta.ravel(), Ta.ravel())
    return np.asarray(p.base + np.logaddexp(p.alive, p.dead), dtype=np.float64).reshape(xa.shape)


def _series_gradient(
    params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray
) -> tuple[float, FloatArray]:
    """Sum of w * LL and its analytic gradient in natural parameters (series rows)."""
    r, alpha, s, beta = (float(v) for v in params)
    rx, rsx = r + x, r + s + x
    lT_a, lT_b = np.log(alpha + T), np.log(beta + T)
    alive = -rx * lT_a - s * lT_b
    m = x.size  # one series pass for both ends of the interval
    f_both, d_both = _log_f(r, alpha, s, beta, np.concatenate([x, x]), np.concatenate([t_x, T]))
    f_tx, f_T, d_tx, d_T = f_both[:m], f_both[m:], d_both[:, :m], d_both[:, m:]
    u = np.minimum(f_T - f_tx, 0.0)
    with np.errstate(divide="ignore"):
        dead = np.log(s) - np.log(rsx) + f_tx + log1mexp(u)
        q = 1.0 / np.expm1(-u)  # e^u / (1 - e^u); inf where t_x == T
    total = np.logaddexp(alive, dead)
    w_dead = np.exp(dead - total)
    d_a0 = d_tx + np.where(np.isfinite(q), q, 0.0) * (d_tx - d_T)
    g_base = np.array(
        [
            (w * (digamma(rx) - digamma(r) + np.log(alpha))).sum(),
            w.sum() * r / alpha,
            w.sum() * np.log(beta),
            w.sum() * s / beta,
        ]
    )
    g_alive = np.array([-lT_a, -rx / (alpha + T), -lT_b, -s / (beta + T)])
    g_dead = d_a0 + np.array([-1.0 / rsx, 0.0 * x, 1.0 / s - 1.0 / rsx, 0.0 * x])
    w_alive = 1.0 - w_dead
    grad = g_base + (w * (w_alive * g_alive + w_dead * g_dead)).sum(axis=1)
    base = gammaln(rx) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    return float((w * (base + total)).sum()), grad


def neg_log_likelihood(theta: FloatArray, data: Rft) -> tuple[float, FloatArray]:
    """-LL and its gradient in log-parameter space.

    Analytic on rows summed by series (the series carries its own derivatives); central
    differences on the few rows whose z is near 1 and go through quadrature.
    """
    params = np.exp(theta)
    series = _series_mask(float(params[1]), float(params[3]), data.t_x)
    ll, grad_nat = 0.0, np.zeros(4)
    if series.any():
        ll, grad_nat = _series_gradient(
            params, data.x[series], data.t_x[series], data.T[series], data.w[series]
        )
    grad = grad_nat * params
    quad = ~series
    if quad.any():
        xq, tq, Tq, wq = data.x[quad], data.t_x[quad], data.T[quad], data.w[quad]

        def f(th: FloatArray) -> float:
            return float((wq * log_likelihood_rows(np.exp(th), xq, tq, Tq)).sum())

        ll += f(theta)
        for i in range(4):
            step = np.zeros(4)
            step[i] = _STEP
            grad[i] += (f(theta + step) - f(theta - step)) / (2.0 * _STEP)
    return -ll, -grad


def start_values(data: Rft) -> FloatArray:
    """r = s = 1, alpha matching the repeat rate, beta the mean age."""
    total_x = float((data.w * data.x).sum())
    total_T = float((data.w * data.T).sum())
    alpha = total_T / max(total_x, 1e-9) if total_T > 0 else 1.0
    beta = max(total_T / max(float(data.w.sum()), 1.0), 1e-3)
    return np.array([1.0, min(max(alpha, 1e-6), 1e6), 1.0, beta])


def check_data(data: Rft) -> None:
    """Same identification requirements as BG/NBD."""
    if not (data.x > 0).any():
        raise FitError("pnbd", "no repeat buyers (every frequency is 0): parameters not identified")
    if not (data.T > 0).any():
        raise FitError("pnbd", "every customer has T = 0: no observation time to learn from")


def p_alive(params: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """P(alive at T | x, t_x, T) = alive term / (alive + drop-out terms)."""
    xa, ta, Ta = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (x, t_x, T)))
    with np.errstate(divide="ignore"):
        p = _parts(params, xa.ravel(), ta.ravel(), Ta.ravel())
    out = np.exp(p.alive - np.logaddexp(p.alive, p.dead))
    return np.asarray(out, dtype=np.float64).reshape(xa.shape)


def _survival_integral(s: float, horizon: FloatArray, scale: FloatArray) -> FloatArray:
    """scale * [1 - (scale/(scale+t))^(s-1)] / (s-1), with its limit scale*log(...) at s = 1."""
    log_ratio = np.log1p(horizon / scale)
    sm1 = s - 1.0
    if abs(sm1) < 1e-12:
        return np.asarray(scale * log_ratio, dtype=np.float64)
    return np.asarray(scale * -np.expm1(-sm1 * log_ratio) / sm1, dtype=np.float64)


def conditional_expected(
    params: ArrayLike, t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> FloatArray:
    """E[purchases in (T, T+t] | x, t_x, T] = (r+x)/(alpha+T) * E[active time] * P(alive)."""
    r, alpha, s, beta = (float(v) for v in np.asarray(params, dtype=np.float64))
    ta_, xa, txa, Ta = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (t, x, t_x, T))
    )
    alive = p_alive((r, alpha, s, beta), xa, txa, Ta)
    rate = (r + xa) / (alpha + Ta)
    return np.asarray(rate * _survival_integral(s, ta_, beta + Ta) * alive, dtype=np.float64)


def expected(params: ArrayLike, t: ArrayLike) -> FloatArray:
    """E[repeat purchases in (0, t]] for a new customer: r/alpha * E[active time in (0, t]]."""
    r, alpha, s, beta = (float(v) for v in np.asarray(params, dtype=np.float64))
    tt = np.asarray(t, dtype=np.float64)
    return np.asarray(r / alpha * _survival_integral(s, tt, np.full_like(tt, beta)))
