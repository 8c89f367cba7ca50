"""Scenario search over campaign factors (offer x channel x message x send time).

There are too many combinations to A/B test exhaustively (4 x 3 x 5 x 6 = 360), so we assume
the conversion logit is additive in factor levels (main effects, no interactions), fit a
Bayesian logistic regression by Laplace approximation on the aggregated results, and propose
the next combinations by Thompson sampling: draw coefficients from the posterior and take the
best level of every factor. Because the model is additive, the argmax of a draw is the
per-factor argmax, so we never enumerate the grid. Proposals concentrate on combinations that
*could* be best, which is how the search moves on from the best so far.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from clientcore.experiments.errors import InvalidInputError

Combination = dict[str, str]


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    best: Combination
    prob_best: float
    rate_mean: float
    rate_ci_low: float
    rate_ci_high: float
    ci_level: float
    tested: bool
    n_observed: int

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


class ScenarioSearch:
    """Thompson search with a main-effects logistic model; state is the aggregated results."""

    def __init__(
        self,
        factors: Mapping[str, Sequence[str]],
        *,
        prior_sd: float = 1.0,
        intercept_prior: tuple[float, float] = (-3.0, 2.0),
        draws: int = 4000,
        seed: int = 0,
    ) -> None:
        """``intercept_prior`` = (mean, sd) of the base logit: -3 ~ 5 % conversion."""
        if not factors or any(len(v) < 1 for v in factors.values()):
            raise InvalidInputError("need at least one factor with at least one level")
        self.factors = {str(k): [str(v) for v in vs] for k, vs in factors.items()}
        for name, levels in self.factors.items():
            if len(set(levels)) != len(levels):
                raise InvalidInputError(f"factor {name!r} has duplicate levels")
        self.prior_sd, self.intercept_prior = float(prior_sd), intercept_prior
        self.draws, self.seed, self.t = int(draws), int(seed), 0
        self.results: dict[tuple[str, ...], list[float]] = {}  # combo -> [successes, trials]
        self._offsets = np.cumsum([1] + [len(v) for v in self.factors.values()])[:-1]
        self.dim = 1 + sum(len(v) for v in self.factors.values())

    def _key(self, combo: Mapping[str, str]) -> tuple[str, ...]:
        try:
            key = tuple(str(combo[f]) for f in self.factors)
        except KeyError as exc:
            raise InvalidInputError(f"combination lacks factor {exc.args[0]!r}") from exc
        for (name, levels), value in zip(self.factors.items(), key, strict=True):
            if value not in levels:
                raise InvalidInputError(f"unknown level {value!r} of factor {name!r}")
        return key

    def _row(self, key: tuple[str, ...]) -> NDArray[np.float64]:
        x = np.zeros(self.dim)
        x[0] = 1.0
        for off, levels, value in zip(self._offsets, self.factors.values(), key, strict=True):
            x[off + levels.index(value)] = 1.0
        return x

    def observe(self, combo: Mapping[str, str], successes: float, trials: float) -> None:
        """Add aggregated results of one combination (incremental: call once a day)."""
        if trials < 0 or not 0 <= successes <= trials:
            raise InvalidInputError("need 0 <= successes <= trials")
        acc = self.results.setdefault(self._key(combo), [0.0, 0.0])
        acc[0] += successes
        acc[1] += trials

    def posterior(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Laplace approximation (mode, covariance) by Newton's method on the log posterior."""
        prec = np.full(self.dim, 1 / self.prior_sd**2)
        prec[0] = 1 / self.intercept_prior[1] ** 2
        prior_mean = np.zeros(self.dim)
        prior_mean[0] = self.intercept_prior[0]
        keys = list(self.results)
        x = np.array([self._row(k) for k in keys]).reshape(len(keys), self.dim)
        s = np.array([self.results[k][0] for k in keys])
        n = np.array([self.results[k][1] for k in keys])
        beta = prior_mean.copy()
        for _ in range(50):
            p = 1 / (1 + np.exp(-(x @ beta)))
            grad = x.T @ (s - n * p) - prec * (beta - prior_mean)
            hess = (x.T * (n * p * (1 - p))) @ x + np.diag(prec)
            step = np.linalg.solve(hess, grad)
            beta += step
            if np.max(np.abs(step)) < 1e-10:
                break
        p = 1 / (1 + np.exp(-(x @ beta)))
        hess = (x.T * (n * p * (1 - p))) @ x + np.diag(prec)
        return beta, np.linalg.inv(hess)

    def _draws(self, rng: np.random.Generator) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        mean, cov = self.posterior()
        beta = rng.multivariate_normal(mean, cov, size=self.draws, method="cholesky")
        best = np.stack(
            [
                np.argmax(beta[:, off : off + len(levels)], axis=1)
                for off, levels in zip(self._offsets, self.factors.values(), strict=True)
            ],
            axis=1,
        )
        return beta, best

    def _combo(self, idx: Sequence[int]) -> Combination:
        return {f: lv[i] for (f, lv), i in zip(self.factors.items(), idx, strict=True)}

    def propose(self, n: int = 3) -> list[Combination]:
        """Up to ``n`` distinct combinations, most often sampled-best first (Thompson)."""
        rng = np.random.default_rng([self.seed, self.t])
        self.t += 1
        _, best = self._draws(rng)
        uniq, counts = np.unique(best, axis=0, return_counts=True)
        order = np.argsort(-counts, kind="stable")
        return [self._combo(uniq[i]) for i in order[:n]]

    def best(self, ci_level: float = 0.9) -> ScenarioResult:
        """The combination most likely to be best, with a credible interval of its rate."""
        rng = np.random.default_rng([self.seed, 10**9])
        beta, best = self._draws(rng)
        uniq, counts = np.unique(best, axis=0, return_counts=True)
        top = uniq[np.argmax(counts)]
        combo = self._combo(top)
        key = self._key(combo)
        rate = 1 / (1 + np.exp(-(beta @ self._row(key))))
        lo, hi = np.quantile(rate, [(1 - ci_level) / 2, (1 + ci_level) / 2])
        return ScenarioResult(
            best=combo,
            prob_best=float(counts.max() / self.draws),
            rate_mean=float(rate.mean()),
            rate_ci_low=float(lo),
            rate_ci_high=float(hi),
            ci_level=ci_level,
            tested=key in self.results,
            n_observed=int(self.results.get(key, [0, 0])[1]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "factors": self.factors,
            "prior_sd": self.prior_sd,
            "intercept_prior": list(self.intercept_prior),
            "draws": self.draws,
            "seed": self.seed,
            "t": self.t,
            "results": [[list(k), v[0], v[1]] for k, v in self.results.items()],
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> ScenarioSearch:
        obj = cls(
            state["factors"],
            prior_sd=state["prior_sd"],
            intercept_prior=tuple(state["intercept_prior"]),
            draws=state["draws"],
            seed=state["seed"],
        )
        obj.t = int(state["t"])
        for key, s, n in state["results"]:
            obj.observe(dict(zip(obj.factors, key, strict=True)), s, n)
        return obj
