"""Thompson sampling, top-two Thompson sampling (best-arm identification), stopping rules.

- :class:`BernoulliThompson`: Beta posteriors, for conversions/clicks.
- :class:`GaussianThompson`: Normal-Inverse-Gamma posteriors, for revenue-like rewards.
- :class:`TopTwoThompson` (Russo 2016): wraps either model; with probability beta play the
  posterior sample's leader, else a re-sampled challenger (or the T3C challenger). It spends
  traffic where it helps *identify* the best arm instead of exploiting it, and stops with the
  Chernoff GLR rule whose threshold ``log(2 t (K - 1) / delta)`` makes it delta-PAC for any
  sampling rule (Garivier & Kaufmann 2016, Prop. 12), or on posterior probability of
  best >= 1 - delta (Bayesian, no frequentist guarantee).
- Contextual linear Thompson sampling lives in :mod:`clientcore.experiments.contextual`.

State is plain numbers (``to_dict``/``from_dict``); updates are incremental.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

from clientcore.experiments.errors import BanditStateError, InvalidInputError
from clientcore.experiments.policy_base import (
    ArmsMixin,
    Decision,
    argmax_frequencies,
    check_kind,
    prob_best_quadrature,
)

StopRule = Literal["glr", "glr_practical", "posterior"]
Challenger = Literal["transportation", "resample"]


class BernoulliThompson(ArmsMixin):
    """Beta(a0 + successes, b0 + failures) per arm; rewards in [0, 1]."""

    kind = "bernoulli_thompson"

    def __init__(
        self,
        arms: Sequence[str] | int,
        *,
        prior: tuple[float, float] = (1.0, 1.0),
        draws: int = 2000,
        seed: int = 0,
    ) -> None:
        self._init_arms(arms, seed)
        self.prior, self.draws = (float(prior[0]), float(prior[1])), int(draws)
        self.successes = np.zeros(len(self.arms))
        self.counts = np.zeros(len(self.arms))

    def update(self, arm: str | int, reward: float) -> None:
        if not 0.0 <= reward <= 1.0:
            raise InvalidInputError(f"Bernoulli reward must be in [0, 1], got {reward}")
        i = self.index(arm)
        self.successes[i] += reward
        self.counts[i] += 1

    def sample(self, rng: np.random.Generator, size: int) -> NDArray[np.float64]:
        a = self.prior[0] + self.successes
        b = self.prior[1] + self.counts - self.successes
        return rng.beta(a, b, size=(size, len(self.arms)))

    def means(self) -> NDArray[np.float64]:
        return self.successes / np.maximum(self.counts, 1)

    def marginals(self) -> list[Any]:
        a = self.prior[0] + self.successes
        b = self.prior[1] + self.counts - self.successes
        return [sps.beta(ai, bi) for ai, bi in zip(a, b, strict=True)]

    def propensities(self, rng: np.random.Generator | None = None) -> NDArray[np.float64]:
        return argmax_frequencies(self.sample(rng or self._rng(), self.draws))

    def select(self) -> Decision:
        rng = self._rng()
        return self._decide(self.propensities(rng), rng)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "arms": list(self.arms),
            "prior": list(self.prior),
            "draws": self.draws,
            "seed": self.seed,
            "t": self.t,
            "successes": self.successes.tolist(),
            "counts": self.counts.tolist(),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> BernoulliThompson:
        check_kind(state, cls.kind)
        try:
            obj = cls(state["arms"], prior=tuple(state["prior"]), draws=state["draws"])
            obj.seed, obj.t = int(state["seed"]), int(state["t"])
            obj.successes = np.asarray(state["successes"], dtype=float)
            obj.counts = np.asarray(state["counts"], dtype=float)
        except (KeyError, TypeError, ValueError) as exc:
            raise BanditStateError(f"malformed {cls.kind} state: {exc}") from exc
        if obj.successes.shape != (len(obj.arms),) or obj.counts.shape != obj.successes.shape:
            raise BanditStateError("state arrays do not match the number of arms")
        return obj


class GaussianThompson(ArmsMixin):
    """Normal-Inverse-Gamma posterior per arm (unknown mean and variance)."""

    kind = "gaussian_thompson"

    def __init__(
        self,
        arms: Sequence[str] | int,
        *,
        prior: tuple[float, float, float, float] = (0.0, 0.01, 1.0, 1.0),
        draws: int = 2000,
        seed: int = 0,
    ) -> None:
        """``prior`` = (mu0, kappa0, a0, b0); kappa0 small = weak prior on the mean."""
        self._init_arms(arms, seed)
        self.prior = tuple(float(x) for x in prior)
        self.draws = int(draws)
        k = len(self.arms)
        self.counts, self.sums, self.sum_squares = np.zeros(k), np.zeros(k), np.zeros(k)

    def update(self, arm: str | int, reward: float) -> None:
        if not math.isfinite(reward):
            raise InvalidInputError(f"reward must be finite, got {reward}")
        i = self.index(arm)
        self.counts[i] += 1
        self.sums[i] += reward
        self.sum_squares[i] += reward * reward

    def posterior(self) -> tuple[NDArray[np.float64], ...]:
        """(mu_n, kappa_n, a_n, b_n) per arm: the conjugate NIG update."""
        mu0, k0, a0, b0 = self.prior
        n = self.counts
        mean = self.sums / np.maximum(n, 1)
        ss = np.maximum(self.sum_squares - n * mean**2, 0.0)
        kn = k0 + n
        mun = (k0 * mu0 + self.sums) / kn
        an = a0 + n / 2
        bn = b0 + 0.5 * ss + k0 * n * (mean - mu0) ** 2 / (2 * kn)
        return mun, kn, an, bn

    def sample(self, rng: np.random.Generator, size: int) -> NDArray[np.float64]:
        mun, kn, an, bn = self.posterior()
        sigma2 = bn / rng.gamma(an, 1.0, size=(size, len(self.arms)))
        return mun + rng.standard_normal((size, len(self.arms))) * np.sqrt(sigma2 / kn)

    def means(self) -> NDArray[np.float64]:
        return self.sums / np.maximum(self.counts, 1)

    def marginals(self) -> list[Any]:
        """Posterior of each mean: Student t with 2 a_n dof (NIG marginal)."""
        mun, kn, an, bn = self.posterior()
        scale = np.sqrt(bn / (an * kn))
        return [sps.t(2 * a, loc=m, scale=sc) for m, a, sc in zip(mun, an, scale, strict=True)]

    def variances(self) -> NDArray[np.float64]:
        n = np.maximum(self.counts, 2)
        return np.maximum(self.sum_squares - self.sums**2 / n, 0.0) / (n - 1)

    def propensities(self, rng: np.random.Generator | None = None) -> NDArray[np.float64]:
        return argmax_frequencies(self.sample(rng or self._rng(), self.draws))

    def select(self) -> Decision:
        rng = self._rng()
        return self._decide(self.propensities(rng), rng)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "arms": list(self.arms),
            "prior": list(self.prior),
            "draws": self.draws,
            "seed": self.seed,
            "t": self.t,
            "counts": self.counts.tolist(),
            "sums": self.sums.tolist(),
            "sum_squares": self.sum_squares.tolist(),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> GaussianThompson:
        check_kind(state, cls.kind)
        try:
            obj = cls(state["arms"], prior=tuple(state["prior"]), draws=state["draws"])
            obj.seed, obj.t = int(state["seed"]), int(state["t"])
            for f in ("counts", "sums", "sum_squares"):
                arr = np.asarray(state[f], dtype=float)
                if arr.shape != (len(obj.arms),):
                    raise ValueError(f"{f} has shape {arr.shape}")
                setattr(obj, f, arr)
        except (KeyError, TypeError, ValueError) as exc:
            raise BanditStateError(f"malformed {cls.kind} state: {exc}") from exc
        return obj


def _kl_bernoulli(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    eps = 1e-12
    x, y = np.clip(x, eps, 1 - eps), np.clip(y, eps, 1 - eps)
    return x * np.log(x / y) + (1 - x) * np.log((1 - x) / (1 - y))


def glr_statistic(
    sums: ArrayLike,
    counts: ArrayLike,
    *,
    family: Literal["bernoulli", "gaussian"] = "bernoulli",
    variance: ArrayLike | float = 1.0,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Chernoff GLR: (empirical best arm, min over challengers of Z_best,b); last axis = arms.

    Z_a,b is the log-likelihood ratio of "a beats b" vs "they are equal", evaluated at the
    MLE; stopping when it exceeds log(2t(K-1)/delta) is delta-PAC. Vectorised over leading
    axes so simulations can run thousands of experiments at once.
    """
    s, n = np.asarray(sums, dtype=float), np.asarray(counts, dtype=float)
    mu = s / np.maximum(n, 1)
    best = np.argmax(mu, axis=-1)
    mu_a = np.take_along_axis(mu, best[..., None], axis=-1)
    n_a = np.take_along_axis(n, best[..., None], axis=-1)
    if family == "bernoulli":
        mix = (n_a * mu_a + n * mu) / np.maximum(n_a + n, 1)
        z = n_a * _kl_bernoulli(mu_a, mix) + n * _kl_bernoulli(mu, mix)
    else:
        var = np.broadcast_to(np.asarray(variance, dtype=float), mu.shape)
        var_a = np.take_along_axis(var, best[..., None], axis=-1)
        denom = var_a / np.maximum(n_a, 1) + var / np.maximum(n, 1)
        z = (mu_a - mu) ** 2 / (2 * denom)
    z = np.where(n > 0, z, 0.0)
    np.put_along_axis(z, best[..., None], np.inf, axis=-1)
    return best, z.min(axis=-1)


