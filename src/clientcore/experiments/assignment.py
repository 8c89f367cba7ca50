"""Deterministic assignment: who is in which experiment and which variant, from hashes alone.

Nothing is looked up to assign a person, so every channel (web, app, email send, store tablet)
that asks about the same unit gets the same answer, and a restart changes nothing.

- **Buckets.** A unit falls in one of ``BUCKETS`` buckets per layer: ``hash(layer, unit)``.
  Experiments of one layer own disjoint bucket ranges, so they are mutually exclusive; layers
  are independent of each other (a different hash per layer).
- **Global holdout.** ``hash("holdout", unit)`` below the holdout share keeps the unit out of
  every experiment, so the long-run effect of experimenting at all can be measured.
- **Variant.** Inside an experiment's range, ``hash(experiment, unit)`` picks the variant by
  its weight; the returned probability is that weight's share.

The hash is BLAKE2b (64 bits); the unit key is chosen by the caller (see
:mod:`clientcore.experiments.units` for the rule that survives identity merges).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from clientcore.experiments.errors import InvalidInputError

BUCKETS = 10_000
Reason = Literal["assigned", "holdout", "not_in_traffic", "stopped"]


def unit_hash(salt: str, unit: str) -> float:
    """A uniform number in [0, 1) from (salt, unit); independent across salts."""
    digest = hashlib.blake2b(f"{salt}\x1f{unit}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def bucket(layer: str, unit: str) -> int:
    return int(unit_hash(f"layer:{layer}", unit) * BUCKETS)


def in_holdout(unit: str, share: float) -> bool:
    return share > 0 and unit_hash("global-holdout", unit) < share


@dataclass(frozen=True, slots=True)
class Arm:
    name: str
    weight: float


def check_arms(variants: Sequence[Arm]) -> None:
    """Raise naming the field when variants cannot be allocated."""
    if len(variants) < 2:
        raise InvalidInputError("variants: an experiment needs at least two variants")
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise InvalidInputError(f"variants: names must be distinct, got {names}")
    for v in variants:
        if not v.name or not v.name.strip():
            raise InvalidInputError("variants: a variant name is empty")
        if not v.weight > 0:
            raise InvalidInputError(f"variants: weight of {v.name!r} must be > 0, got {v.weight}")


def pick(variants: Sequence[Arm], u: float) -> tuple[Arm, float]:
    """The variant whose cumulative weight interval holds ``u``, and its probability."""
    total = sum(v.weight for v in variants)
    edge = 0.0
    for v in variants:
        edge += v.weight / total
        if u < edge:
            return v, v.weight / total
    last = variants[-1]
    return last, last.weight / total


@dataclass(frozen=True, slots=True)
class Assignment:
    """What one unit gets in one experiment. ``variant`` is None when it is not in it."""

    experiment: str
    unit: str
    variant: str | None
    probability: float
    reason: Reason

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "unit": self.unit,
            "variant": self.variant,
            "probability": self.probability,
            "reason": self.reason,
        }


def assign(
    experiment: str,
    unit: str,
    *,
    variants: Sequence[Arm],
    layer: str,
    bucket_range: tuple[int, int],
    holdout: float = 0.0,
    running: bool = True,
) -> Assignment:
    """Assign ``unit`` in ``experiment``; the same inputs always give the same answer.

    A stopped experiment assigns nobody (callers show their default experience).
    """
    if not running:
        return Assignment(experiment, unit, None, 0.0, "stopped")
    if in_holdout(unit, holdout):
        return Assignment(experiment, unit, None, 0.0, "holdout")
    start, end = bucket_range
    if not start <= bucket(layer, unit) < end:
        return Assignment(experiment, unit, None, 0.0, "not_in_traffic")
    arm, probability = pick(variants, unit_hash(f"experiment:{experiment}", unit))
    return Assignment(experiment, unit, arm.name, probability, "assigned")


def allocate(width: int, taken: Sequence[tuple[int, int]], layer: str) -> tuple[int, int]:
    """The first free range of ``width`` buckets in a layer whose ranges ``taken`` are in use."""
    if not 0 < width <= BUCKETS:
        raise InvalidInputError(f"traffic: must be in (0, 1], got {width / BUCKETS}")
    cursor = 0
    for start, end in sorted(taken):
        if start - cursor >= width:
            break
        cursor = max(cursor, end)
    if BUCKETS - cursor < width:
        free = BUCKETS - sum(e - s for s, e in taken)
        raise InvalidInputError(
            f"traffic: layer {layer!r} has {free / BUCKETS:.0%} of traffic free in one piece "
            f"or less, {width / BUCKETS:.0%} requested; stop an experiment or use another layer"
        )
    return cursor, cursor + width
