"""Contextual bandit: linear Thompson sampling on encoded customer features.

Each arm keeps a Bayesian ridge regression reward ~ x . w_arm (disjoint model, Agrawal & Goyal
2013). Given a context the sampled score of an arm is one-dimensional normal, so propensities
by Monte Carlo cost K x draws normals, not K x d x draws.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from clientcore.experiments.errors import BanditStateError, InvalidInputError
from clientcore.experiments.policy_base import ArmsMixin, Decision, argmax_frequencies, check_kind


class ContextEncoder:
    """Intercept + one-hot categorical fields (+ numeric fields as-is).

    Unknown levels encode as all-zero for that field, so a new channel degrades to the
    intercept instead of crashing the decision endpoint.
    """

    def __init__(
        self, categorical: Mapping[str, Sequence[str]], numeric: Sequence[str] = ()
    ) -> None:
        self.categorical = {k: [str(v) for v in vs] for k, vs in categorical.items()}
        self.numeric = list(numeric)
        self.names = ["intercept"]
        for field, levels in self.categorical.items():
            self.names += [f"{field}={lv}" for lv in levels]
        self.names += self.numeric

    @property
    def dim(self) -> int:
        return len(self.names)

    def encode(self, context: Mapping[str, Any]) -> NDArray[np.float64]:
        x = np.zeros(self.dim)
        x[0] = 1.0
        pos = 1
        for field, levels in self.categorical.items():
            value = context.get(field)
            if value is not None and str(value) in levels:
                x[pos + levels.index(str(value))] = 1.0
            pos += len(levels)
        for field in self.numeric:
            value = float(context.get(field, 0.0))
            if not math.isfinite(value):
                raise InvalidInputError(f"context field {field!r} is not finite")
            x[pos] = value
            pos += 1
        return x

    def to_dict(self) -> dict[str, Any]:
        return {"categorical": self.categorical, "numeric": self.numeric}

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> ContextEncoder:
        return cls(state["categorical"], state.get("numeric", ()))


class LinearThompson(ArmsMixin):
    """Per-arm Bayesian ridge; sample w ~ N(A^-1 b, v^2 A^-1), play argmax x . w."""

    kind = "linear_thompson"

    def __init__(
        self,
        arms: Sequence[str] | int,
        dim: int,
        *,
        ridge: float = 1.0,
        scale: float = 0.5,
        draws: int = 2000,
        seed: int = 0,
        encoder: ContextEncoder | None = None,
    ) -> None:
        """``scale`` (v) widens the posterior: larger explores more."""
        self._init_arms(arms, seed)
        if encoder is not None and encoder.dim != dim:
            raise InvalidInputError(f"encoder has {encoder.dim} features, dim is {dim}")
        self.dim, self.ridge, self.scale, self.draws = int(dim), float(ridge), float(scale), draws
        self.encoder = encoder
        k = len(self.arms)
        self.A = np.repeat(np.eye(self.dim)[None] * self.ridge, k, axis=0)
        self.b = np.zeros((k, self.dim))

    def _x(self, context: ArrayLike | Mapping[str, Any]) -> NDArray[np.float64]:
        if isinstance(context, Mapping):
            if self.encoder is None:
                raise InvalidInputError("a dict context needs an encoder")
            return self.encoder.encode(context)
        x = np.asarray(context, dtype=float).ravel()
        if x.shape != (self.dim,):
            raise BanditStateError(f"context has {x.size} features, expected {self.dim}")
        return x

    def score_distribution(
        self, context: ArrayLike | Mapping[str, Any]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Posterior mean and sd of x . w for every arm."""
        x = self._x(context)
        ainv_x = np.linalg.solve(self.A, np.broadcast_to(x, self.b.shape)[..., None])[..., 0]
        mean = np.einsum("kd,kd->k", ainv_x, self.b)
        var = np.einsum("kd,d->k", ainv_x, x)
        return mean, self.scale * np.sqrt(np.maximum(var, 0.0))

    def propensities(
        self, context: ArrayLike | Mapping[str, Any], rng: np.random.Generator | None = None
    ) -> NDArray[np.float64]:
        mean, sd = self.score_distribution(context)
        r = rng or self._rng()
        return argmax_frequencies(mean + sd * r.standard_normal((self.draws, len(self.arms))))

    def select(self, context: ArrayLike | Mapping[str, Any]) -> Decision:
        rng = self._rng()
        return self._decide(self.propensities(context, rng), rng)

    def update(self, arm: str | int, reward: float, context: ArrayLike | Mapping[str, Any]) -> None:
        if not math.isfinite(reward):
            raise InvalidInputError(f"reward must be finite, got {reward}")
        i, x = self.index(arm), self._x(context)
        self.A[i] += np.outer(x, x)
        self.b[i] += reward * x

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "arms": list(self.arms),
            "dim": self.dim,
            "ridge": self.ridge,
            "scale": self.scale,
            "draws": self.draws,
            "seed": self.seed,
            "t": self.t,
            "A": self.A.tolist(),
            "b": self.b.tolist(),
            "encoder": self.encoder.to_dict() if self.encoder else None,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> LinearThompson:
        check_kind(state, cls.kind)
        try:
            enc = ContextEncoder.from_dict(state["encoder"]) if state.get("encoder") else None
            obj = cls(
                state["arms"],
                int(state["dim"]),
                ridge=state["ridge"],
                scale=state["scale"],
                draws=int(state["draws"]),
                encoder=enc,
            )
            obj.seed, obj.t = int(state["seed"]), int(state["t"])
            obj.A = np.asarray(state["A"], dtype=float)
            obj.b = np.asarray(state["b"], dtype=float)
        except (KeyError, TypeError, ValueError) as exc:
            raise BanditStateError(f"malformed {cls.kind} state: {exc}") from exc
        k = len(obj.arms)
        if obj.A.shape != (k, obj.dim, obj.dim) or obj.b.shape != (k, obj.dim):
            raise BanditStateError("state arrays do not match arms x dim")
        return obj