def transportation_costs(
    sums: ArrayLike,
    counts: ArrayLike,
    *,
    family: Literal["bernoulli", "gaussian"] = "bernoulli",
    variance: ArrayLike | float = 1.0,
) -> NDArray[np.float64]:
    """W[..., j, b]: GLR evidence that arm j beats arm b (0 if j does not look better).

    The challenger of leader j in the ``transportation`` top-two variant is argmin_b W[j, b]:
    the arm the data can least exclude, which is exactly what the GLR stopping rule waits for.
    """
    s, n = np.asarray(sums, dtype=float), np.asarray(counts, dtype=float)
    mu = s / np.maximum(n, 1)
    mj, mb = mu[..., :, None], mu[..., None, :]
    nj, nb = n[..., :, None], n[..., None, :]
    if family == "bernoulli":
        mix = (nj * mj + nb * mb) / np.maximum(nj + nb, 1)
        w = nj * _kl_bernoulli(mj, mix) + nb * _kl_bernoulli(mb, mix)
    else:
        var = np.broadcast_to(np.asarray(variance, dtype=float), mu.shape)
        denom = var[..., :, None] / np.maximum(nj, 1) + var[..., None, :] / np.maximum(nb, 1)
        w = (mj - mb) ** 2 / (2 * denom)
    w = np.where((mj > mb) & (nj > 0) & (nb > 0), w, 0.0)
    k = mu.shape[-1]
    w[..., np.arange(k), np.arange(k)] = np.inf
    return w


