"""Off-policy evaluation: what would a new policy have earned on the decisions we logged?

Estimators (value of the target policy pi from logs of the behaviour policy mu):

- IPS: mean of w r with w = pi(a|x) / mu(a|x). Unbiased, high variance.
- SNIPS: sum(w r) / sum(w). Slightly biased, much lower variance, scale invariant.
- DM: mean over rounds of sum_a pi(a|x) q(x, a) with a reward model q (ridge regression on
  context features per action, or per-action means without features). Biased if q is wrong.
- DR: DM + w (r - q(x, a)). Unbiased if either mu or q is right.

Formulas follow Open Bandit Pipeline (obp.ope) exactly, which the benchmark cross-checks.
Intervals are normal (CLT) on per-round contributions (the influence function for SNIPS); the
DM/DR intervals ignore reward-model fitting error, as obp's bootstrap does with a fixed model.

Slates: with a ``position`` column we use the position-based independence estimator: each
(round, position) is a separate decision with its own marginal propensity, and the reward at a
position depends only on the item shown there. The slate value is the sum over positions;
interactions between positions (cannibalisation) are outside this assumption.

Effective sample size (sum w)^2 / sum w^2 says how many logged rows the estimate really rests
on; ``low_ess_warning`` fires when it is below 100 or 1 % of the rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray
from scipy import stats as sps

from clientcore.experiments.errors import InvalidInputError
from clientcore.experiments.frequentist import clean
from clientcore.experiments.ope_tables import OpeArrays, parse_tables

ESTIMATORS = ("ips", "snips", "dm", "dr")
MIN_ESS = 100.0
MIN_ESS_SHARE = 0.01


@dataclass(frozen=True, slots=True)
class EstimatorResult:
    name: str
    value: float
    se: float
    ci_low: float
    ci_high: float
    by_position: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "value": self.value,
            "se": self.se,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
        }
        if self.by_position:
            out["by_position"] = dict(self.by_position)
        return clean(out)


@dataclass(frozen=True, slots=True)
class OpeResult:
    estimators: dict[str, EstimatorResult]
    n_rounds: int
    n_rows: int
    actions: tuple[str, ...]
    positions: tuple[str, ...]
    ess: float
    alpha: float
    reward_model: str
    warnings: tuple[str, ...] = ()

    @property
    def low_ess_warning(self) -> bool:
        return self.ess < MIN_ESS or self.ess < MIN_ESS_SHARE * self.n_rows

    def to_dict(self) -> dict[str, Any]:
        return clean(
            {
                "estimators": {k: v.to_dict() for k, v in self.estimators.items()},
                "n_rounds": self.n_rounds,
                "n_rows": self.n_rows,
                "actions": list(self.actions),
                "positions": list(self.positions),
                "ess": self.ess,
                "ess_share": self.ess / self.n_rows if self.n_rows else None,
                "low_ess_warning": self.low_ess_warning,
                "alpha": self.alpha,
                "confidence": 1 - self.alpha,
                "reward_model": self.reward_model,
                "warnings": list(self.warnings),
            }
        )


def _ridge_predict(
    x: NDArray[np.float64], y: NDArray[np.float64], x_new: NDArray[np.float64], ridge: float
) -> NDArray[np.float64]:
    """sklearn.linear_model.Ridge semantics: centred, intercept not penalised."""
    xm, ym = x.mean(axis=0), y.mean()
    xc = x - xm
    w = np.linalg.solve(xc.T @ xc + ridge * np.eye(x.shape[1]), xc.T @ (y - ym))
    return ym + (x_new - xm) @ w


def fit_reward_model(data: OpeArrays, *, ridge: float = 1.0) -> NDArray[np.float64]:
    """q(x, a) for every logged row and every action: one model per (action, position).

    An action never logged at a position falls back to that position's mean reward.
    """
    n, k = data.target.shape
    q = np.empty((n, k))
    for p in np.unique(data.position_index):
        rows = np.flatnonzero(data.position_index == p)
        fallback = data.reward[rows].mean()
        for a in range(k):
            fit = rows[data.action_index[rows] == a]
            if fit.size == 0:
                q[rows, a] = fallback
            elif data.features is None or fit.size < 2:
                q[rows, a] = data.reward[fit].mean()
            else:
                q[rows, a] = _ridge_predict(
                    data.features[fit], data.reward[fit], data.features[rows], ridge
                )
    return q


def estimate(
    data: OpeArrays,
    *,
    q_hat: NDArray[np.float64] | None = None,
    alpha: float = 0.05,
    ridge: float = 1.0,
) -> OpeResult:
    """All four estimators on aligned arrays (``q_hat`` overrides the built-in reward model)."""
    if not 0 < alpha < 1:
        raise InvalidInputError("alpha must be in (0, 1)")
    n_rows, k = data.target.shape
    if q_hat is None:
        q_hat = fit_reward_model(data, ridge=ridge)
        model = "ridge per action" if data.features is not None else "mean per action"
    else:
        model = "given"
    if q_hat.shape != (n_rows, k):
        raise InvalidInputError(f"q_hat must have shape {(n_rows, k)}, got {q_hat.shape}")
    rows = np.arange(n_rows)
    w = data.target[rows, data.action_index] / data.pscore
    r = data.reward
    q_logged = q_hat[rows, data.action_index]
    dm_row = np.einsum("ij,ij->i", data.target, q_hat)
    per_row = {"ips": w * r, "dm": dm_row, "dr": dm_row + w * (r - q_logged)}

    n_rounds = int(data.round_index.max()) + 1
    pos_ids = np.unique(data.position_index)
    z = float(sps.norm.ppf(1 - alpha / 2))
    results: dict[str, EstimatorResult] = {}
    for name in ESTIMATORS:
        infl = np.zeros(n_rounds)  # per-round influence (sum over positions)
        total, by_pos = 0.0, {}
        for p in pos_ids:
            m = data.position_index == p
            if name == "snips":
                v = float((w[m] * r[m]).sum() / w[m].sum())
                contrib = w[m] * (r[m] - v) / w[m].mean() + v
            else:
                contrib = per_row[name][m]
                v = float(contrib.mean())
            np.add.at(infl, data.round_index[m], contrib)
            total += v * m.sum() / n_rounds
            if data.positions:
                by_pos[data.positions[p]] = v
        se = float(infl.std(ddof=1) / np.sqrt(n_rounds)) if n_rounds > 1 else float("nan")
        results[name] = EstimatorResult(name, total, se, total - z * se, total + z * se, by_pos)

    ess = float(w.sum() ** 2 / np.square(w).sum()) if np.any(w > 0) else 0.0
    warnings = []
    if ess < MIN_ESS or ess < MIN_ESS_SHARE * n_rows:
        warnings.append(
            f"effective sample size {ess:.1f} of {n_rows} rows is tiny: the target policy "
            "rarely agrees with the logging policy, so IPS/SNIPS/DR are unreliable"
        )
    return OpeResult(
        estimators=results,
        n_rounds=n_rounds,
        n_rows=n_rows,
        actions=data.actions,
        positions=data.positions,
        ess=ess,
        alpha=alpha,
        reward_model=model,
        warnings=tuple(warnings),
    )


def evaluate_policy(
    logs: pa.Table, policy: pa.Table, *, alpha: float = 0.05, ridge: float = 1.0
) -> OpeResult:
    """Entry point for the CLI: validate the tables, fit the reward model, run all estimators.

    ``logs``: round_id, action, reward, propensity [, position] [, context features...];
    every other column is a context feature (numbers as-is, strings one-hot).
    ``policy``: round_id, action, probability [, position]; missing actions have probability 0.
    """
    return estimate(parse_tables(logs, policy), alpha=alpha, ridge=ridge)
