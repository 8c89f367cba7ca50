"""The CRM records reconciled into a person, in the profile's JSON and on the terminal.

Ada's sales record holds her e-mail (a certain link); her call-center record shares no
identifier with her profile and joins through reconciliation with its match probability; Bob's
record stays on Bob's profile. The reconcile tables are written by hand, as the identity ones
are in conftest, so the test does not depend on the linkage code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from clientcore.profiles.cli import profile_command
from clientcore.store import open_store
from tests.profiles.conftest import ADA, populate

# record_key, source, record_id, given_name, surname, email, phone, cluster, probability
RECORDS = [
    (1, "sales", "SLS-1", "ada", "lovelace", "ada@example.com", None, 1, 0.9731),
    (2, "callcenter", "CC-9", "ada", "lovelace", None, "+14155550000", 1, 0.9731),
    (3, "ecommerce", "EC-3", "bob", "builder", "bob@example.com", None, 3, None),
]

cli = typer.Typer()
cli.command("profile")(profile_command)


@cli.callback()
def _root() -> None:
    """Keep `profile` a sub-command, as in `clientcore profile`."""


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = str(tmp_path_factory.mktemp("records") / "clientcore.duckdb")
    store = open_store(url)
    try:
        populate(store)
        for key, source, record_id, given, surname, email, phone, cluster, p in RECORDS:
            store.execute(
                "INSERT INTO customer_records (record_key, source, record_id, given_name, "
                "surname, email, phone, import_batch) VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
                [key, source, record_id, given, surname, email, phone],
            )
            store.execute(
                "INSERT INTO record_clusters (record_key, cluster_id, match_probability) "
                "VALUES (?, ?, ?)",
                [key, cluster, p],
            )
    finally:
        store.close()
    return url


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, ["profile", *args], env={"COLUMNS": "160"})
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def test_json_lists_the_linked_records(db: str) -> None:
    doc = json.loads(_run("ada@example.com", "--json", "--db", db))
    assert doc["profile_id"] == ADA
    found = [(r["record"], r["match_probability"], r["linked_by"]) for r in doc["records"]]
    assert found == [
        ("sales:SLS-1", 1.0, "identifier:email"),
        ("callcenter:CC-9", pytest.approx(0.9731), "reconciliation"),
    ]


def test_terminal_view_shows_the_linked_records(db: str) -> None:
    text = _run("u-ada", "--db", db)
    assert "CRM records" in text
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.strip()}
    assert rows["sales"][1:] == ["SLS-1", "ada", "lovelace", "1.0000", "identifier:email"]
    assert rows["callcenter"][1:] == ["CC-9", "ada", "lovelace", "0.9731", "reconciliation"]
    assert "EC-3" not in text  # Bob's record stays on Bob's profile
    # The records come between the summary and the timeline.
    assert text.index("CRM records") < text.index("timeline (newest first)")


def test_a_profile_without_records_shows_no_records_table(tmp_path: Path) -> None:
    url = str(tmp_path / "plain.duckdb")
    store = open_store(url)
    try:
        populate(store)
    finally:
        store.close()
    assert "CRM records" not in _run("u-ada", "--db", url)
