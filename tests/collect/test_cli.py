"""The command-line contract of `clientcore keys|import|events`: options, one JSON document on
stdout with --json, and bad input answered with exit code 2, one line on stderr, nothing stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from clientcore.cli import app
from clientcore.store import open_store


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("CLIENTCORE_DB", raising=False)
    monkeypatch.chdir(tmp_path)  # a stray default ./clientcore.duckdb would show up here
    return str(tmp_path / "cli.duckdb")


def _run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, list(args), env=env)


def _json(*args: str, env: dict[str, str] | None = None) -> Any:
    """Run with --json: exit 0, nothing on stderr, exactly one JSON document on stdout."""
    result = _run(*args, "--json", env=env)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    assert result.stderr == ""
    return json.loads(result.stdout)  # raises on a second document or any other text


def _bad(*args: str) -> str:
    """Bad input: exit code 2 and one line on stderr, which is returned."""
    result = _run(*args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def _count(db: str, table: str) -> int:
    store = open_store(db)
    try:
        return int(store.query(f"SELECT count(*) FROM {table}")[0][0])
    finally:
        store.close()


def _events(tmp_path: Path) -> Path:
    path = tmp_path / "events.ndjson"
    events = [
        {"type": "track", "event": "Order Completed", "userId": "u1", "messageId": "n-1"},
        {"type": "page", "name": "Home", "anonymousId": "a1", "messageId": "n-2", "channel": "web"},
        {"type": "track", "userId": "u1", "messageId": "n-3"},
        {"type": "identify", "userId": "u1", "messageId": "n-4", "context": {"channel": "store"}},
    ]
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    return path


def test_keys_create_list_revoke(db: str) -> None:
    write = _json("keys", "create", "--name", "web", "--scope", "write", "--db", db)
    read = _json("keys", "create", "--name", "crm", "--scope", "read", "--db", db)
    default = _json("keys", "create", "--name", "pos", "--db", db)

    assert write["key"].startswith("ccw_")
    assert read["key"].startswith("ccr_")
    assert (write["name"], write["scope"], write["active"]) == ("web", "write", True)
    assert (read["scope"], default["scope"]) == ("read", "write")

    listed = _json("keys", "list", "--db", db)
    assert [(k["id"], k["name"], k["scope"]) for k in listed["keys"]] == [
        (write["id"], "web", "write"),
        (read["id"], "crm", "read"),
        (default["id"], "pos", "write"),
    ]
    text = json.dumps(listed)
    assert write["key"] not in text  # the secret is shown once, at creation
    assert all("key" not in k for k in listed["keys"])

    revoked = _json("keys", "revoke", write["id"], "--db", db)
    assert revoked["id"] == write["id"]
    assert revoked["active"] is False
    assert revoked["revoked_at"]
    after = {k["id"]: k["active"] for k in _json("keys", "list", "--db", db)["keys"]}
    assert after == {write["id"]: False, read["id"]: True, default["id"]: True}

    plain = _run("keys", "revoke", read["id"], "--db", db)
    assert plain.exit_code == 0
    assert "revoked key" in plain.stdout


def test_import_events_every_format(db: str, tmp_path: Path) -> None:
    ndjson = _events(tmp_path)
    csv = tmp_path / "store.csv"
    csv.write_text(
        "type,event,userId,messageId,properties.revenue\ntrack,Order Completed,u2,c-1,5\n"
    )
    parquet = tmp_path / "app.parquet"
    pq.write_table(
        pa.table({"type": ["screen"], "name": ["Cart"], "userId": ["u3"], "messageId": ["p-1"]}),
        parquet,
    )
    renamed = tmp_path / "export.dat"
    renamed.write_bytes(csv.read_bytes().replace(b"c-1", b"c-2"))

    report = _json("import", "events", str(ndjson), "--db", db)
    assert report["format"] == "ndjson"
    assert (report["rows"], report["inserted"], report["rejected"]) == (4, 3, 1)
    assert report["errors"] == [
        {"row": 3, "field": "event", "reason": "is required for track calls"}
    ]
    assert _json("import", "events", str(csv), "--db", db)["inserted"] == 1
    assert _json("import", "events", str(parquet), "--db", db)["inserted"] == 1
    with_format = _json("import", "events", str(renamed), "--format", "csv", "--db", db)
    assert (with_format["format"], with_format["inserted"]) == ("csv", 1)
    source = _json("import", "events", str(csv), "--source", "pos", "--db", db)
    assert source["source"] == "pos"

    again = _json("import", "events", str(ndjson), "--db", db)
    assert (again["already_done"], again["inserted"]) == (True, 0)
    plain = _run("import", "events", str(ndjson), "--db", db)
    assert plain.exit_code == 0
    assert "already imported" in plain.stdout
    assert _count(db, "events") == 7


def test_events_stats_and_rejected(db: str, tmp_path: Path) -> None:
    _json("import", "events", str(_events(tmp_path)), "--source", "legacy", "--db", db)

    stats = _json("events", "stats", "--db", db)

    assert {"total", "rejected", "by_type", "by_channel", "by_source"} <= set(stats)
    assert (stats["total"], stats["rejected"]) == (3, 1)
    assert stats["by_type"] == {"identify": 1, "page": 1, "track": 1}
    assert stats["by_channel"] == {"other": 1, "store": 1, "web": 1}
    assert stats["by_source"] == {"legacy": 3}

    rejected = _json("events", "rejected", "--db", db)["rejected"]
    assert [(r["position"], r["field"], r["source"]) for r in rejected] == [(3, "event", "legacy")]
    assert orjson.loads(rejected[0]["payload"])["messageId"] == "n-3"
    assert _json("events", "rejected", "--limit", "1", "--db", db)["rejected"] == rejected

    plain = _run("events", "stats", "--db", db)
    assert plain.exit_code == 0
    assert "3" in plain.stdout
    assert "events stored" in plain.stdout


def test_missing_file_is_refused(db: str, tmp_path: Path) -> None:
    line = _bad("import", "events", str(tmp_path / "nope.ndjson"), "--db", db)
    assert "nope.ndjson" in line
    assert not Path(db).exists()


def test_bad_format_is_refused(db: str, tmp_path: Path) -> None:
    path = _events(tmp_path)
    line = _bad("import", "events", str(path), "--format", "xml", "--db", db)
    assert "--format" in line
    assert "ndjson" in line
    unknown = tmp_path / "events.xyz"
    unknown.write_bytes(path.read_bytes())
    line = _bad("import", "events", str(unknown), "--db", db)
    assert "--format" in line
    assert (_count(db, "events"), _count(db, "rejected_events"), _count(db, "imports")) == (0, 0, 0)


def test_bad_scope_is_refused(db: str) -> None:
    line = _bad("keys", "create", "--name", "web", "--scope", "admin", "--db", db)
    assert "--scope" in line
    assert "write" in line
    line = _bad("keys", "create", "--name", "  ", "--db", db)
    assert "name" in line
    assert _count(db, "write_keys") == 0


def test_unknown_key_id_is_refused(db: str) -> None:
    _bad("keys", "revoke", "deadbeef", "--db", db)


def test_a_bad_store_url_is_refused(tmp_path: Path) -> None:
    _bad("events", "stats", "--db", "mysql://nowhere/db")


def test_clientcore_db_is_read_when_db_is_absent(db: str, tmp_path: Path) -> None:
    env = {"CLIENTCORE_DB": db}
    created = _json("keys", "create", "--name", "web", env=env)
    _json("import", "events", str(_events(tmp_path)), env=env)

    assert _json("events", "stats", env=env)["total"] == 3
    assert [k["id"] for k in _json("keys", "list", env=env)["keys"]] == [created["id"]]
    assert _count(db, "events") == 3
    assert not (tmp_path / "clientcore.duckdb").exists()
    # --db wins over the environment.
    other = str(tmp_path / "other.duckdb")
    assert _json("events", "stats", "--db", other, env=env)["total"] == 0
