"""One experiment readout: SRM gate, per-metric tests, multiple-comparison correction.

Input is what the SQL engine produces: for every metric a list of per-variant sufficient
statistics (variant 0 is the control), plus the planned allocation weights. Output is a plain
dataclass with ``to_dict()`` for the API. An SRM returns ``status="blocked"`` with the reason,
never an exception, so a dashboard can show *why* there are no numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from clientcore.experiments.bayesian import bayes_normal
from clientcore.experiments.corrections import Correction, adjust
from clientcore.experiments.errors import InvalidInputError
from clientcore.experiments.frequentist import (
    Moments,
    clean,
    cuped_moments,
    cuped_test,
    cuped_theta,
    moments_test,
    proportion_test,
)
from clientcore.experiments.sequential import LookCalibration, sequential_test
from clientcore.experiments.srm import SRM_THRESHOLD, SrmResult, srm_check
from clientcore.experiments.suffstats import CupedStats, SampleStats

Method = Literal["frequentist", "sequential", "bayesian"]
Status = Literal["ok", "blocked"]
VariantStats = SampleStats | CupedStats


@dataclass(frozen=True, slots=True)
class Comparison:
    """One (metric, variant vs control) cell of the readout."""

    metric: str
    variant: str
    result: dict[str, Any]
    p_value: float | None = None
    adjusted_p_value: float | None = None
    significant: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return clean(
            {
                "metric": self.metric,
                "variant": self.variant,
                "p_value": self.p_value,
                "adjusted_p_value": self.adjusted_p_value,
                "significant": self.significant,
                **self.result,
            }
        )


@dataclass(frozen=True, slots=True)
class Readout:
    status: Status
    method: Method
    variants: tuple[str, ...]
    weights: tuple[float, ...]
    alpha: float
    correction: Correction
    srm: SrmResult
    blocked_reason: str | None = None
    comparisons: tuple[Comparison, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return clean(
            {
                "status": self.status,
                "blocked_reason": self.blocked_reason,
                "method": self.method,
                "variants": list(self.variants),
                "weights": list(self.weights),
                "alpha": self.alpha,
                "correction": self.correction,
                "srm": self.srm.to_dict(),
                "comparisons": [c.to_dict() for c in self.comparisons],
            }
        )


def _moments(stats: Sequence[VariantStats]) -> list[Moments]:
    if all(isinstance(s, CupedStats) for s in stats):
        cs = [s for s in stats if isinstance(s, CupedStats)]
        theta = cuped_theta(cs)
        n_all = sum(s.n for s in cs)
        x_mean = sum(s.sum_x for s in cs) / n_all if n_all else 0.0
        return [cuped_moments(s, theta, x_mean) for s in cs]
    return [Moments.of(s.post if isinstance(s, CupedStats) else s) for s in stats]


def _compare(
    stats: Sequence[VariantStats],
    i: int,
    *,
    method: Method,
    alpha: float,
    tuning_n: float | None,
    calibration: LookCalibration | None,
) -> tuple[dict[str, Any], float | None]:
    control, treatment = stats[0], stats[i]
    moments = _moments(stats)
    if method == "bayesian":
        return bayes_normal(moments[0], moments[i]).to_dict(), None
    if method == "sequential":
        n_total = sum(s.n for s in stats)
        res = sequential_test(
            moments[0],
            moments[i],
            alpha=alpha,
            tuning_n=tuning_n or n_total,
            calibration=calibration,
        )
    elif isinstance(control, CupedStats) and isinstance(treatment, CupedStats):
        cs = [s for s in stats if isinstance(s, CupedStats)]
        res = cuped_test(control, treatment, pooled=cs, alpha=alpha)
    elif (
        isinstance(control, SampleStats)
        and control.is_binary_like
        and all(isinstance(s, SampleStats) and s.is_binary_like for s in stats)
    ):
        res = proportion_test(control, treatment, alpha=alpha)  # type: ignore[arg-type]
    else:
        res = moments_test(moments[0], moments[i], alpha=alpha)
    return res.to_dict(), res.p_value


def readout(
    metrics: Mapping[str, Sequence[VariantStats]],
    weights: Sequence[float],
    *,
    variants: Sequence[str] | None = None,
    units: Sequence[int] | None = None,
    method: Method = "frequentist",
    alpha: float = 0.05,
    correction: Correction = "holm",
    tuning_n: float | None = None,
    calibration: LookCalibration | None = None,
    srm_threshold: float = SRM_THRESHOLD,
) -> Readout:
    """Compare every variant with variant 0 on every metric.

    ``units`` are assigned units per variant for the SRM check (default: n of the first
    metric). Binary metrics use the two-proportion test, CupedStats use CUPED with theta pooled
    across all variants, others Welch. ``correction`` spans all variants x metrics.
    ``tuning_n`` (sequential) is the total sample size the mixture is tuned for; default the
    current total, which is fine for a single look but should be fixed up front when monitoring.
    """
    if not metrics:
        raise InvalidInputError("no metrics given")
    k = len(weights)
    names = tuple(variants) if variants is not None else tuple(f"v{i}" for i in range(k))
    if len(names) != k or k < 2:
        raise InvalidInputError("need >= 2 variants and one name and weight per variant")
    for name, stats in metrics.items():
        if len(stats) != k:
            raise InvalidInputError(f"metric '{name}' has {len(stats)} variants, expected {k}")
    counts = list(units) if units is not None else [s.n for s in next(iter(metrics.values()))]
    srm = srm_check(counts, weights, threshold=srm_threshold)
    base = {
        "method": method,
        "variants": names,
        "weights": tuple(float(w) / sum(weights) for w in weights),
        "alpha": alpha,
        "correction": correction,
        "srm": srm,
    }
    if srm.mismatch:
        return Readout(status="blocked", blocked_reason=srm.reason, **base)  # type: ignore[arg-type]

    cells: list[tuple[str, str, dict[str, Any], float | None]] = []
    for name, stats in metrics.items():
        for i in range(1, k):
            res, p = _compare(
                stats, i, method=method, alpha=alpha, tuning_n=tuning_n, calibration=calibration
            )
            cells.append((name, names[i], res, p))
    comparisons: list[Comparison] = []
    if method == "bayesian":
        comparisons = [Comparison(m, v, r) for m, v, r, _ in cells]
    else:
        raw = [float("nan") if p is None else p for _, _, _, p in cells]
        adj = adjust(raw, correction)
        for (m, v, r, p), a in zip(cells, adj, strict=True):
            comparisons.append(Comparison(m, v, r, p, float(a), bool(a < alpha)))
    return Readout(status="ok", comparisons=tuple(comparisons), **base)  # type: ignore[arg-type]
