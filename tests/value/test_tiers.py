"""Value tiers: golden assignment on a hand-made table, unknown CLV, migrations, bad specs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clientcore.value.tiers import (
    DEFAULT_TIERS,
    NONE,
    TierRule,
    TierSpec,
    assign,
    load_tiers,
    migrations,
    sizes,
)

IDS = np.arange(20)
# Customer k contributes 100 - 10 k: ids 0.. are the best; 11..19 lose money.
CONTRIBUTION = 100.0 - 10.0 * IDS
P_ALIVE = np.where(IDS % 2 == 0, 0.9, 0.2)
VALUE = np.linspace(0, 190, 20)  # the latest customers are predicted to be worth most


def test_default_tiers_golden() -> None:
    tiers = assign(DEFAULT_TIERS, IDS, CONTRIBUTION, P_ALIVE, VALUE)
    assert tiers[0] == "white_glove"  # top 5% (1 of 20) and p_alive 0.9
    assert tiers[1:4] == ["high_value"] * 3  # the rest of the top 20%
    assert tiers[4:10] == ["core"] * 6
    assert tiers[10] == "core"  # contribution exactly 0 is not loss-making
    assert tiers[11:] == ["loss_making"] * 9  # even when predicted to be worth most
    odd_best = assign(DEFAULT_TIERS, IDS, CONTRIBUTION, 1 - P_ALIVE, VALUE)
    assert odd_best[0] == "lapsing_vip"


def test_rising_needs_a_prediction_and_unknown_p_alive_fails() -> None:
    spec = TierSpec(
        tiers=[
            TierRule(name="vip", contribution_top_share=0.05, p_alive_above=0.5),
            TierRule(name="rising", predicted_value_top_share=0.25),
        ],
        default="base",
    )
    known = assign(spec, IDS[:8], CONTRIBUTION[:8], P_ALIVE[:8], VALUE[:8])
    assert known == ["vip", "base", "base", "base", "base", "base", "rising", "rising"]
    unknown = assign(spec, IDS[:8], CONTRIBUTION[:8])
    assert unknown == ["base"] * 8  # unknown p_alive is not "above 0.5"


def test_ties_break_by_profile_id() -> None:
    spec = TierSpec(tiers=[TierRule(name="top", contribution_top_share=0.5)])
    assert assign(spec, [9, 3, 5, 1], [10, 10, 10, 10]) == ["core", "top", "core", "top"]


def test_sizes() -> None:
    tiers = assign(DEFAULT_TIERS, IDS, CONTRIBUTION, P_ALIVE, VALUE)
    rows = {row["tier"]: row for row in sizes(DEFAULT_TIERS, tiers, CONTRIBUTION)}
    assert rows["white_glove"]["customers"] == 1
    assert rows["loss_making"]["contribution"] == sum(100.0 - 10.0 * k for k in range(11, 20))
    assert rows["lapsing_vip"]["customers"] == 0
    assert sum(r["customers"] for r in rows.values()) == 20


def test_migration_matrix() -> None:
    before = {1: "white_glove", 2: "core", 3: "core", 4: "loss_making"}
    after = {1: "lapsing_vip", 2: "core", 3: "high_value", 5: "core"}
    matrix = migrations(DEFAULT_TIERS, before, after)
    assert matrix.tiers[-1] == NONE
    assert matrix.count("white_glove", "lapsing_vip") == 1
    assert matrix.count("core", "core") == 1
    assert matrix.count("core", "high_value") == 1
    assert matrix.count("loss_making", NONE) == 1  # no activity in the second period
    assert matrix.count(NONE, "core") == 1  # a new customer
    assert sum(map(sum, matrix.counts)) == 5
    assert matrix.to_dict()["from_to"]["core"] == {"core": 1, "high_value": 1}


def test_bad_tier_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "tiers.yaml"
    path.write_text("tiers:\n  - name: vip\n    contribution_top_share: 1.5\n")
    with pytest.raises(ValueError, match=r"^tiers\.0\.contribution_top_share: "):
        load_tiers(path)
    path.write_text("tiers:\n  - name: core\n")
    with pytest.raises(ValueError, match="unique"):
        load_tiers(path)
