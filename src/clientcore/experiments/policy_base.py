"""Shared pieces of every bandit policy: decisions with propensities, seeded randomness.

Why propensities: a decision logged without the probability of having been chosen cannot be
re-used for off-policy evaluation. Thompson sampling has no closed-form choice probability, so
we estimate it with ``draws`` posterior samples and then *sample the arm from that estimate*:
the logged propensity is then exactly the probability of the policy that actually ran.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from clientcore.experiments.errors import BanditStateError


@dataclass(frozen=True, slots=True)
class Decision:
    """The chosen arm and the probability the policy had of choosing it."""

    arm: str
    index: int
    propensity: float
    propensities: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "arm": self.arm,
            "index": self.index,
            "propensity": self.propensity,
            "propensities": list(self.propensities),
        }


def prob_best_quadrature(
    marginals: Sequence[Any], *, points: int = 400, exclude: int | None = None
) -> NDArray[np.float64]:
    """P(arm i has the largest value) for independent posteriors, by 1-D quadrature.

    alpha_i = integral of pdf_i(x) prod_{k != i} cdf_k(x) dx. Unlike Monte Carlo this resolves
    probabilities far below 1/draws, which top-two sampling needs: its exploration of clearly
    worse arms lives in exactly those tiny probabilities. ``exclude`` drops one arm (its
    probability is returned as 0).
    """
    keep = [i for i in range(len(marginals)) if i != exclude]
    grids = [np.linspace(marginals[i].ppf(1e-10), marginals[i].isf(1e-10), points) for i in keep]
    x = np.unique(np.concatenate(grids))
    with np.errstate(divide="ignore"):
        log_cdf = np.array([marginals[i].logcdf(x) for i in keep])
    pdf = np.array([marginals[i].pdf(x) for i in keep])
    total = log_cdf.sum(axis=0)
    with np.errstate(invalid="ignore"):
        others = np.exp(np.where(np.isfinite(log_cdf), total - log_cdf, -np.inf))
    dens = np.nan_to_num(pdf * others)
    probs = np.clip(np.trapezoid(dens, x, axis=1), 0.0, None)
    out = np.zeros(len(marginals))
    out[keep] = probs / probs.sum() if probs.sum() > 0 else 1.0 / len(keep)
    return out


def argmax_frequencies(samples: NDArray[np.float64]) -> NDArray[np.float64]:
    """P(arm is the argmax) estimated from posterior samples of shape (draws, arms)."""
    k = samples.shape[1]
    counts = np.bincount(np.argmax(samples, axis=1), minlength=k)
    return counts / samples.shape[0]


class ArmsMixin:
    """Arm naming and the seeded, serialisable random stream shared by all policies."""

    arms: tuple[str, ...]
    seed: int
    t: int

    def _init_arms(self, arms: Sequence[str] | int, seed: int) -> None:
        names = tuple(str(i) for i in range(arms)) if isinstance(arms, int) else tuple(arms)
        if len(names) < 2 or len(set(names)) != len(names):
            raise BanditStateError("need at least two distinct arm names")
        self.arms, self.seed, self.t = names, int(seed), 0

    def index(self, arm: str | int) -> int:
        if isinstance(arm, (int, np.integer)) and not isinstance(arm, bool):
            if 0 <= int(arm) < len(self.arms):
                return int(arm)
        elif arm in self.arms:
            return self.arms.index(arm)
        raise BanditStateError(f"unknown arm {arm!r}; known arms: {list(self.arms)}")

    def _rng(self) -> np.random.Generator:
        """A fresh stream per decision: reproducible from (seed, t) after a restore."""
        rng = np.random.default_rng([self.seed, self.t])
        self.t += 1
        return rng

    def _decide(self, probs: NDArray[np.float64], rng: np.random.Generator) -> Decision:
        p = np.clip(probs, 0.0, None)
        p = p / p.sum()
        i = int(rng.choice(len(self.arms), p=p))
        return Decision(self.arms[i], i, float(p[i]), tuple(float(x) for x in p))


def check_kind(state: dict[str, Any], kind: str) -> None:
    if state.get("kind") != kind:
        raise BanditStateError(f"state is for {state.get('kind')!r}, not {kind!r}")
