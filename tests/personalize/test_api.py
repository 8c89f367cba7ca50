"""`GET /v1/recommendations` and its admin routes, through the real app: read keys, the one
error shape, an event collected a moment ago changing the next answer, and hot swaps that drop
no request."""

from __future__ import annotations

import shutil
import threading
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from clientcore.api.app import create_app
from clientcore.personalize.live import LiveContext, context_of, read_context
from clientcore.personalize.model import Recommender
from clientcore.personalize.service import RecommendationService
from tests.personalize.conftest import Retailer

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's note on httpx versions
    from fastapi.testclient import TestClient

ADMIN = "admin-token-for-tests"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture(scope="module")
def shop(retailer: Retailer, tmp_path_factory: pytest.TempPathFactory) -> Retailer:
    base = tmp_path_factory.mktemp("api")
    db = base / "shop.duckdb"
    shutil.copy(retailer.db, db)
    shutil.copytree(retailer.models, base / "models")
    return Retailer(retailer.data, str(db), base / "models", retailer.report)


@pytest.fixture(scope="module")
def client(shop: Retailer) -> Iterator[TestClient]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CLIENTCORE_MODELS", str(shop.models))
        with TestClient(create_app(shop.db, ADMIN)) as test_client:
            yield test_client


def _key(client: TestClient, scope: str) -> str:
    response = client.post("/v1/admin/keys", json={"name": scope, "scope": scope}, headers=AS_ADMIN)
    assert response.status_code == 200, response.text
    return str(response.json()["key"])


@pytest.fixture(scope="module")
def read_key(client: TestClient) -> str:
    return _key(client, "read")


@pytest.fixture(scope="module")
def at(shop: Retailer) -> datetime:
    """An hour after the demo log ends: the moment the tests live in."""
    model = Recommender.load(shop.models)
    return datetime.fromtimestamp(model.models.now, UTC) + timedelta(hours=1)


def _recs(client: TestClient, key: str | None, **params: Any) -> Any:
    return client.get("/v1/recommendations", params=params, auth=(key, "") if key else None)


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"]
    assert body["error"]["code"] == code
    return body["error"]  # type: ignore[no-any-return]


def test_keys(client: TestClient) -> None:
    _error(_recs(client, None), 401, "unauthorized")
    _error(_recs(client, _key(client, "write")), 403, "forbidden")


def test_a_known_customer_gets_a_list_with_reasons(
    client: TestClient, read_key: str, shop: Retailer, at: datetime
) -> None:
    model = Recommender.load(shop.models)
    profile = int(model.history.profiles[int(model.history.ptr[1:].argmax()) - 1])
    user = _user_of(client, profile)
    response = _recs(client, read_key, profile=user, k=7, at=at.isoformat())
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["profile_id"] == profile
    assert doc["model_version"] == "v1"
    assert len(doc["items"]) == 7
    assert [item["rank"] for item in doc["items"]] == list(range(1, 8))
    for item in doc["items"]:
        assert {"product_id", "name", "category", "price", "score", "reason"} <= set(item)
        assert item["reason"]["text"]
    assert doc["context"]["history_events"] > 0


def _user_of(client: TestClient, profile: int) -> str:
    """Any identifier of the profile."""
    rt = client.app.state.runtime  # type: ignore[attr-defined]
    rows = rt.reader.query("SELECT value FROM identifiers WHERE profile_id = ?", [profile])
    return str(rows[0][0])


