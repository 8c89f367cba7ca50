"""The identity spec: rules that never link, and the place of the default rules' type codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from clientcore.identity.spec import DEFAULT_SPEC, IdentifierRule, RulesError, load_spec


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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("identifiers: [\n", "not valid YAML at line 2"),
        ("identifiers:\n  - {type: Email}\n", "identifiers.0.type: String should match"),
        ("identifiers: []\n", "at least one identifier type"),
        ("{}\n", "identifiers: Field required"),
    ],
)
def test_a_bad_rules_file_is_one_line_naming_file_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "identity.yaml"
    path.write_text(text)
    with pytest.raises(RulesError, match=message) as raised:
        load_spec(path)
    assert str(raised.value).startswith(f"identity rules {path}: ")
    assert "\n" not in str(raised.value)
    with pytest.raises(RulesError, match="cannot read"):
        load_spec(tmp_path / "missing.yaml")


def test_the_cli_turns_a_bad_rules_file_into_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from clientcore.cli import main

    path = tmp_path / "identity.yaml"
    path.write_text("identifiers:\n  - {type: email, paths: [nope]}\n")
    monkeypatch.setenv("CLIENTCORE_IDENTITY", str(path))
    monkeypatch.setattr("sys.argv", ["clientcore", "identity", "rules"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: identity rules {path}: identifiers.0.paths")
    assert err.count("\n") == 1


def test_the_rules_print_as_yaml_that_loads_back(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from clientcore.cli import app

    shown = CliRunner().invoke(app, ["identity", "rules"])
    assert shown.exit_code == 0, shown.stderr
    assert shown.stdout.startswith("# identity rules: default\n")
    path = tmp_path / "mine.yaml"
    path.write_text(shown.stdout)
    assert load_spec(path).fingerprint() == DEFAULT_SPEC.fingerprint()
    doc = json.loads(CliRunner().invoke(app, ["identity", "rules", "--json"]).stdout)
    assert doc["source"] == "default"
    assert doc["profiles_built_under_these_rules"] is None  # no --db given
    assert doc["fingerprint"] == f"{DEFAULT_SPEC.fingerprint() & (2**64 - 1):016x}"
