"""The identity spec: rules that never link, and the place of the default rules' type codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from clientcore.identity.spec import DEFAULT_SPEC, IdentifierRule, load_spec


def test_first_names_come_last_and_never_link() -> None:
    types = [rule.type for rule in DEFAULT_SPEC.identifiers]
    # Type codes are positions: the rules before first_name keep theirs.
    assert types[:7] == [
        "user_id",
        "email",
        "phone",
        "loyalty_card",
        "pos_customer_id",
        "device_id",
        "anonymous_id",
    ]
    assert types[-1] == "first_name"
    assert DEFAULT_SPEC.not_linking() == ["first_name"]
    assert DEFAULT_SPEC.not_linking_codes() == {7}
    assert "first_name" not in [rule.type for rule in DEFAULT_SPEC.linking()]
    assert DEFAULT_SPEC.limits()["first_name"] == 1


def test_a_rule_that_never_links_needs_a_limit() -> None:
    with pytest.raises(ValidationError, match="needs max_per_profile"):
        IdentifierRule(type="nickname", paths=["$.traits.nickname"], links=False)


def test_yaml_rules_may_add_names(tmp_path: Path) -> None:
    path = tmp_path / "identity.yaml"
    path.write_text(
        "identifiers:\n"
        "  - {type: user_id, columns: [user_id], max_per_profile: 1}\n"
        "  - {type: first_name, paths: [$.traits.first_name], normalize: name,\n"
        "     max_per_profile: 1, links: false}\n"
    )
    spec = load_spec(path)
    assert spec.not_linking_codes() == {1}
    assert [rule.type for rule in spec.linking()] == ["user_id"]
