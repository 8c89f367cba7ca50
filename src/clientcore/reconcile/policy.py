"""The thresholds of reconciliation as one validated spec, with defaults that refuse to chain.

Probabilities are what people reason with; the clustering works in match weights (log2 of the
Bayes factor, prior included), into which `weight()` converts them.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, model_validator


def weight(probability: float) -> float:
    """The match weight of a probability: log2(p / (1 - p))."""
    return math.log2(probability / (1.0 - probability))


class LinkagePolicy(BaseModel):
    """When a pair merges by itself, when it waits for a person, and what clusters may hold."""

    # At or above: merged without asking (household conflicts aside).
    auto_merge: float = Field(default=0.99, gt=0, lt=1)
    # At or above (and below auto_merge): waits in the review queue.
    review: float = Field(default=0.5, gt=0, lt=1)
    # Average linkage: the scored pairs across two clusters must average at least this.
    min_average: float = Field(default=0.99, gt=0, lt=1)
    # Any scored pair across two clusters below this vetoes their merge.
    cannot_link: float = Field(default=0.001, gt=0, lt=1)
    # Records of one source a person may have (duplicates within a CRM happen, a few times).
    max_records_per_source: int = Field(default=3, ge=1)
    # Random pairs for estimating u; more is steadier and slower.
    u_max_pairs: float = Field(default=3e6, ge=1e4)
    # Pairs per EM pass at most (a sample when blocking gives more).
    em_max_pairs: float = Field(default=2e6, ge=1e4)
    # How far (bits) reviewers' labels may move the model's calibration before many of them
    # agree: the standard deviation of the prior on the shift `labels tune` fits.
    label_shift_sd: float = Field(default=2.0, gt=0, le=16)
    seed: int = 1

    @model_validator(mode="after")
    def _ordered(self) -> LinkagePolicy:
        if not self.cannot_link < self.review < self.auto_merge:
            raise ValueError("thresholds must satisfy cannot_link < review < auto_merge")
        return self


def load_policy(path: Path | None = None) -> LinkagePolicy:
    """The policy from a YAML file (or CLIENTCORE_RECONCILE), else the defaults."""
    chosen = path or (
        Path(os.environ["CLIENTCORE_RECONCILE"]) if "CLIENTCORE_RECONCILE" in os.environ else None
    )
    if chosen is None:
        return LinkagePolicy()
    return LinkagePolicy.model_validate(yaml.safe_load(chosen.read_text()) or {})
