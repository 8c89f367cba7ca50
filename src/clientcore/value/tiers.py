"""Value tiers from contribution and predicted value, and migrations between two periods.

A tier spec is an ordered list of rules; a customer gets the first tier whose every stated
condition holds, else the default tier. Conditions on p_alive or predicted value fail when
no CLV model could be fitted (unknown is not "above 0.5"), so a report without CLV says so
rather than guessing. Ranks ("top 5% by contribution") are over the customers of the period,
best first, ties broken by profile id so the answer is stable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import ArrayLike
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

NONE = "(none)"


class TierRule(BaseModel):
    """One tier: all the conditions given must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    contribution_top_share: float | None = Field(default=None, gt=0, le=1)
    contribution_below: float | None = None
    contribution_at_least: float | None = None
    p_alive_above: float | None = Field(default=None, ge=0, le=1)
    p_alive_at_most: float | None = Field(default=None, ge=0, le=1)
    predicted_value_top_share: float | None = Field(default=None, gt=0, le=1)


class TierSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tiers: list[TierRule]
    default: str = Field(default="core", pattern=r"^[a-z][a-z0-9_]*$")

    @model_validator(mode="after")
    def _unique(self) -> TierSpec:
        names = [t.name for t in self.tiers] + [self.default]
        if len(names) != len(set(names)):
            raise ValueError("tier names must be unique (the default included)")
        return self

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tiers] + [self.default]


DEFAULT_TIERS = TierSpec(
    tiers=[
        TierRule(
            name="white_glove",
            description="top 5% by contribution and likely still active",
            contribution_top_share=0.05,
            p_alive_above=0.5,
        ),
        TierRule(
            name="lapsing_vip",
            description="top 5% by contribution but probably gone: win them back",
            contribution_top_share=0.05,
            p_alive_at_most=0.5,
        ),
        TierRule(name="loss_making", description="contribution below zero", contribution_below=0),
        TierRule(
            name="high_value",
            description="top 20% by contribution",
            contribution_top_share=0.20,
        ),
        TierRule(
            name="rising",
            description="top 20% by predicted value",
            predicted_value_top_share=0.20,
        ),
    ],
    default="core",
)


def load_tiers(path: Path | None) -> TierSpec:
    """A tier spec from YAML, or the default; errors name the field."""
    if path is None:
        return DEFAULT_TIERS
    try:
        return TierSpec.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "tiers"
        raise ValueError(f"{where}: {first['msg']}") from None


def _top(values: np.ndarray, ids: np.ndarray, share: float) -> np.ndarray:
    """Mask of the best ceil(share * n) customers (NaN never counts as top)."""
    n = values.size
    known = np.where(np.isfinite(values), values, -np.inf)
    order = np.lexsort((ids, -known))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return (rank < share * n) & np.isfinite(values)


def assign(
    spec: TierSpec,
    profile_id: ArrayLike,
    contribution: ArrayLike,
    p_alive: ArrayLike | None = None,
    predicted_value: ArrayLike | None = None,
) -> list[str]:
    """The tier of each customer (same order as the inputs)."""
    ids = np.asarray(profile_id)
    c = np.asarray(contribution, dtype=np.float64)
    n = c.size
    alive = np.full(n, np.nan) if p_alive is None else np.asarray(p_alive, dtype=np.float64)
    value = (
        np.full(n, np.nan)
        if predicted_value is None
        else np.asarray(predicted_value, dtype=np.float64)
    )
    out = np.full(n, spec.default, dtype=object)
    free = np.ones(n, dtype=bool)
    for rule in spec.tiers:
        mask = free.copy()
        if rule.contribution_top_share is not None:
            mask &= _top(c, ids, rule.contribution_top_share)
        if rule.contribution_below is not None:
            mask &= c < rule.contribution_below
        if rule.contribution_at_least is not None:
            mask &= c >= rule.contribution_at_least
        with np.errstate(invalid="ignore"):
            if rule.p_alive_above is not None:
                mask &= np.isfinite(alive) & (alive > rule.p_alive_above)
            if rule.p_alive_at_most is not None:
                mask &= np.isfinite(alive) & (alive <= rule.p_alive_at_most)
        if rule.predicted_value_top_share is not None:
            mask &= _top(value, ids, rule.predicted_value_top_share)
        out[mask] = rule.name
        free &= ~mask
    return [str(v) for v in out.tolist()]


def sizes(spec: TierSpec, tiers: Sequence[str], contribution: ArrayLike) -> list[dict[str, Any]]:
    """Per tier: customers, share, total and mean contribution."""
    c = np.asarray(contribution, dtype=np.float64)
    labels = np.asarray(list(tiers), dtype=object)
    n = max(len(labels), 1)
    rules = {t.name: t.description for t in spec.tiers}
    rows = []
    for name in spec.names:
        mask = labels == name
        count = int(mask.sum())
        rows.append(
            {
                "tier": name,
                "description": rules.get(name, "everyone else"),
                "customers": count,
                "share": round(count / n, 6),
                "contribution": round(float(c[mask].sum()), 2),
                "mean_contribution": round(float(c[mask].mean()), 2) if count else 0.0,
            }
        )
    return rows


@dataclass(frozen=True)
class Migration:
    """Counts of customers moving from a tier in the first period to one in the second."""

    tiers: tuple[str, ...]  # row and column labels; NONE = not a customer in that period
    counts: tuple[tuple[int, ...], ...]

    def count(self, before: str, after: str) -> int:
        return self.counts[self.tiers.index(before)][self.tiers.index(after)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "tiers": list(self.tiers),
            "matrix": [list(row) for row in self.counts],
            "from_to": {
                a: {b: self.counts[i][j] for j, b in enumerate(self.tiers) if self.counts[i][j]}
                for i, a in enumerate(self.tiers)
            },
        }


def migrations(spec: TierSpec, before: Mapping[int, str], after: Mapping[int, str]) -> Migration:
    """Matrix of tier moves; a customer missing from a period is counted under NONE."""
    labels = (*spec.names, NONE)
    index = {name: k for k, name in enumerate(labels)}
    grid = [[0] * len(labels) for _ in labels]
    for profile in set(before) | set(after):
        i = index[before.get(profile, NONE)]
        j = index[after.get(profile, NONE)]
        grid[i][j] += 1
    return Migration(labels, tuple(tuple(row) for row in grid))
