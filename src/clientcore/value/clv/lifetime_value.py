"""Customer lifetime value from a transaction model and a Gamma-Gamma spend model.

Method (as in Fader, Hardie & Lee 2005 and lifetimes, made explicit here):

1. Split (0, horizon] after the calibration end into steps of `step` time units (default one
   month, 30.4375 days).
2. Expected purchases in step k are E[Y(t_k)] - E[Y(t_(k-1))], from the model's conditional
   expectation given the customer's (x, t_x, T).
3. Each step's purchases are valued at the Gamma-Gamma expected spend per transaction and the
   margin, and discounted to the calibration end at the step's end, with an annual rate d:
   factor (1 + d) ** -(t_k * unit_days / 365.25).

    CLV = margin * E[spend] * sum_k (E[Y(t_k)] - E[Y(t_(k-1))]) * (1 + d) ** -(years to t_k)

Discounting at the step end is slightly conservative; smaller steps approach continuous
discounting of the expected purchase stream.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from clientcore.value.clv.data import FloatArray
from clientcore.value.clv.errors import DataError
from clientcore.value.clv.fitting import FittedModel
from clientcore.value.clv.models import expected_purchases, expected_spend

DAYS_PER_YEAR = 365.25
MONTH_DAYS = DAYS_PER_YEAR / 12.0


def discount_factors(times: FloatArray, annual_rate: float, unit_days: float) -> FloatArray:
    """(1 + rate) ** -(years), with times in model time units."""
    if annual_rate <= -1.0:
        raise DataError("discount_rate", "must be greater than -1")
    years = times * unit_days / DAYS_PER_YEAR
    return np.asarray(np.exp(-years * math.log1p(annual_rate)), dtype=np.float64)


def step_grid(horizon: float, step: float) -> FloatArray:
    """End points of the steps covering (0, horizon]; the last step may be shorter."""
    if not horizon > 0:
        raise DataError("horizon", "must be positive")
    if not step > 0:
        raise DataError("step", "must be positive")
    n = max(1, math.ceil(horizon / step - 1e-9))
    grid = np.minimum(np.arange(1, n + 1, dtype=np.float64) * step, horizon)
    return grid


def discounted_expected_purchases(
    fit: FittedModel,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    horizon: float,
    annual_discount_rate: float = 0.0,
    unit_days: float = 7.0,
    step: float | None = None,
) -> FloatArray:
    """sum_k (E[Y(t_k)] - E[Y(t_(k-1))]) * discount(t_k) per customer."""
    step = MONTH_DAYS / unit_days if step is None else step
    grid = step_grid(horizon, step)
    factors = discount_factors(grid, annual_discount_rate, unit_days)
    xa = np.asarray(x, dtype=np.float64)
    total = np.zeros(xa.shape, dtype=np.float64)
    previous = np.zeros(xa.shape, dtype=np.float64)
    for t_k, factor in zip(grid, factors, strict=True):
        current = expected_purchases(fit, t_k, xa, t_x, T)
        total += np.maximum(current - previous, 0.0) * factor
        previous = current
    return total


def customer_lifetime_value(
    transaction_fit: FittedModel,
    spend_fit: FittedModel,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    monetary_value: ArrayLike,
    horizon: float,
    margin: float = 1.0,
    annual_discount_rate: float = 0.0,
    unit_days: float = 7.0,
    step: float | None = None,
) -> FloatArray:
    """Discounted expected purchases x expected spend per transaction x margin."""
    purchases = discounted_expected_purchases(
        transaction_fit, x, t_x, T, horizon, annual_discount_rate, unit_days, step
    )
    spend = expected_spend(spend_fit, x, monetary_value)
    return np.asarray(margin * purchases * spend, dtype=np.float64)
