"""The Segment-compatible HTTP collector, through the real app (lifespan included), on DuckDB
and PostgreSQL: what is stored, what is kept aside, and what is refused with nothing stored."""

from __future__ import annotations

import gzip
import warnings
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from clientcore.api.app import create_app
from clientcore.api.body import MAX_REQUEST_BYTES
from clientcore.collect.log import rejected_events, replay_rejected
from clientcore.store import open_store

with warnings.catch_warnings():
    # Starlette asks for httpx2 instead of httpx; the test client works with either.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ADMIN = "admin-token-for-tests"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}
KINDS = ("track", "identify", "page", "screen", "group", "alias")


def _event(kind: str, message_id: str, **extra: Any) -> dict[str, Any]:
    """A valid event of each kind."""
    event: dict[str, Any] = {"type": kind, "messageId": message_id, "userId": "u-1"}
    event.update(
        {
            "track": {"event": "Product Viewed", "properties": {"product_id": "p1", "price": 9.5}},
            "identify": {"traits": {"email": "ada@example.com"}},
            "page": {"name": "Home"},
            "screen": {"name": "Cart"},
            "group": {"groupId": "g-1"},
            "alias": {"previousId": "anon-1"},
        }[kind]
    )
    event.update(extra)
    return event


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(db_url, ADMIN)) as test_client:
        yield test_client


def _key(client: TestClient, scope: str = "write", name: str = "web") -> dict[str, Any]:
    response = client.post("/v1/admin/keys", json={"name": name, "scope": scope}, headers=AS_ADMIN)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _rows(client: TestClient, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    reader = client.app.state.runtime.store.reader()  # type: ignore[attr-defined]
    try:
        return reader.query(sql, params or [])  # type: ignore[no-any-return]
    finally:
        reader.close()


def _counts(client: TestClient) -> tuple[int, int]:
    """(events stored, events kept aside)."""
    events = _rows(client, "SELECT count(*) FROM events")[0][0]
    rejected = _rows(client, "SELECT count(*) FROM rejected_events")[0][0]
    return int(events), int(rejected)


def _post(
    client: TestClient,
    path: str,
    document: Any,
    key: str | None = None,
    compress: bool = False,
) -> Any:
    body = document if isinstance(document, bytes) else orjson.dumps(document)
    headers = {"Content-Type": "application/json"}
    if compress:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    auth = (key, "") if key else None
    return client.post(path, content=body, headers=headers, auth=auth)


def test_every_route_stores_its_events(client: TestClient) -> None:
    key = _key(client)["key"]
    for kind in KINDS:
        response = _post(client, f"/v1/{kind}", _event(kind, f"single-{kind}"), key)
        assert response.status_code == 200, (kind, response.text)
        assert response.json()["stored"] == 1, kind
    # The type may be left out on a single-event route: the route says it.
    untyped = {k: v for k, v in _event("track", "untyped").items() if k != "type"}
    assert _post(client, "/v1/track", untyped, key).json()["stored"] == 1
    batch = [_event(kind, f"batch-{kind}") for kind in KINDS]
    response = _post(client, "/v1/batch", {"batch": batch}, key)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "success": True,
        "accepted": 6,
        "stored": 6,
        "duplicates": 0,
        "rejected": [],
    }

    stored = dict(_rows(client, "SELECT message_id, type FROM events WHERE source = 'web'"))
    expected = {f"{door}-{kind}": kind for door in ("single", "batch") for kind in KINDS}
    assert stored == {**expected, "untyped": "track"}
    columns = _rows(
        client,
        "SELECT event, user_id, group_id, previous_id FROM events WHERE message_id LIKE 'batch-%' "
        "ORDER BY seq",
    )
    assert columns == [
        ("Product Viewed", "u-1", None, None),
        (None, "u-1", None, None),
        ("Home", "u-1", None, None),
        ("Cart", "u-1", None, None),
        (None, "u-1", "g-1", None),
        (None, "u-1", None, "anon-1"),
    ]


