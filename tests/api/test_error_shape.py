"""One JSON error shape for every refusal: {"error": {"code": str, "message": str, ...}}."""

from __future__ import annotations

import gzip
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clientcore.api.app import create_app
from clientcore.api.body import MAX_REQUEST_BYTES

with warnings.catch_warnings():
    # Starlette asks for httpx2 instead of httpx; the test client works with either.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ADMIN = "admin-token-for-tests"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    db = tmp_path_factory.mktemp("errors") / "clientcore.duckdb"
    with TestClient(create_app(str(db), ADMIN)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def key(client: TestClient) -> str:
    response = client.post("/v1/admin/keys", json={"name": "web"}, headers=AS_ADMIN)
    return response.json()["key"]  # type: ignore[no-any-return]


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    """Check the one shape and return the error object."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict)
    assert list(body) == ["error"], body
    error = body["error"]
    assert isinstance(error, dict)
    assert isinstance(error.get("code"), str)
    assert error["code"] == code
    assert isinstance(error.get("message"), str)
    assert error["message"].strip()
    if "field" in error:
        assert isinstance(error["field"], str)
        assert error["field"]
    return error


def test_400_malformed_json(client: TestClient, key: str) -> None:
    response = client.post("/v1/batch", content=b'{"batch": [}', auth=(key, ""))
    error = _error(response, 400, "invalid_payload")
    assert "JSON" in error["message"]


def test_400_bad_gzip(client: TestClient, key: str) -> None:
    response = client.post(
        "/v1/track",
        content=b"\x1f\x8b\x08\x00garbage",
        headers={"Content-Encoding": "gzip"},
        auth=(key, ""),
    )
    _error(response, 400, "invalid_payload")


def test_400_invalid_event_names_the_field(client: TestClient, key: str) -> None:
    response = client.post("/v1/track", json={"userId": "u"}, auth=(key, ""))
    error = _error(response, 400, "invalid_event")
    assert error["field"] == "event"


def test_400_invalid_batch_names_the_field(client: TestClient, key: str) -> None:
    response = client.post("/v1/batch", json={"events": []}, auth=(key, ""))
    error = _error(response, 400, "invalid_payload")
    assert error["field"] == "batch"


@pytest.mark.parametrize(
    "auth",
    [None, ("ccw_00000000_unknown", ""), ("", "")],
    ids=["no key", "unknown key", "empty user"],
)
def test_401_write_routes(client: TestClient, auth: tuple[str, str] | None) -> None:
    response = client.post("/v1/identify", json={"userId": "u"}, auth=auth)
    _error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Basic"


def test_401_admin_routes(client: TestClient) -> None:
    _error(client.get("/v1/admin/keys"), 401, "unauthorized")
    wrong = {"Authorization": "Bearer not-the-token"}
    _error(client.get("/v1/admin/events/stats", headers=wrong), 401, "unauthorized")


def test_404_unknown_path(client: TestClient) -> None:
    _error(client.get("/v1/nothing-here"), 404, "not_found")
    _error(client.post("/v2/track", json={}), 404, "not_found")


def test_405_wrong_method_says_which_are_allowed(client: TestClient) -> None:
    response = client.get("/v1/track")
    _error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"
    _error(client.delete("/health"), 405, "method_not_allowed")


def test_413_too_large(client: TestClient, key: str) -> None:
    big = b'{"batch": [' + b" " * MAX_REQUEST_BYTES + b"]}"
    error = _error(client.post("/v1/batch", content=big, auth=(key, "")), 413, "payload_too_large")
    assert "KiB" in error["message"]
    bomb = client.post(
        "/v1/batch",
        content=gzip.compress(big),
        headers={"Content-Encoding": "gzip"},
        auth=(key, ""),
    )
    _error(bomb, 413, "payload_too_large")


def test_422_request_validation(client: TestClient) -> None:
    response = client.post("/v1/admin/keys", json={"name": ""}, headers=AS_ADMIN)
    assert _error(response, 422, "invalid_request")["field"] == "name"
    response = client.get("/v1/admin/events/rejected?limit=many", headers=AS_ADMIN)
    assert _error(response, 422, "invalid_request")["field"] == "limit"
    response = client.post("/v1/admin/import", json={}, headers=AS_ADMIN)
    assert _error(response, 422, "invalid_request")["field"] == "path"


def test_400_from_an_admin_route(client: TestClient, tmp_path: Path) -> None:
    response = client.post("/v1/admin/keys", json={"name": "x", "scope": "root"}, headers=AS_ADMIN)
    assert _error(response, 400, "bad_request")["field"] == "scope"
    odd = tmp_path / "events.xlsx"
    odd.write_text("not events")
    response = client.post("/v1/admin/import", json={"path": str(odd)}, headers=AS_ADMIN)
    assert _error(response, 400, "invalid_file")["field"] == "format"
