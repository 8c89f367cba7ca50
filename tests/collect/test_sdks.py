"""The official Segment and RudderStack Python SDKs against a real server: every call arrives
once, even when the SDK retries a batch the server had already committed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rudderstack.analytics import Client as RudderClient
from segment.analytics import Client as SegmentClient
from typer.testing import CliRunner

from clientcore.api.app import create_app
from clientcore.cli import app as cli
from clientcore.clisupport import server_file
from clientcore.store import open_store
from tests.collect.serving import ADMIN_TOKEN, FailFirstBatch, ThreadServer, clientcore_serve

AS_ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

# (type, event or name, userId, groupId, previousId) stored for each call made by _every_call.
EXPECTED = {
    "track": ("track", "Order Completed", "u-1", None, None),
    "identify": ("identify", None, "u-1", None, None),
    "page": ("page", "Home", "u-1", None, None),
    "screen": ("screen", "Basket", "u-1", None, None),
    "group": ("group", None, "u-1", "g-1", None),
    "alias": ("alias", None, "u-1", None, "anon-1"),
}


class _Harness:
    """A uvicorn server in this process, behind FailFirstBatch, on a temp DuckDB file."""

    def __init__(self, db: Path) -> None:
        self.app = create_app(str(db), ADMIN_TOKEN)
        self.middleware = FailFirstBatch(self.app)
        self.server = ThreadServer(self.middleware)

    def key(self, name: str) -> str:
        with httpx.Client(base_url=self.server.url, headers=AS_ADMIN, timeout=10) as admin:
            response = admin.post("/v1/admin/keys", json={"name": name})
        assert response.status_code == 200, response.text
        return response.json()["key"]  # type: ignore[no-any-return]

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        reader = self.app.state.runtime.store.reader()
        try:
            return reader.query(sql, params or [])  # type: ignore[no-any-return]
        finally:
            reader.close()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[_Harness]:
    harness = _Harness(tmp_path / "sdk.duckdb")
    with harness.server:
        yield harness


def _every_call(client: Any) -> dict[str, str]:
    """One call of each kind; returns {kind: messageId} as the SDK generated them."""
    sent = {
        "track": client.track(
            "u-1", "Order Completed", {"order_id": "o-1", "revenue": 25.5, "currency": "EUR"}
        ),
        "identify": client.identify("u-1", {"email": "ada@example.com", "plan": "gold"}),
        "page": client.page("u-1", "Docs", "Home", {"url": "https://shop.example/"}),
        "screen": client.screen("u-1", "Checkout", "Basket", {"items": 2}),
        "group": client.group("u-1", "g-1", {"name": "Example Ltd"}),
        "alias": client.alias("anon-1", "u-1"),
    }
    for kind, (queued, _) in sent.items():
        assert queued, kind
    return {kind: message["messageId"] for kind, (_, message) in sent.items()}


def _check_delivered_once(harness: _Harness, source: str, ids: dict[str, str]) -> None:
    # The first batch was committed, its 200 replaced by a 503, and the SDK sent it again.
    assert harness.middleware.batch_requests >= 2
    ((status, body),) = harness.middleware.swallowed
    assert status == 200
    assert json.loads(body)["stored"] >= 1  # all 6, unless the SDK split them in two batches
    rows = harness.rows(
        "SELECT message_id, type, event, user_id, group_id, previous_id FROM events "
        "WHERE source = ?",
        [source],
    )
    assert len(rows) == 6  # exactly once each, though the batch arrived twice
    stored = {row[0]: row[1:] for row in rows}
    assert stored == {ids[kind]: expected for kind, expected in EXPECTED.items()}
    assert harness.rows("SELECT count(*) FROM rejected_events") == [(0,)]


def test_segment_sdk_delivers_every_call_once_through_a_retry(harness: _Harness) -> None:
    key = harness.key("segment-web")
    errors: list[Any] = []
    client = SegmentClient(
        key,
        host=harness.server.url,
        max_retries=3,
        upload_interval=0.2,
        on_error=lambda error, batch: errors.append(error),
        timeout=10,
    )
    try:
        ids = _every_call(client)
        client.flush()
    finally:
        client.join()

    assert errors == []
    _check_delivered_once(harness, "segment-web", ids)
    payloads = [json.loads(r[0]) for r in harness.rows("SELECT CAST(payload AS TEXT) FROM events")]
    for payload in payloads:
        assert payload["context"]["library"]["name"] == "analytics-python"
        assert "writeKey" not in payload
    track = next(p for p in payloads if p["type"] == "track")
    assert track["properties"]["revenue"] == 25.5


def test_rudderstack_sdk_delivers_every_call_once_through_a_retry(harness: _Harness) -> None:
    key = harness.key("rudder-app")
    errors: list[Any] = []
    client = RudderClient(
        key,
        host=harness.server.url,
        max_retries=3,
        upload_interval=0.2,
        on_error=lambda error, batch: errors.append(error),
        timeout=10,
        gzip=True,
    )
    try:
        ids = _every_call(client)
        client.flush()
    finally:
        client.join()

    assert errors == []
    _check_delivered_once(harness, "rudder-app", ids)
    # RudderStack says channel "server", which is no retail channel of ours.
    assert harness.rows("SELECT DISTINCT channel FROM events") == [("other",)]


def test_segment_sdk_in_sync_mode_and_a_revoked_key(harness: _Harness) -> None:
    key = harness.key("sync")
    harness.middleware.batch_requests = 1  # no lost answer in this test
    client = SegmentClient(key, host=harness.server.url, sync_mode=True, timeout=10)
    client.track("u-9", "Product Viewed", {"product_id": "p-1"})
    assert harness.rows("SELECT event, user_id FROM events") == [("Product Viewed", "u-9")]
    with httpx.Client(base_url=harness.server.url, headers=AS_ADMIN) as admin:
        key_id = admin.get("/v1/admin/keys").json()["keys"][0]["id"]
        assert admin.post(f"/v1/admin/keys/{key_id}/revoke").status_code == 200
    with pytest.raises(Exception, match="revoked") as caught:
        client.track("u-9", "Product Viewed", {"product_id": "p-2"})
    assert caught.value.status == 401  # type: ignore[attr-defined]
    assert harness.rows("SELECT count(*) FROM events") == [(1,)]


def test_the_cli_reaches_a_running_clientcore_serve(tmp_path: Path) -> None:
    """While `clientcore serve` owns the DuckDB file, the CLI goes through its admin routes."""
    db = tmp_path / "served.duckdb"
    runner = CliRunner()
    events = tmp_path / "backfill.ndjson"
    events.write_text(
        '{"type": "identify", "userId": "u-7", "messageId": "b-1"}\n'
        '{"type": "track", "userId": "u-7", "messageId": "b-2"}\n'
    )
    with clientcore_serve(db) as served:
        assert server_file(str(db)).exists()
        created = runner.invoke(cli, ["keys", "create", "--name", "sdk", "--json", "--db", str(db)])
        assert created.exit_code == 0, created.stderr
        key = json.loads(created.stdout)["key"]
        client = SegmentClient(key, host=served.url, sync_mode=True, timeout=10)
        for kind in ("Product Viewed", "Product Added", "Order Completed"):
            client.track("u-7", kind, {"sku": "A-1"})
        imported = runner.invoke(cli, ["import", "events", str(events), "--json", "--db", str(db)])
        assert imported.exit_code == 0, imported.stderr
        assert json.loads(imported.stdout)["inserted"] == 1

        result = runner.invoke(cli, ["events", "stats", "--json", "--db", str(db)])

        assert result.exit_code == 0, result.stderr
        stats = json.loads(result.stdout)
        assert (stats["total"], stats["rejected"]) == (4, 1)
        assert stats["by_source"] == {"sdk": 3, "import": 1}
        assert stats["by_type"] == {"track": 3, "identify": 1}
        rejected = runner.invoke(cli, ["events", "rejected", "--json", "--db", str(db)])
        assert [r["field"] for r in json.loads(rejected.stdout)["rejected"]] == ["event"]
        bad = runner.invoke(cli, ["keys", "revoke", "nope", "--db", str(db)])
        assert bad.exit_code == 2
        assert len(bad.stderr.strip().splitlines()) == 1
        served.process.terminate()
        # Stopped gracefully (an exit code), not killed by the signal (a negative one) ...
        assert served.process.wait(timeout=15) >= 0
    # ... so it took its address file away with it.
    assert not server_file(str(db)).exists()
    store = open_store(str(db))
    try:
        assert store.query("SELECT count(*) FROM events") == [(4,)]
    finally:
        store.close()


def test_sdk_batches_from_several_threads_are_all_stored(harness: _Harness) -> None:
    key = harness.key("busy")
    harness.middleware.batch_requests = 1
    client = SegmentClient(key, host=harness.server.url, upload_size=25, upload_interval=0.05)
    ids: list[str] = []
    lock = threading.Lock()

    def send(worker: int) -> None:
        for i in range(50):
            _, message = client.track(f"u-{worker}", "Product Viewed", {"i": i})
            with lock:
                ids.append(message["messageId"])

    threads = [threading.Thread(target=send, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        client.flush()
    finally:
        client.join()
    stored = [r[0] for r in harness.rows("SELECT message_id FROM events")]
    assert sorted(stored) == sorted(ids)
    assert len(set(stored)) == 200