def glr_threshold(
    t: ArrayLike, delta: float, k: int, rule: StopRule = "glr"
) -> NDArray[np.float64]:
    """``glr``: log(2t(K-1)/delta), proven delta-PAC; ``glr_practical``: log((1+log t)/delta).

    The practical threshold is what G&K use in experiments; it is not proven, so the
    benchmark reports its empirical error rate too.
    """
    tt = np.maximum(np.asarray(t, dtype=float), 1.0)
    if rule == "glr_practical":
        return np.log((1 + np.log(tt)) / delta)
    return np.log(2 * tt * (k - 1) / delta)


@dataclass(frozen=True, slots=True)
class StopStatus:
    stop: bool
    best_arm: str
    rule: StopRule
    statistic: float
    threshold: float
    prob_best: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "stop": self.stop,
            "best_arm": self.best_arm,
            "rule": self.rule,
            "statistic": self.statistic,
            "threshold": self.threshold,
            "prob_best": list(self.prob_best),
        }


class TopTwoThompson:
    """Top-two sampling for best-arm identification; the leader is a Thompson draw.

    ``challenger="resample"`` (default) is Russo's (2016) TTTS: re-draw the posterior until
    another arm leads. ``challenger="transportation"`` (T3C, Shang et al. 2020) takes the arm
    with the smallest GLR evidence against it: deterministic given the leader and cheaper.
    Both are asymptotically beta-optimal; benchmarks/experiments.md compares them.
    """

    kind = "top_two_thompson"

    def __init__(
        self,
        model: BernoulliThompson | GaussianThompson,
        *,
        beta: float = 0.5,
        challenger: Challenger = "resample",
    ) -> None:
        if not 0 < beta < 1:
            raise InvalidInputError("beta must be in (0, 1)")
        if challenger not in ("transportation", "resample"):
            raise InvalidInputError(f"unknown challenger rule {challenger!r}")
        self.model, self.beta, self.challenger = model, float(beta), challenger

    def _costs(self) -> NDArray[np.float64]:
        m = self.model
        if isinstance(m, BernoulliThompson):
            return transportation_costs(m.successes, m.counts)
        return transportation_costs(m.sums, m.counts, family="gaussian", variance=m.variances())

    @property
    def arms(self) -> tuple[str, ...]:
        return self.model.arms

    def update(self, arm: str | int, reward: float) -> None:
        self.model.update(arm, reward)

    def propensities(self, rng: np.random.Generator | None = None) -> NDArray[np.float64]:
        """Exact probability of playing each arm; a = P(i is best) by quadrature.

        transportation: beta a_i + (1 - beta) sum_j a_j [challenger(j) = i].
        resample: beta a_i + (1 - beta) sum_{j != i} a_j a_i / (1 - a_j), because Russo's
        challenger is re-drawn until its argmax differs from the leader j.
        The a come from quadrature, not Monte Carlo: a Monte Carlo estimate rounds the small
        a_i of clearly worse arms to 0 and starves them, so the GLR rule would never fire.
        ``rng`` is accepted for interface symmetry and unused.
        """
        marg = self.model.marginals()
        alpha = prob_best_quadrature(marg)
        probs = self.beta * alpha
        if self.challenger == "transportation":
            chall = np.argmin(self._costs(), axis=1)  # challenger of each possible leader
            np.add.at(probs, chall, (1 - self.beta) * alpha)
            return probs / probs.sum()
        for j in np.flatnonzero(alpha):
            rest = alpha.copy()
            rest[j] = 0.0
            if rest.sum() <= 1e-300:  # underflow: the best among the others, by quadrature
                rest = prob_best_quadrature(marg, exclude=int(j))
            probs += (1 - self.beta) * alpha[j] * rest / rest.sum()
        return probs / probs.sum()

    def prob_best(self, rng: np.random.Generator | None = None) -> NDArray[np.float64]:
        """P(arm is best) by quadrature (``rng`` unused)."""
        return prob_best_quadrature(self.model.marginals())

    def select(self) -> Decision:
        rng = self.model._rng()
        return self.model._decide(self.propensities(rng), rng)

    def stop_status(self, delta: float = 0.05, *, rule: StopRule = "glr") -> StopStatus:
        """Should the identification stop now, and which arm is recommended?"""
        if not 0 < delta < 1:
            raise InvalidInputError("delta must be in (0, 1)")
        m = self.model
        pb = self.prob_best()
        if rule == "posterior":
            i = int(np.argmax(pb))
            return StopStatus(
                bool(pb[i] >= 1 - delta), m.arms[i], rule, float(pb[i]), 1 - delta, tuple(pb)
            )
        if isinstance(m, BernoulliThompson):
            best, z = glr_statistic(m.successes, m.counts)
        else:
            best, z = glr_statistic(m.sums, m.counts, family="gaussian", variance=m.variances())
        thr = float(glr_threshold(m.counts.sum(), delta, len(m.arms), rule))
        stat = float(z) if np.all(m.counts > 0) else 0.0
        return StopStatus(stat > thr, m.arms[int(best)], rule, stat, thr, tuple(pb))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "beta": self.beta,
            "challenger": self.challenger,
            "model": self.model.to_dict(),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> TopTwoThompson:
        check_kind(state, cls.kind)
        inner = state.get("model", {})
        model: BernoulliThompson | GaussianThompson
        if inner.get("kind") == GaussianThompson.kind:
            model = GaussianThompson.from_dict(inner)
        else:
            model = BernoulliThompson.from_dict(inner)
        challenger = state.get("challenger", "resample")
        return cls(model, beta=float(state.get("beta", 0.5)), challenger=challenger)