def test_an_event_just_collected_changes_the_next_answer(
    client: TestClient, read_key: str, shop: Retailer, at: datetime
) -> None:
    visitor = str(uuid.uuid4())
    before = _recs(client, read_key, session=visitor, channel="web", k=10, at=at.isoformat())
    assert before.status_code == 200, before.text
    assert before.json()["context"]["session_events"] == 0
    model = Recommender.load(shop.models)
    category = model.catalog.category_names[int(model.catalog.category[0])]
    viewed = [str(p) for p in model.catalog.product_id[model.catalog.category == 0][:3]]
    write = _key(client, "write")
    batch = [
        {
            "type": "track",
            "event": "Product Viewed",
            "anonymousId": visitor,
            "messageId": str(uuid.uuid4()),
            "timestamp": (at - timedelta(minutes=3 - n)).isoformat(),
            "context": {"channel": "web"},
            "properties": {"product_id": pid, "category": category},
        }
        for n, pid in enumerate(viewed)
    ]
    sent = client.post("/v1/batch", json={"batch": batch}, auth=(write, ""))
    assert sent.status_code == 200, sent.text
    after = _recs(client, read_key, session=visitor, channel="web", k=10, at=at.isoformat())
    doc = after.json()
    assert doc["context"]["session_events"] == 3
    shown = [item["product_id"] for item in doc["items"]]
    assert shown != [item["product_id"] for item in before.json()["items"]]
    assert not set(shown) & set(viewed)  # what she is looking at is not suggested back
    assert sum(item["category"] == category for item in doc["items"]) >= 2
    tail = _service(client).tail
    assert tail is not None
    assert visitor in tail.by_anonymous


def _service(client: TestClient) -> RecommendationService:
    return client.app.state.recommendations  # type: ignore[attr-defined,no-any-return]


def _same(a: LiveContext, b: LiveContext) -> None:
    assert (a.profile_id, a.session_events, a.new_events) == (
        b.profile_id,
        b.session_events,
        b.new_events,
    )
    for name in ("items", "kinds", "times", "session"):
        np.testing.assert_array_equal(getattr(a.context, name), getattr(b.context, name))
    assert a.context.channel == b.context.channel


def test_memory_and_store_give_the_same_context(
    client: TestClient, read_key: str, shop: Retailer, at: datetime
) -> None:
    """The log's tail and the identity graph in memory read what the store lookups read:
    known people by any identifier, with and without their cookie, anonymous visitors, a
    visit collected a moment ago (before and after identity stitched it), strangers."""
    rt = client.app.state.runtime  # type: ignore[attr-defined]
    service = _service(client)
    model = service.model
    visitor, user = str(uuid.uuid4()), "just-signed-up"
    viewed = [str(p) for p in model.catalog.product_id[:2]]
    batch = [
        {
            "type": "track",
            "event": "Product Viewed",
            "anonymousId": visitor,
            "userId": user if n else None,
            "messageId": str(uuid.uuid4()),
            "timestamp": (at - timedelta(minutes=5 - n)).isoformat(),
            "context": {"channel": "web"},
            "properties": {"product_id": pid},
        }
        for n, pid in enumerate(viewed)
    ]
    sent = client.post("/v1/batch", json={"batch": batch}, auth=(_key(client, "write"), ""))
    assert sent.status_code == 200, sent.text
    people = rt.reader.query(
        """SELECT u.value, max(a.value) FROM identifiers u JOIN identifiers a
           ON a.profile_id = u.profile_id AND a.type = 'anonymous_id'
           WHERE u.type IN ('user_id', 'email') GROUP BY u.value ORDER BY u.value LIMIT 40"""
    )
    asks: list[tuple[str | None, str | None]] = [(str(u), str(a)) for u, a in people]
    asks += [(str(u), None) for u, _ in people[:10]] + [(None, str(a)) for _, a in people[:10]]
    recent = rt.reader.query(
        """SELECT DISTINCT e.anonymous_id, u.value FROM events e
           JOIN identifiers a ON a.type = 'anonymous_id' AND a.value = e.anonymous_id
           LEFT JOIN identifiers u ON u.profile_id = a.profile_id AND u.type = 'user_id'
           WHERE e.seq <= ? AND e.timestamp >= to_timestamp(?) ORDER BY 1 LIMIT 20""",
        [model.watermark, model.models.now - 1800],
    )
    asks += [(None, str(a)) for a, _ in recent] + [(u, str(a)) for a, u in recent if u]
    asks += [("nobody@example.com", str(uuid.uuid4()))]
    just_sent = [(None, visitor), (user, visitor)]
    visits = 0
    for stitched in (False, True):
        if stitched:  # the visit just sent, once identity has stitched it (before, the
            assert rt.identity.wait_idle()  # graph may run ahead of the tables it writes)
            asks += just_sent
        service._catch_up()
        tail = service.tail
        assert tail is not None
        assert context_of(tail, model, None, visitor, at.timestamp(), None).session_events == 2
        # an hour after the log's end, and ten minutes after it (visits still open)
        for now in (at.timestamp(), model.models.now + 600):
            assert tail.covers(now, model.watermark)
            for profile, session in asks:
                memory = context_of(tail, model, profile, session, now, None)
                _same(memory, read_context(rt.reader, model, profile, session, now, None))
                visits += memory.session_events > 0
    assert visits >= 4  # open visits of the log and the one just sent were compared
    rt.identity.reload()  # as after a rebuild: the tail indexes identifiers anew
    service._catch_up()
    assert not tail.behind()
    for profile, session in asks[:15]:
        now = model.models.now + 600
        memory = context_of(tail, model, profile, session, now, None)
        _same(memory, read_context(rt.reader, model, profile, session, now, None))


