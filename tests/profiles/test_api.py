"""The profile surfaces on DuckDB and PostgreSQL: `GET /v1/profiles/{identifier}` with read
keys (a write key is 403, no key 401, the one error shape), the admin route the CLI calls when a
server owns the database, and `clientcore profile` itself."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import pytest
import typer
from fastapi import FastAPI
from typer.testing import CliRunner

from clientcore.api import profiles, runtime
from clientcore.api.app import create_app
from clientcore.clisupport import RemoteServer
from clientcore.profiles import cli as profile_cli
from clientcore.profiles.cli import profile_command
from tests.profiles.conftest import ADA, BOB, Scenario

with warnings.catch_warnings():
    # Starlette asks for httpx2 instead of httpx; the test client works with either.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ADMIN = "admin-token-for-tests"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}
TOP_KEYS = ["profile_id", "identifiers", "traits", "summary", "timeline", "next_before"]


def _app(url: str) -> FastAPI:
    app = create_app(url, ADMIN)
    if not any(getattr(r, "path", "").startswith("/v1/profiles") for r in app.routes):
        app.include_router(profiles.router)  # until app.py registers it
    return app


class _NoStitching:
    """Stands in for the server's identity follower: the scenario's identity rows are written
    by hand, and these tests must not depend on (or be rewritten by) the graph code."""

    def __init__(self, *_: object) -> None:
        pass

    def notify(self) -> None:
        pass

    def wait_idle(self, timeout: float = 10.0) -> bool:
        return True

    def reload(self) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def client(scenario: Scenario) -> Iterator[TestClient]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runtime, "IdentityFollower", _NoStitching, raising=False)
        with TestClient(_app(scenario.url)) as test_client:
            yield test_client


def _key(client: TestClient, scope: str, name: str = "care") -> dict[str, Any]:
    response = client.post("/v1/admin/keys", json={"name": name, "scope": scope}, headers=AS_ADMIN)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def read_key(client: TestClient) -> str:
    return str(_key(client, "read")["key"])


def _get(client: TestClient, identifier: str, key: str | None, **params: Any) -> Any:
    auth = (key, "") if key else None
    return client.get(f"/v1/profiles/{quote(identifier, safe='')}", params=params, auth=auth)


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"]
    assert body["error"]["code"] == code
    assert body["error"]["message"].strip()
    return body["error"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "typed", ["  ADA@Example.COM ", "(415) 555-2671", "u-ada", "anon-ada-1", "LC 123"]
)
def test_read_key_gets_the_view(client: TestClient, read_key: str, typed: str) -> None:
    response = _get(client, typed, read_key)
    assert response.status_code == 200, response.text
    doc = response.json()
    assert list(doc) == TOP_KEYS
    assert doc["profile_id"] == ADA
    assert {"type": "email", "value": "ada@example.com"}.items() <= doc["identifiers"][1].items()
    assert all({"type", "value"} <= set(entry) for entry in doc["identifiers"])
    assert doc["traits"]["name"]["value"] == "Ada Lovelace"
    assert doc["summary"]["orders"] == 3
    assert len(doc["timeline"]) == 12
    assert set(doc["timeline"][0]) >= {"seq", "timestamp", "channel", "type", "event", "source"}
    assert doc["timeline"][0]["properties"] == {}


def test_pages_through_the_api(client: TestClient, read_key: str) -> None:
    first = _get(client, "u-ada", read_key, limit=5).json()
    assert len(first["timeline"]) == 5
    rest = _get(client, "u-ada", read_key, limit=50, before=first["next_before"]).json()
    seqs = [e["seq"] for e in first["timeline"] + rest["timeline"]]
    assert len(seqs) == len(set(seqs)) == 12
    assert rest["next_before"] is None


def test_write_key_is_forbidden(client: TestClient) -> None:
    write = _key(client, "write", "web")["key"]
    error = _error(_get(client, "u-ada", write), 403, "forbidden")
    assert "read key" in error["message"]


def test_no_unknown_or_revoked_key_is_401(client: TestClient) -> None:
    response = _get(client, "u-ada", None)
    _error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Basic"
    _error(_get(client, "u-ada", "ccr_nope_nope"), 401, "unauthorized")
    revoked = _key(client, "read", "gone")
    client.post(f"/v1/admin/keys/{revoked['id']}/revoke", headers=AS_ADMIN)
    error = _error(_get(client, "u-ada", revoked["key"]), 401, "unauthorized")
    assert "revoked" in error["message"]


def test_unknown_identifier_and_bad_query(client: TestClient, read_key: str) -> None:
    _error(_get(client, "nobody@example.com", read_key), 404, "not_found")
    _error(_get(client, "noemail@store.com", read_key), 404, "not_found")  # quarantined
    _error(_get(client, "u-ada", read_key, limit=0), 422, "invalid_request")
    _error(_get(client, "u-ada", read_key, before="yesterday"), 422, "invalid_request")


def test_admin_route_needs_the_token(client: TestClient) -> None:
    path = f"/v1/admin/profiles/{quote('bob@example.com')}"
    _error(client.get(path), 401, "unauthorized")
    response = client.get(path, headers=AS_ADMIN)
    assert response.status_code == 200
    assert response.json()["profile_id"] == BOB


# -- the command line ----------------------------------------------------------------------

cli = typer.Typer()
cli.command("profile")(profile_command)


@cli.callback()
def _root() -> None:
    """Keep `profile` a sub-command, as in `clientcore profile`."""


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["profile", *args], env={"COLUMNS": "160"})


def test_cli_json(scenario: Scenario) -> None:
    result = _run(" Ada@Example.com", "--json", "--limit", "3", "--db", scenario.url)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    doc = json.loads(result.stdout)
    assert list(doc) == TOP_KEYS
    assert doc["profile_id"] == ADA
    assert len(doc["timeline"]) == 3
    older = _run("u-ada", "--json", "--before", doc["next_before"], "--db", scenario.url)
    assert len(json.loads(older.stdout)["timeline"]) == 9


def test_cli_renders_for_people(scenario: Scenario) -> None:
    result = _run("415-555-2671", "--db", scenario.url)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    for text in ("profile 0", "ada@example.com", "Ada Lovelace", "Order Completed", "store_001"):
        assert text in result.stdout


def test_cli_unknown_identifier(scenario: Scenario) -> None:
    result = _run("nobody@example.com", "--db", scenario.url)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: no profile has the identifier 'nobody@example.com'"
    ]
    bad = _run("u-ada", "--before", "last week", "--db", scenario.url)
    assert bad.exit_code == 2
    assert bad.stderr.startswith("error: --before")


def test_cli_through_a_running_server(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """When a server owns the database file, the command calls its admin route."""
    remote = RemoteServer.__new__(RemoteServer)
    remote._client = client  # type: ignore[attr-defined]
    client.headers["Authorization"] = AS_ADMIN["Authorization"]

    @contextmanager
    def owned(_: str | None) -> Iterator[RemoteServer]:
        yield remote

    monkeypatch.setattr(profile_cli, "store_or_server", owned)
    try:
        result = _run("LC 123", "--json", "--limit", "2")
        assert result.exit_code == 0, (result.stdout, result.stderr)
        assert json.loads(result.stdout)["profile_id"] == ADA
        missing = _run("nobody@example.com")
        assert missing.exit_code == 2
        assert missing.stderr.strip() == "error: no profile has this identifier"
    finally:
        del client.headers["Authorization"]