def test_the_write_key_is_read_from_basic_auth_or_the_body_and_never_stored(
    client: TestClient,
) -> None:
    key = _key(client)["key"]
    # HTTP Basic, user = key, empty password (what the Segment and RudderStack SDKs send).
    assert _post(client, "/v1/track", _event("track", "basic"), key).status_code == 200
    # writeKey in the body, on a single-event route and on a batch.
    single = _event("identify", "body-single", writeKey=key)
    assert _post(client, "/v1/identify", single).status_code == 200
    batch = {"writeKey": key, "batch": [_event("page", "body-batch")]}
    assert _post(client, "/v1/batch", batch).status_code == 200
    # An invalid event sent with its key in the body is kept aside without the key.
    invalid = {"type": "track", "userId": "u-1", "writeKey": key}
    assert _post(client, "/v1/track", invalid).status_code == 400

    assert sorted(r[0] for r in _rows(client, "SELECT message_id FROM events")) == [
        "basic",
        "body-batch",
        "body-single",
    ]
    texts = [r[0] for r in _rows(client, "SELECT CAST(payload AS TEXT) FROM events")]
    texts += [r[0] for r in _rows(client, "SELECT payload FROM rejected_events")]
    assert len(texts) == 4
    for text in texts:
        assert key not in text
        assert "writeKey" not in orjson.loads(text)


def test_gzip_bodies_are_accepted(client: TestClient) -> None:
    key = _key(client)["key"]
    batch = {"batch": [_event("track", "gz-1"), _event("alias", "gz-2")]}
    response = _post(client, "/v1/batch", batch, key, compress=True)
    assert response.status_code == 200, response.text
    assert response.json()["stored"] == 2
    response = _post(client, "/v1/screen", _event("screen", "gz-3"), key, compress=True)
    assert response.status_code == 200, response.text
    assert _counts(client) == (3, 0)


def test_a_refused_request_stores_nothing(client: TestClient) -> None:
    key = _key(client)["key"]
    read_key = _key(client, scope="read", name="profiles")["key"]
    revoked = _key(client, name="old-pos")
    # Used once, so the server has it in its key cache when it is revoked.
    assert _post(client, "/v1/track", _event("track", "before-revoke"), revoked["key"]).is_success
    revoke = client.post(f"/v1/admin/keys/{revoked['id']}/revoke", headers=AS_ADMIN)
    assert revoke.status_code == 200
    assert revoke.json()["active"] is False
    before = _counts(client)
    assert before == (1, 0)

    good = orjson.dumps({"batch": [_event("track", "never"), {"type": "track"}]})
    just_over = b'{"batch": [' + b" " * (MAX_REQUEST_BYTES - 12) + b"]}"
    assert len(just_over) == MAX_REQUEST_BYTES + 1
    bomb = b'{"batch": [' + b" " * (8 * MAX_REQUEST_BYTES) + b"]}"
    gz = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("malformed JSON", {"content": b'{"batch": [', "auth": (key, "")}, 400, "invalid_payload"),
        (
            "malformed JSON, single route",
            {"path": "/v1/track", "content": b"{'type': 'track'}", "auth": (key, "")},
            400,
            "invalid_payload",
        ),
        (
            "not a batch",
            {"content": b'{"batch": {"type": "track"}}', "auth": (key, "")},
            400,
            "invalid_payload",
        ),
        (
            "bad gzip",
            {"content": b"\x1f\x8bnot really gzip", "headers": gz, "auth": (key, "")},
            400,
            "invalid_payload",
        ),
        (
            "truncated gzip",
            {"content": gzip.compress(good)[:-12], "headers": gz, "auth": (key, "")},
            400,
            "invalid_payload",
        ),
        (
            "unsupported encoding",
            {"content": good, "headers": {"Content-Encoding": "br"}, "auth": (key, "")},
            400,
            "invalid_payload",
        ),
        ("body over 4 MiB", {"content": just_over, "auth": (key, "")}, 413, "payload_too_large"),
        (
            "gzip bomb",
            {"content": gzip.compress(bomb), "headers": gz, "auth": (key, "")},
            413,
            "payload_too_large",
        ),
        (
            "gzip body one byte over 4 MiB",
            {"content": gzip.compress(just_over), "headers": gz, "auth": (key, "")},
            413,
            "payload_too_large",
        ),
        ("no key", {"content": good}, 401, "unauthorized"),
        ("unknown key", {"content": good, "auth": ("ccw_nope_nope", "")}, 401, "unauthorized"),
        (
            "unknown key in the body",
            {"content": orjson.dumps({"writeKey": "ccw_nope", "batch": [_event("track", "x")]})},
            401,
            "unauthorized",
        ),
        ("revoked key", {"content": good, "auth": (revoked["key"], "")}, 401, "unauthorized"),
        ("read key", {"content": good, "auth": (read_key, "")}, 401, "unauthorized"),
        (
            "read key, single route",
            {"path": "/v1/identify", "content": b'{"userId": "u"}', "auth": (read_key, "")},
            401,
            "unauthorized",
        ),
    ]
    for name, request, status, code in cases:
        path = request.pop("path", "/v1/batch")
        response = client.post(path, **request)
        assert response.status_code == status, (name, response.text)
        assert response.json()["error"]["code"] == code, name
        assert _counts(client) == before, f"{name}: something was stored"
    # The same body with a good key goes through: the refusals were about the request.
    response = client.post("/v1/batch", content=good, auth=(key, ""))
    assert response.status_code == 200
    assert _counts(client) == (2, 1)


