"""Fit any of the four models by name and predict from a fitted record.

Large fits first solve a random subsample (binomial thinning of the row weights is an exact
random subsample of customers), then polish on the full data with Newton steps that reuse the
subsample's Hessian: a handful of full-data evaluations instead of dozens. If the polish does
not converge, L-BFGS-B takes over from the subsample optimum.
"""

from __future__ import annotations

import time

import numpy as np
from numpy.typing import ArrayLike

from clientcore.value.clv import bgnbd, gamma_gamma, pareto
from clientcore.value.clv._threads import single_blas_thread
from clientcore.value.clv.data import FloatArray, Rft, compress
from clientcore.value.clv.errors import ClvError, DataError, FitError
from clientcore.value.clv.fitting import (
    FittedModel,
    Objective,
    maximize,
    newton_polish,
    scaled_hessian,
)

TRANSACTION_MODELS: tuple[str, ...] = ("bgnbd", "pnbd", "mbgnbd")
MODELS: tuple[str, ...] = (*TRANSACTION_MODELS, "gg")
TITLES: dict[str, str] = {
    "bgnbd": "BG/NBD",
    "pnbd": "Pareto/NBD",
    "mbgnbd": "MBG/NBD",
    "gg": "Gamma-Gamma",
}
PARAM_NAMES: dict[str, tuple[str, ...]] = {
    "bgnbd": bgnbd.PARAM_NAMES,
    "mbgnbd": bgnbd.PARAM_NAMES,
    "pnbd": pareto.PARAM_NAMES,
    "gg": gamma_gamma.PARAM_NAMES,
}
# Above this many distinct rows, start from the optimum of a subsample of a fifth as many.
_WARM_ROWS = {"bgnbd": 250_000, "mbgnbd": 250_000, "pnbd": 30_000}
_SEED = 20050101


def _thin(data: Rft, rows: int) -> Rft | None:
    """Exact random subsample of customers holding about `rows` distinct rows, or None."""
    frac = rows / data.x.size
    if frac >= 0.5:
        return None
    rng = np.random.default_rng(_SEED)
    w = rng.binomial(np.rint(data.w).astype(np.int64), frac).astype(np.float64)
    keep = w > 0
    sub = Rft(x=data.x[keep], t_x=data.t_x[keep], T=data.T[keep], w=w[keep])
    return sub if (sub.x > 0).any() else None


def _objective(model: str, data: Rft) -> tuple[Objective, FloatArray]:
    if model == "pnbd":
        pareto.check_data(data)
        return (lambda th: pareto.neg_log_likelihood(th, data)), pareto.start_values(data)
    bgnbd.check_data(model, data)
    prep = bgnbd.prepare(data, modified=model == "mbgnbd")
    return (lambda th: bgnbd.neg_log_likelihood(th, prep)), bgnbd.start_values(prep)


