"""A 200 means committed: `kill -9` of the server under sustained ingest loses none of the
events it acknowledged — with the DuckDB inboxes moved into the log every 500 events, so the
kill also lands among moves and checkpoints."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from clientcore.store import open_store
from tests.collect.serving import clientcore_serve

CLIENTS = 3
BATCH = 100
SENDING_SECONDS = 2.5


def test_kill_9_under_load_loses_no_acknowledged_event(
    tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    db = tmp_path / "crash.duckdb"
    acknowledged: set[str] = set()
    sent: set[str] = set()
    refused: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    with clientcore_serve(db, env_extra={"CLIENTCORE_INBOX_ROWS": "500"}) as served:
        with served.admin() as admin:
            key = admin.post("/v1/admin/keys", json={"name": "load"}).json()["key"]

        def send(worker: int) -> None:
            with httpx.Client(base_url=served.url, auth=(key, ""), timeout=10) as client:
                n = 0
                while not stop.is_set():
                    ids = [f"w{worker}-b{n}-e{i}" for i in range(BATCH)]
                    batch = [
                        {"type": "track", "event": "Product Viewed", "userId": f"u{i % 7}"}
                        | {"messageId": message_id}
                        for i, message_id in enumerate(ids)
                    ]
                    with lock:
                        sent.update(ids)
                    try:
                        response = client.post("/v1/batch", json={"batch": batch})
                    except httpx.HTTPError:
                        return  # the server is gone
                    if response.status_code == 200:
                        assert response.json()["stored"] == BATCH
                        with lock:
                            acknowledged.update(ids)
                    else:
                        refused.append(response.status_code)
                    n += 1

        workers = [threading.Thread(target=send, args=(w,)) for w in range(CLIENTS)]
        for worker in workers:
            worker.start()
        try:
            time.sleep(SENDING_SECONDS)
            with lock:
                assert acknowledged, "no batch was acknowledged before the kill"
            served.process.kill()  # SIGKILL, while the clients are still sending
            served.process.wait(timeout=10)
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=15)

    assert refused == []
    store = open_store(str(db))
    try:
        rows = store.query("SELECT message_id FROM events")
        moved = store.query("SELECT count(*) FROM event_log")[0][0]
    finally:
        store.close()
    stored = {row[0] for row in rows}
    assert len(rows) == len(stored), "an event was stored twice"
    lost = acknowledged - stored
    assert not lost, f"{len(lost)} acknowledged events were lost, e.g. {sorted(lost)[:5]}"
    assert stored <= sent
    unacknowledged_but_stored = len(stored - acknowledged)
    record_property("acknowledged", len(acknowledged))
    record_property("unacknowledged_but_stored", unacknowledged_but_stored)
    # Whatever got in without its 200 got in whole batches at a time (group commit).
    assert unacknowledged_but_stored % BATCH == 0
    assert len(acknowledged) >= 10 * BATCH
    assert moved > 0, "no move into the log happened before the kill"