def test_a_body_of_exactly_4_mib_is_accepted(client: TestClient) -> None:
    key = _key(client)["key"]
    prefix = orjson.dumps({"batch": [_event("track", "big")]})[:-1]
    body = prefix + b" " * (MAX_REQUEST_BYTES - len(prefix) - 1) + b"}"
    assert len(body) == MAX_REQUEST_BYTES
    assert client.post("/v1/batch", content=body, auth=(key, "")).status_code == 200
    gz = {"Content-Encoding": "gzip"}
    response = client.post("/v1/batch", content=gzip.compress(body), headers=gz, auth=(key, ""))
    assert response.status_code == 200
    assert response.json()["duplicates"] == 1


def test_invalid_events_in_a_batch_are_kept_aside_and_the_valid_ones_stored(
    client: TestClient,
) -> None:
    key = _key(client)["key"]
    invalid = {
        1: ({"type": "track", "userId": "u-1", "messageId": "no-event"}, "event"),
        2: ({"type": "identify", "messageId": "nobody", "traits": {}}, "userId"),
        4: ({"type": "purchase", "userId": "u-1", "messageId": "unknown-type"}, "type"),
        5: (_event("page", "bad-time", timestamp="yesterday at noon"), "timestamp"),
        6: (_event("identify", "object-user", userId={"id": 1}), "userId"),
        7: (
            _event("track", "text-revenue", properties={"revenue": "a lot"}),
            "properties.revenue",
        ),
        8: ({"type": "group", "userId": "u-1", "messageId": "no-group"}, "groupId"),
        9: (_event("track", "list-context", context=["web"]), "context"),
    }
    valid = {0: _event("track", "ok-0"), 3: _event("alias", "ok-3"), 10: _event("group", "ok-10")}
    batch = [valid[i] if i in valid else invalid[i][0] for i in range(11)]

    response = _post(client, "/v1/batch", {"batch": batch}, key)

    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["accepted"], result["stored"], result["duplicates"]) == (3, 3, 0)
    assert {(r["index"], r["field"]) for r in result["rejected"]} == {
        (i, field) for i, (_, field) in invalid.items()
    }
    reasons = {r["index"]: r["reason"] for r in result["rejected"]}
    assert "required" in reasons[1]
    assert "userId or anonymousId" in reasons[2]
    assert "track" in reasons[4]  # names the accepted types
    assert "ISO-8601" in reasons[5]
    assert "number" in reasons[7]
    stored = sorted(r[0] for r in _rows(client, "SELECT message_id FROM events"))
    assert stored == ["ok-0", "ok-10", "ok-3"]
    kept = _rows(
        client,
        "SELECT position, field, reason, source, origin, payload FROM rejected_events "
        "ORDER BY position",
    )
    assert [(r[0], r[1]) for r in kept] == [(i, invalid[i][1]) for i in sorted(invalid)]
    for position, _, reason, source, origin, payload in kept:
        assert reason == reasons[position]
        assert (source, origin) == ("web", "http:/v1/batch")
        assert orjson.loads(payload) == invalid[position][0]