def fit_rft(model: str, data: Rft, warm_start: bool = True) -> FittedModel:
    """Fit a transaction model on compressed rows (see `data.compress`)."""
    if model not in TRANSACTION_MODELS:
        raise ClvError(f"unknown transaction model {model!r}; choose from {TRANSACTION_MODELS}")
    names = PARAM_NAMES[model]
    objective, start = _objective(model, data)
    t0 = time.perf_counter()
    big = warm_start and data.x.size > _WARM_ROWS[model]
    sub = _thin(data, _WARM_ROWS[model] // 5) if big else None
    opt = None
    if sub is not None:
        try:
            sub_objective, sub_start = _objective(model, sub)
            sub_opt = maximize(TITLES[model], names, sub_objective, sub_start, sub.w.sum())
            start = sub_opt.params
            with single_blas_thread():
                hess = scaled_hessian(sub_objective, np.log(start), float(sub.w.sum()))
                opt = newton_polish(objective, np.log(start), hess, float(data.w.sum()))
        except FitError:
            pass  # the full data may still identify the model; start from the defaults
    if opt is None:
        opt = maximize(TITLES[model], names, objective, start, float(data.w.sum()))
    return FittedModel(
        model=model,
        params=dict(zip(names, (float(v) for v in opt.params), strict=True)),
        log_likelihood=opt.log_likelihood,
        n=data.n,
        converged=True,
        fit_seconds=time.perf_counter() - t0,
        iterations=opt.iterations,
        extras={"distinct_rows": float(data.x.size)},
    )


def fit(
    model: str,
    frequency: ArrayLike,
    recency: ArrayLike | None = None,
    T: ArrayLike | None = None,
    monetary_value: ArrayLike | None = None,
    weights: ArrayLike | None = None,
) -> FittedModel:
    """Fit `model` ("bgnbd", "pnbd", "mbgnbd" or "gg") by maximum likelihood.

    Transaction models need frequency, recency and T; "gg" needs frequency and
    monetary_value. Raises DataError for malformed input and FitError when the data cannot
    identify the model or the optimiser fails.
    """
    if model == "gg":
        if monetary_value is None:
            raise DataError("monetary_value", "required for the gg model")
        return fit_gamma_gamma(frequency, monetary_value)
    if model not in TRANSACTION_MODELS:
        raise DataError("model", f"must be one of {', '.join(MODELS)}, got {model!r}")
    if recency is None or T is None:
        raise DataError("recency" if recency is None else "T", f"required for the {model} model")
    return fit_rft(model, compress(frequency, recency, T, weights))


def fit_gamma_gamma(frequency: ArrayLike, monetary_value: ArrayLike) -> FittedModel:
    """Gamma-Gamma on repeat buyers with positive mean spend; excluded customers are counted."""
    data = gamma_gamma.select(frequency, monetary_value)
    gamma_gamma.check_data(data)
    prep = gamma_gamma.prepare(data)
    opt = maximize(
        "Gamma-Gamma",
        gamma_gamma.PARAM_NAMES,
        lambda th: gamma_gamma.neg_log_likelihood(th, prep),
        gamma_gamma.start_values(prep),
        prep.n,
    )
    return FittedModel(
        model="gg",
        params=dict(zip(gamma_gamma.PARAM_NAMES, (float(v) for v in opt.params), strict=True)),
        log_likelihood=opt.log_likelihood,
        n=int(data.x.size),
        converged=True,
        fit_seconds=opt.seconds,
        iterations=opt.iterations,
        n_excluded=data.n_excluded,
        extras={
            "mean_spend": float(data.m.mean()),
            "excluded_zero_frequency": float(data.n_zero_frequency),
            "excluded_nonpositive_spend": float(data.n_nonpositive_spend),
        },
    )


def _params(fit: FittedModel) -> FloatArray:
    try:
        return np.array([fit.params[name] for name in PARAM_NAMES[fit.model]])
    except KeyError as exc:
        raise ClvError(f"{fit.model}: fitted record lacks parameter {exc}") from exc


def _transaction(fit: FittedModel) -> str:
    if fit.model not in TRANSACTION_MODELS:
        raise ClvError(f"{fit.model} is not a transaction model (use bgnbd, pnbd or mbgnbd)")
    return fit.model


def log_likelihood(fit: FittedModel, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """Per-customer log-likelihood under a fitted transaction model."""
    model, params = _transaction(fit), _params(fit)
    if model == "pnbd":
        return pareto.log_likelihood_rows(params, x, t_x, T)
    return bgnbd.log_likelihood_rows(params, x, t_x, T, modified=model == "mbgnbd")


def p_alive(fit: FittedModel, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """Probability each customer is still active at the end of calibration."""
    model, params = _transaction(fit), _params(fit)
    if model == "pnbd":
        return pareto.p_alive(params, x, t_x, T)
    return bgnbd.p_alive(params, x, t_x, T, modified=model == "mbgnbd")


def expected_purchases(
    fit: FittedModel,
    t: ArrayLike,
    x: ArrayLike | None = None,
    t_x: ArrayLike | None = None,
    T: ArrayLike | None = None,
) -> FloatArray:
    """Expected purchases in the next t time units: conditional on (x, t_x, T) when given,
    otherwise for a new customer over (0, t]."""
    model, params = _transaction(fit), _params(fit)
    if x is None:
        if model == "pnbd":
            return pareto.expected(params, t)
        return bgnbd.expected(params, t, modified=model == "mbgnbd")
    if t_x is None or T is None:
        raise DataError("recency" if t_x is None else "T", "needed with frequency")
    if model == "pnbd":
        return pareto.conditional_expected(params, t, x, t_x, T)
    return bgnbd.conditional_expected(params, t, x, t_x, T, modified=model == "mbgnbd")


def expected_spend(fit: FittedModel, x: ArrayLike, m: ArrayLike) -> FloatArray:
    """Gamma-Gamma expected spend per transaction given x repeat purchases of mean m."""
    if fit.model != "gg":
        raise ClvError(f"expected spend needs a gg fit, got {fit.model}")
    return gamma_gamma.conditional_expected_spend(
        _params(fit), x, m, fallback=fit.extras.get("mean_spend")
    )