def test_rules_and_bad_parameters(client: TestClient, read_key: str, at: datetime) -> None:
    doc = _recs(client, read_key, k=20, max_price=30, min_margin=0.3, at=at.isoformat()).json()
    assert doc["items"]
    assert all(item["price"] <= 30 for item in doc["items"])
    excluded = doc["items"][0]["product_id"]
    again = _recs(client, read_key, k=20, max_price=30, exclude=excluded, at=at.isoformat())
    assert excluded not in [item["product_id"] for item in again.json()["items"]]
    assert _error(_recs(client, read_key, k=0), 422, "invalid_request")["field"] == "k"
    assert _error(_recs(client, read_key, channel="fax"), 422, "invalid_request")["field"] == (
        "channel"
    )
    bad = _recs(client, read_key, min_price=50, max_price=10)
    assert _error(bad, 422, "invalid_request")["field"] == "min_price"


def test_reload_swaps_without_dropping_requests(
    client: TestClient, read_key: str, shop: Retailer, at: datetime
) -> None:
    Recommender.load(shop.models).save(shop.models)  # v2 appears on disk
    statuses: list[int] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            statuses.append(_recs(client, read_key, k=5, at=at.isoformat()).status_code)

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    swapped = client.post("/v1/admin/recommendations/reload", headers=AS_ADMIN)
    stop.set()
    for t in threads:
        t.join()
    assert swapped.status_code == 200, swapped.text
    assert swapped.json()["version"] == "v2"
    assert statuses
    assert set(statuses) == {200}
    status = client.get("/v1/admin/recommendations/model", headers=AS_ADMIN).json()
    assert status["version"] == status["current_on_disk"] == "v2"
    via_admin = client.get(
        "/v1/admin/recommendations", params={"k": 2, "at": at.isoformat()}, headers=AS_ADMIN
    )
    assert via_admin.json()["model_version"] == "v2"


def test_training_inside_the_server_swaps_the_new_version_in(
    client: TestClient, read_key: str, shop: Retailer, at: datetime
) -> None:
    before = client.get("/v1/admin/recommendations/model", headers=AS_ADMIN).json()["version"]
    trained = client.post(
        "/v1/admin/recommendations/train",
        json={"catalog": str(shop.catalog), "max_cases": 60},
        headers=AS_ADMIN,
    )
    assert trained.status_code == 200, trained.text
    version = trained.json()["version"]
    assert version != before
    doc = _recs(client, read_key, k=3, at=at.isoformat()).json()
    assert doc["model_version"] == version
    missing = client.post(
        "/v1/admin/recommendations/train", json={"catalog": "/no/such.csv"}, headers=AS_ADMIN
    )
    assert _error(missing, 422, "cannot_train")["field"] == "catalog"


def test_without_a_model_the_route_says_so(tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CLIENTCORE_MODELS", str(tmp_path / "none"))
        with TestClient(create_app(str(tmp_path / "empty.duckdb"), ADMIN)) as empty:
            key = _key(empty, "read")
            error = _error(_recs(empty, key), 503, "no_model")
            assert "recommend train" in error["message"]