def test_an_invalid_single_event_answers_400_naming_the_field_and_is_kept_aside(
    client: TestClient,
) -> None:
    key = _key(client)["key"]
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("track", {"userId": "u-1", "properties": {}}, "event"),
        ("identify", {"traits": {"plan": "gold"}}, "userId"),
        ("page", {"anonymousId": "a", "timestamp": "31/12/2024"}, "timestamp"),
        ("alias", {"userId": "u-1"}, "previousId"),
    ]
    for n, (kind, event, field) in enumerate(cases, start=1):
        response = _post(client, f"/v1/{kind}", event, key)
        assert response.status_code == 400, kind
        error = response.json()["error"]
        assert (error["code"], error["field"]) == ("invalid_event", field), kind
        assert field in error["message"], kind
        assert _counts(client) == (0, n), kind
        ((position, kept_field, payload),) = _rows(
            client,
            "SELECT position, field, payload FROM rejected_events WHERE origin = ?",
            [f"http:/v1/{kind}"],
        )
        assert (position, kept_field) == (0, field), kind
        assert orjson.loads(payload) == {"type": kind, **event}, kind


def test_a_retried_batch_is_stored_once(client: TestClient) -> None:
    key = _key(client)["key"]
    batch = {"batch": [_event(kind, f"retry-{kind}") for kind in KINDS]}

    first = _post(client, "/v1/batch", batch, key)
    again = _post(client, "/v1/batch", batch, key, compress=True)

    assert (first.json()["stored"], first.json()["duplicates"]) == (6, 0)
    assert (again.json()["stored"], again.json()["duplicates"]) == (0, 6)
    assert again.json()["accepted"] == 6
    # Partly new: only the new one is stored. A messageId twice in one batch counts once.
    mixed = {
        "batch": [_event("track", "retry-track"), _event("track", "new"), _event("page", "new")]
    }
    result = _post(client, "/v1/batch", mixed, key).json()
    assert (result["stored"], result["duplicates"]) == (1, 2)
    # The single-event routes deduplicate too.
    result = _post(client, "/v1/group", _event("group", "retry-group"), key).json()
    assert (result["stored"], result["duplicates"]) == (0, 1)
    # Without a messageId, the same event text is the same event.
    anonymous = {"type": "track", "event": "Cart Viewed", "anonymousId": "a-1"}
    assert _post(client, "/v1/track", anonymous, key).json()["stored"] == 1
    assert _post(client, "/v1/track", anonymous, key).json()["duplicates"] == 1
    rows = _rows(client, "SELECT message_id, count(*) FROM events GROUP BY 1")
    assert len(rows) == 8
    assert all(n == 1 for _, n in rows)


def test_deduplication_has_no_time_window(client: TestClient, tmp_path: Any) -> None:
    """An event imported with a receivedAt years ago is still a duplicate when resent now."""
    key = _key(client)["key"]
    old = _event("track", "from-2019", receivedAt="2019-03-01T10:00:00Z")
    old["timestamp"] = "2019-03-01T09:59:00Z"
    path = tmp_path / "history.ndjson"
    path.write_bytes(orjson.dumps(old) + b"\n")
    imported = client.post(
        "/v1/admin/import", json={"path": str(path), "source": "web"}, headers=AS_ADMIN
    )
    assert imported.json()["inserted"] == 1
    result = _post(client, "/v1/batch", {"batch": [_event("track", "from-2019")]}, key).json()
    assert (result["stored"], result["duplicates"]) == (0, 1)
    # Another source's key is another stream: the same messageId is its own event there.
    other = _key(client, name="pos")["key"]
    result = _post(client, "/v1/batch", {"batch": [_event("track", "from-2019")]}, other).json()
    assert result["stored"] == 1


