"""Assignment: deterministic, weighted as declared, layers exclusive, holdout out of everything."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clientcore.experiments.assignment import BUCKETS, Arm, allocate, assign, bucket, in_holdout
from clientcore.experiments.errors import InvalidInputError

ARMS = (Arm("control", 1.0), Arm("b", 1.0), Arm("c", 2.0))
UNITS = [f"user-{i}" for i in range(40_000)]


def _assign(unit: str, **kw: object) -> str | None:
    args = {"variants": ARMS, "layer": "web", "bucket_range": (0, BUCKETS), "holdout": 0.0}
    args.update(kw)
    return assign("exp", unit, **args).variant  # type: ignore[arg-type]


@given(st.text(min_size=1, max_size=40))
def test_the_same_unit_always_gets_the_same_variant(unit: str) -> None:
    assert _assign(unit) == _assign(unit)


def test_variants_follow_their_weights() -> None:
    counts = {name: 0 for name in ("control", "b", "c")}
    for unit in UNITS:
        counts[_assign(unit)] += 1  # type: ignore[index]
    shares = np.array([counts["control"], counts["b"], counts["c"]]) / len(UNITS)
    # 40,000 draws: the standard error of a 25 % share is 0.22 pt; allow 4 of them
    np.testing.assert_allclose(shares, [0.25, 0.25, 0.5], atol=0.009)


def test_experiments_in_one_layer_never_share_a_unit() -> None:
    first = allocate(3_000, [], "web")
    second = allocate(5_000, [first], "web")
    in_first = {u for u in UNITS if _assign(u, bucket_range=first) is not None}
    in_second = {u for u in UNITS if _assign(u, bucket_range=second) is not None}
    assert in_first
    assert in_second
    assert not in_first & in_second
    assert abs(len(in_first) / len(UNITS) - 0.3) < 0.01


def test_layers_are_independent() -> None:
    web = {u for u in UNITS if bucket("web", u) < BUCKETS // 2}
    email = {u for u in UNITS if bucket("email", u) < BUCKETS // 2}
    overlap = len(web & email) / len(UNITS)
    assert abs(overlap - 0.25) < 0.01  # independent halves overlap on a quarter


def test_holdout_units_are_in_no_experiment_and_the_share_is_respected() -> None:
    held = [u for u in UNITS if in_holdout(u, 0.05)]
    assert abs(len(held) / len(UNITS) - 0.05) < 0.004
    for unit in held[:200]:
        result = assign(
            "exp", unit, variants=ARMS, layer="web", bucket_range=(0, BUCKETS), holdout=0.05
        )
        assert result.variant is None
        assert result.reason == "holdout"


def test_a_stopped_experiment_assigns_nobody() -> None:
    result = assign(
        "exp", "u", variants=ARMS, layer="web", bucket_range=(0, BUCKETS), running=False
    )
    assert (result.variant, result.reason) == (None, "stopped")


def test_probability_is_the_weight_share() -> None:
    result = assign("exp", "someone", variants=ARMS, layer="web", bucket_range=(0, BUCKETS))
    expected = {"control": 0.25, "b": 0.25, "c": 0.5}[result.variant]  # type: ignore[index]
    assert result.probability == pytest.approx(expected)


@settings(max_examples=200)
@given(st.lists(st.integers(min_value=1, max_value=4_000), min_size=1, max_size=8))
def test_allocation_never_overlaps_and_fails_only_when_full(widths: list[int]) -> None:
    taken: list[tuple[int, int]] = []
    for width in widths:
        if BUCKETS - max((e for _, e in taken), default=0) < width:
            with pytest.raises(InvalidInputError, match=r"^traffic:"):
                allocate(width, taken, "layer")
            continue
        start, end = allocate(width, taken, "layer")
        assert end - start == width
        assert start >= 0
        assert end <= BUCKETS
        assert all(end <= s or start >= e for s, e in taken)
        taken.append((start, end))
