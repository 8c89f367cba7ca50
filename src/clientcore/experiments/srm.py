"""Sample-ratio mismatch: a chi-square goodness-of-fit against the planned allocation.

Why blocking: an SRM means assignment or logging is broken (bots, redirects, crashes in one
arm), so every metric comparison is biased; no lift should be shown until it is explained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

from clientcore.experiments.errors import InvalidInputError
from clientcore.experiments.frequentist import clean

SRM_THRESHOLD = 0.001


@dataclass(frozen=True, slots=True)
class SrmResult:
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    chi2: float
    p_value: float
    threshold: float

    @property
    def mismatch(self) -> bool:
        return self.p_value < self.threshold

    @property
    def reason(self) -> str | None:
        if not self.mismatch:
            return None
        shares = ", ".join(
            f"{o} observed vs {e:.0f} expected"
            for o, e in zip(self.observed, self.expected, strict=True)
        )
        return (
            f"sample ratio mismatch: chi2={self.chi2:.2f}, p={self.p_value:.2e} < "
            f"{self.threshold:g} ({shares}); check assignment and logging before reading results"
        )

    def to_dict(self) -> dict[str, Any]:
        return clean(
            {
                "observed": list(self.observed),
                "expected": list(self.expected),
                "chi2": self.chi2,
                "p_value": self.p_value,
                "threshold": self.threshold,
                "mismatch": self.mismatch,
                "reason": self.reason,
            }
        )


def normalise_weights(weights: Sequence[float], k: int) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if w.shape != (k,):
        raise InvalidInputError(f"expected {k} weights, got {w.size}")
    if np.any(~np.isfinite(w)) or np.any(w <= 0):
        raise InvalidInputError("weights must be positive and finite")
    return w / w.sum()


def srm_check(
    counts: Sequence[int], weights: Sequence[float], *, threshold: float = SRM_THRESHOLD
) -> SrmResult:
    """Chi-square test of observed units per variant against the planned weights."""
    obs = np.asarray(counts, dtype=float)
    if obs.ndim != 1 or obs.size < 2:
        raise InvalidInputError("need unit counts for at least two variants")
    if np.any(obs < 0):
        raise InvalidInputError("unit counts must be >= 0")
    w = normalise_weights(weights, obs.size)
    expected = obs.sum() * w
    if obs.sum() == 0:
        chi2, p = 0.0, 1.0
    else:
        chi2 = float(np.sum((obs - expected) ** 2 / expected))
        p = float(sps.chi2.sf(chi2, obs.size - 1))
    return SrmResult(
        tuple(int(c) for c in obs), tuple(float(e) for e in expected), chi2, p, threshold
    )