def test_health_ready_docs_and_openapi_answer(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.json()["store"] is True
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]
    schema = client.get("/openapi.json").json()
    for route in (*KINDS, "batch"):
        operation = schema["paths"][f"/v1/{route}"]["post"]
        assert operation["security"] == [{"writeKey": []}], route
        assert "application/json" in operation["requestBody"]["content"], route
    assert schema["components"]["securitySchemes"]["writeKey"]["scheme"] == "basic"
    assert "Track" in schema["components"]["schemas"]


def test_a_rejected_event_fixed_and_replayed_is_stored(db_url: str) -> None:
    with TestClient(create_app(db_url, ADMIN)) as client:
        key = _key(client)["key"]
        bad = {"type": "track", "event": "X", "messageId": "fixme"}
        batch = {"batch": [_event("track", "fine"), bad]}
        result = _post(client, "/v1/batch", batch, key).json()
        assert result["rejected"] == [
            {"index": 1, "field": "userId", "reason": "userId or anonymousId is required"}
        ]
    store = open_store(db_url)
    try:
        ((pending,),) = store.query("SELECT id FROM rejected_events")
        # Replayed as it is, it fails again and stays kept aside, untouched.
        outcome = replay_rejected(store, [pending])
        assert (outcome.stored, outcome.still_rejected) == (0, 1)
        assert [r["id"] for r in rejected_events(store)] == [pending]

        fixed = orjson.dumps({**bad, "userId": "u-1"}).decode()
        outcome = replay_rejected(store, [pending], {pending: fixed})

        assert (outcome.replayed, outcome.stored, outcome.still_rejected) == (1, 1, 0)
        assert store.query("SELECT source, message_id, event FROM events ORDER BY seq") == [
            ("web", "fine", "Product Viewed"),
            ("web", "fixme", "X"),
        ]
        assert rejected_events(store) == []
        ((replayed_at,),) = store.query("SELECT replayed_at FROM rejected_events")
        assert replayed_at is not None
        # Replaying it again is refused: it is no longer pending, and nothing is stored twice.
        assert replay_rejected(store).replayed == 0
        assert store.query("SELECT count(*) FROM events") == [(2,)]
    finally:
        store.close()


def test_a_key_revoked_elsewhere_stops_working_once_its_cache_entry_is_checked(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Revoked behind the server's back (another process, straight in the store): the first
    request after the cache entry expires is answered from the cache and starts a check off
    the event loop; once that check is done, the key is refused."""
    from clientcore.api import runtime as runtime_module

    key = _key(client, name="kiosk")
    assert _post(client, "/v1/track", _event("track", "k-1"), key["key"]).is_success
    writer = client.app.state.runtime.store.reader()  # type: ignore[attr-defined]
    try:
        writer.execute(
            "UPDATE write_keys SET revoked_at = current_timestamp WHERE id = ?", [key["id"]]
        )
    finally:
        writer.close()
    rt = client.app.state.runtime  # type: ignore[attr-defined]
    monkeypatch.setattr(runtime_module, "KEY_CACHE_SECONDS", 0.0)
    for entry in list(rt._keys):
        rt._keys[entry] = (rt._keys[entry][0], 0.0)  # expired
    assert _post(client, "/v1/track", _event("track", "k-2"), key["key"]).is_success
    rt._rechecks.submit(lambda: None).result(timeout=10)  # the check has run
    refused = _post(client, "/v1/track", _event("track", "k-3"), key["key"])
    assert refused.status_code == 401
    assert "revoked" in refused.json()["error"]["message"]
