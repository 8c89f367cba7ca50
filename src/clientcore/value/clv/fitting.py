"""Fitted-model record and the shared maximum-likelihood driver (L-BFGS-B in log space).

Parameters are all positive, so the optimiser works on their logarithms: the problem becomes
unconstrained, scale-free, and the wide box bounds only guard against overflow. The objective
is the mean negative log-likelihood per customer so tolerances mean the same at any size.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize

from clientcore.value.clv._threads import single_blas_thread
from clientcore.value.clv.errors import ClvError, FitError

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
Objective = Callable[[FloatArray], tuple[float, FloatArray | None]]

LOG_BOUND = 23.0  # exp(23) ~ 1e10: beyond this a parameter is not identified by the data
_ACCEPT_GRADIENT = 1e-4  # scaled gradient below which a stalled line search still counts
_MIN_CURVATURE = 1e-8  # per customer, in log-parameters: flatter than this is no peak


@dataclass(frozen=True, slots=True)
class FittedModel:
    """A fitted model: its parameters under the papers' names and how the fit went."""

    model: str
    params: dict[str, float]
    log_likelihood: float
    n: int
    converged: bool
    fit_seconds: float
    iterations: int = 0
    n_excluded: int = 0
    extras: dict[str, float] = field(default_factory=dict)

    @property
    def k(self) -> int:
        """Number of free parameters (for information criteria)."""
        return len(self.params)

    @property
    def aic(self) -> float:
        """Akaike information criterion, 2k - 2 LL."""
        return 2.0 * self.k - 2.0 * self.log_likelihood

    @property
    def bic(self) -> float:
        """Bayesian information criterion, k ln n - 2 LL."""
        return self.k * math.log(max(self.n, 1)) - 2.0 * self.log_likelihood

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record; `from_dict` reads it back for predictions."""
        return {
            "model": self.model,
            "params": dict(self.params),
            "log_likelihood": self.log_likelihood,
            "n_customers": self.n,
            "converged": self.converged,
            "fit_seconds": self.fit_seconds,
            "iterations": self.iterations,
            "n_excluded": self.n_excluded,
            "aic": self.aic,
            "bic": self.bic,
            "extras": dict(self.extras),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FittedModel:
        """Rebuild from `to_dict` output (e.g. the CLI's saved fit JSON)."""
        try:
            return cls(
                model=str(data["model"]),
                params={str(k): float(v) for k, v in dict(data["params"]).items()},
                log_likelihood=float(data.get("log_likelihood", math.nan)),
                n=int(data.get("n_customers", data.get("n", 0))),
                converged=bool(data.get("converged", True)),
                fit_seconds=float(data.get("fit_seconds", 0.0)),
                iterations=int(data.get("iterations", 0)),
                n_excluded=int(data.get("n_excluded", 0)),
                extras={str(k): float(v) for k, v in dict(data.get("extras", {})).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ClvError(f"not a fitted-model record: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Optimum:
    """What the driver found: natural-scale parameters and diagnostics."""

    params: FloatArray
    log_likelihood: float
    iterations: int
    seconds: float


def maximize(
    model: str,
    names: tuple[str, ...],
    neg_ll: Objective,
    start: FloatArray,
    n: float,
) -> Optimum:
    """Maximise a log-likelihood over log-parameters; raise FitError when it does not converge.

    `neg_ll(theta)` returns (-LL, d(-LL)/d theta) or (-LL, None) for a numerical gradient.
    """
    scale = 1.0 / max(n, 1.0)
    theta0 = np.log(np.asarray(start, dtype=np.float64))
    f0, g0 = neg_ll(theta0)
    if not math.isfinite(f0):
        raise FitError(model, "log-likelihood is not finite at the starting values")
    has_grad = g0 is not None

    def fun(theta: FloatArray) -> Any:
        f, g = neg_ll(theta)
        if not math.isfinite(f):
            f = 1e300  # steer the line search back; never reached at a valid optimum
            g = np.zeros_like(theta) if g is not None else None
        if has_grad:
            assert g is not None
            return f * scale, np.asarray(g) * scale
        return f * scale

    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(names)
    t0 = time.perf_counter()
    with single_blas_thread():
        res = minimize(
            fun,
            theta0,
            jac=has_grad,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9, "maxcor": 20},
        )
    seconds = time.perf_counter() - t0
    theta = np.asarray(res.x, dtype=np.float64)
    f_final = float(res.fun) / scale
    if not math.isfinite(f_final) or not np.isfinite(theta).all():
        raise FitError(model, "the optimiser reached a non-finite log-likelihood")
    grad = np.asarray(res.jac, dtype=np.float64) if res.jac is not None else None
    stalled_ok = grad is not None and float(np.abs(grad).max()) < _ACCEPT_GRADIENT
    if not res.success and not stalled_ok:
        raise FitError(
            model, f"optimiser did not converge after {res.nit} iterations: {res.message}"
        )
    at_bound = np.flatnonzero(np.abs(theta) >= LOG_BOUND - 1e-3)
    if at_bound.size:
        name = names[int(at_bound[0])]
        value = math.exp(float(theta[at_bound[0]]))
        raise FitError(
            model,
            f"parameter {name} ran to the edge of its range ({value:.3g}); "
            "the data cannot identify it",
        )
    if has_grad:
        _check_peak(model, names, neg_ll, theta, n)
    return Optimum(
        params=np.exp(theta), log_likelihood=-f_final, iterations=int(res.nit), seconds=seconds
    )


def _check_peak(
    model: str, names: tuple[str, ...], neg_ll: Objective, theta: FloatArray, n: float
) -> None:
    """Raise FitError unless the log-likelihood curves down in every direction here.

    Where the maximum lies at infinity (nobody drops out, everyone buys alike), L-BFGS-B may
    stop on the flat ridge inside the box and report success (SciPy 1.17 does); the curvature
    along the ridge is then zero or negative. Identified fits measured 1e-4 and more."""
    curvature, directions = np.linalg.eigh(scaled_hessian(neg_ll, theta, n))
    if curvature[0] > _MIN_CURVATURE:
        return
    ridge = np.abs(directions[:, 0]) > 0.3
    involved = ", ".join(name for name, on in zip(names, ridge, strict=True) if on)
    raise FitError(
        model,
        f"the log-likelihood has no peak: it stays flat as {involved} run away together; "
        "the data cannot identify the model",
    )


def scaled_hessian(neg_ll: Objective, theta: FloatArray, n: float, h: float = 1e-4) -> FloatArray:
    """Per-customer Hessian of -LL in log-parameters, by central differences of the gradient."""
    k = theta.size
    hess = np.empty((k, k))
    for i in range(k):
        step = np.zeros(k)
        step[i] = h
        g_plus, g_minus = neg_ll(theta + step)[1], neg_ll(theta - step)[1]
        if g_plus is None or g_minus is None:
            raise ClvError("scaled_hessian needs an objective with a gradient")
        hess[:, i] = (g_plus - g_minus) / (2.0 * h * n)
    return 0.5 * (hess + hess.T)


def newton_polish(
    neg_ll: Objective, theta0: FloatArray, hess: FloatArray, n: float, max_iter: int = 12
) -> Optimum | None:
    """Newton steps with a fixed Hessian (e.g. from a subsample) and backtracking.

    From a subsample optimum the full-data optimum is a small step away and the subsample
    Hessian is accurate to sampling error, so each step gains a few digits; None when that
    does not happen (the caller then falls back to L-BFGS-B).
    """
    t0 = time.perf_counter()
    theta = np.asarray(theta0, dtype=np.float64)
    f, g = neg_ll(theta)
    if g is None or not math.isfinite(f):
        return None
    try:
        chol = np.linalg.cholesky(hess)
    except np.linalg.LinAlgError:
        return None
    for it in range(max_iter):
        gs = np.asarray(g) / n
        if float(np.abs(gs).max()) < 1e-9:
            return Optimum(np.exp(theta), -f, it, time.perf_counter() - t0)
        step = -np.linalg.solve(chol.T, np.linalg.solve(chol, gs))
        slope = float(gs @ step) * n
        t = 1.0
        while True:
            cand = np.clip(theta + t * step, -LOG_BOUND, LOG_BOUND)
            fc, gc = neg_ll(cand)
            if math.isfinite(fc) and fc <= f + 1e-4 * t * slope:
                break
            t *= 0.5
            if t < 1e-3:
                return None
        theta, f, g = cand, fc, gc
    return None
