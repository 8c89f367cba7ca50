"""Sufficient statistics handed over by the SQL engine: frozen, addable, exact to merge.

Why sums and not means: sums merge associatively (day 1 + day 2 == both days), so the engine
can aggregate incrementally and the readout never needs raw rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike

from clientcore.experiments.errors import InvalidStatsError


def _check_finite(**values: float) -> None:
    for name, value in values.items():
        if not math.isfinite(value):
            raise InvalidStatsError(f"{name} must be finite, got {value!r}")


@dataclass(frozen=True, slots=True)
class SampleStats:
    """Count, sum and sum of squares of one metric in one variant."""

    n: int
    sum: float
    sum_squares: float

    def __post_init__(self) -> None:
        if self.n < 0:
            raise InvalidStatsError(f"n must be >= 0, got {self.n}")
        _check_finite(sum=self.sum, sum_squares=self.sum_squares)
        if self.sum_squares < 0:
            raise InvalidStatsError(f"sum_squares must be >= 0, got {self.sum_squares}")

    @classmethod
    def zero(cls) -> Self:
        return cls(0, 0.0, 0.0)

    @classmethod
    def from_values(cls, values: ArrayLike) -> Self:
        """Aggregate raw observations (tests and simulations; production uses SQL)."""
        arr = np.asarray(values, dtype=float).ravel()
        return cls(int(arr.size), float(arr.sum()), float(np.dot(arr, arr)))

    @classmethod
    def from_proportion(cls, successes: int, n: int) -> Self:
        """Binary metric: x in {0, 1}, so sum_squares == sum."""
        if not 0 <= successes <= n:
            raise InvalidStatsError(f"need 0 <= successes <= n, got {successes}/{n}")
        return cls(int(n), float(successes), float(successes))

    def __add__(self, other: object) -> SampleStats:
        if not isinstance(other, SampleStats):
            return NotImplemented
        return SampleStats(
            self.n + other.n, self.sum + other.sum, self.sum_squares + other.sum_squares
        )

    def __radd__(self, other: object) -> SampleStats:
        if other == 0:  # lets builtin sum() start from 0
            return self
        return NotImplemented

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """Unbiased sample variance; 0 when undefined (n < 2). Clipped at 0 against round-off."""
        if self.n < 2:
            return 0.0
        return max((self.sum_squares - self.sum**2 / self.n) / (self.n - 1), 0.0)

    @property
    def is_binary_like(self) -> bool:
        """True when the stats are consistent with a 0/1 metric (sum_squares == sum)."""
        return math.isclose(self.sum, self.sum_squares, rel_tol=1e-12, abs_tol=1e-9)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class CupedStats:
    """Post-period metric y plus pre-period covariate x, for CUPED (regression adjustment)."""

    n: int
    sum: float
    sum_squares: float
    sum_x: float
    sum_x2: float
    sum_xy: float

    def __post_init__(self) -> None:
        if self.n < 0:
            raise InvalidStatsError(f"n must be >= 0, got {self.n}")
        _check_finite(
            sum=self.sum,
            sum_squares=self.sum_squares,
            sum_x=self.sum_x,
            sum_x2=self.sum_x2,
            sum_xy=self.sum_xy,
        )
        if self.sum_squares < 0 or self.sum_x2 < 0:
            raise InvalidStatsError("sums of squares must be >= 0")

    @classmethod
    def zero(cls) -> Self:
        return cls(0, 0.0, 0.0, 0.0, 0.0, 0.0)

    @classmethod
    def from_values(cls, y: ArrayLike, x: ArrayLike) -> Self:
        ya = np.asarray(y, dtype=float).ravel()
        xa = np.asarray(x, dtype=float).ravel()
        if ya.shape != xa.shape:
            raise InvalidStatsError(f"y and x differ in length: {ya.size} vs {xa.size}")
        return cls(
            int(ya.size),
            float(ya.sum()),
            float(ya @ ya),
            float(xa.sum()),
            float(xa @ xa),
            float(xa @ ya),
        )

    def __add__(self, other: object) -> CupedStats:
        if not isinstance(other, CupedStats):
            return NotImplemented
        return CupedStats(
            self.n + other.n,
            self.sum + other.sum,
            self.sum_squares + other.sum_squares,
            self.sum_x + other.sum_x,
            self.sum_x2 + other.sum_x2,
            self.sum_xy + other.sum_xy,
        )

    def __radd__(self, other: object) -> CupedStats:
        if other == 0:
            return self
        return NotImplemented

    @property
    def post(self) -> SampleStats:
        return SampleStats(self.n, self.sum, self.sum_squares)

    @property
    def pre(self) -> SampleStats:
        return SampleStats(self.n, self.sum_x, self.sum_x2)

    @property
    def covariance(self) -> float:
        """Unbiased sample covariance of (x, y)."""
        if self.n < 2:
            return 0.0
        return (self.sum_xy - self.sum_x * self.sum / self.n) / (self.n - 1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def total(stats: Iterable[SampleStats]) -> SampleStats:
    """Merge any number of SampleStats (order does not matter)."""
    out = SampleStats.zero()
    for s in stats:
        out = out + s
    return out
