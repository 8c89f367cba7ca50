"""`GET /v1/profiles/{identifier}/value` on the hand-made shop, on DuckDB and PostgreSQL: a
read key gets the line-by-line P&L, a write key is 403, no key 401, an unknown identifier
404, all in the one error shape; the admin twin answers the CLI."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from fastapi import FastAPI

from clientcore.api import profiles, runtime, value
from clientcore.api.app import create_app
from clientcore.value.costs import COSTS_ENV, CostModel
from tests.value import test_pnl_attribution as hand_made
from tests.value.test_pnl_attribution import ADA, ADA_LINES, COSTS

shop = hand_made.shop  # the hand-made shop on each backend

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette asks for httpx2; the test client works anyway
    from fastapi.testclient import TestClient

ADMIN = "admin-token-for-value-tests"


class _NoStitching:
    """The shop's identity rows are hand-written: the server must not rebuild them."""

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


def _paths(route: Any) -> list[str]:
    inner = getattr(route, "original_router", None)
    if inner is not None:
        return [p for r in inner.routes for p in _paths(r)]
    return [str(getattr(route, "path", ""))]


def _app(url: str) -> FastAPI:
    """The app with the value routes ahead of the profile view's `{identifier:path}`, as
    app.py must register them (until it does)."""
    app = create_app(url, ADMIN)
    routes = app.router.routes
    if not any(p.endswith("/value") for r in routes for p in _paths(r)):
        app.include_router(value.router)
        mine = routes.pop()
        at = next(
            (k for k, r in enumerate(routes) if any(p.startswith("/v1/profiles/")
                                                     for p in _paths(r))),
            len(routes),
        )  # fmt: skip
        routes.insert(at, mine)
    if not any(p == "/v1/profiles/{identifier:path}" for r in routes for p in _paths(r)):
        app.include_router(profiles.router)
    return app


@pytest.fixture(scope="module")
def client(
    shop: tuple[str, CostModel], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("api_costs")
    (folder / "catalog.csv").write_text("product_id,unit_cost\np1,20.00\np2,99\n")
    (folder / "costs.yaml").write_text(yaml.safe_dump(COSTS))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runtime, "IdentityFollower", _NoStitching, raising=False)
        patch.setenv(COSTS_ENV, str(folder / "costs.yaml"))
        with TestClient(_app(shop[0])) as test_client:
            yield test_client


def _key(client: TestClient, scope: str) -> str:
    response = client.post(
        "/v1/admin/keys", json={"name": "care", "scope": scope},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return str(response.json()["key"])


def _get(client: TestClient, identifier: str, key: str | None, **params: Any) -> Any:
    return client.get(
        f"/v1/profiles/{quote(identifier, safe='')}/value",
        params={"clv": "false", **params},
        auth=(key, "") if key else None,
    )


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"]
    assert body["error"]["code"] == code
    return body["error"]  # type: ignore[no-any-return]


def test_read_key_gets_the_lines(client: TestClient) -> None:
    response = _get(client, " Ada@Example.com ", _key(client, "read"))
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["profile_id"] == ADA
    assert doc["statement"]["contribution"] == "32.18"
    assert {(x["section"], x["item"]): x["events"] for x in doc["lines"]} == {
        key: n for key, (_, n) in ADA_LINES.items()
    }
    assert doc["clv"] is None


def test_refusals_in_the_one_error_shape(client: TestClient) -> None:
    _error(_get(client, "u-ada", None), 401, "unauthorized")
    _error(_get(client, "u-ada", _key(client, "write")), 403, "forbidden")
    read = _key(client, "read")
    _error(_get(client, "nobody@example.com", read), 404, "not_found")
    bad = _get(client, "u-ada", read, period_start="2024-02-01", period_end="2024-01-01")
    _error(bad, 422, "invalid")


def test_admin_route_and_period(client: TestClient) -> None:
    response = client.get(
        "/v1/admin/profiles/u-ada/value",
        params={"clv": "false", "period_start": "2024-01-05"},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert response.status_code == 200, response.text
    sections = {x["section"] for x in response.json()["lines"]}
    assert sections == {"marketing", "service"}  # only the call, e-mails and the incident


def test_docs_name_every_route() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "value.md"
    text = docs.read_text("utf-8")
    for route in (
        "GET /v1/profiles/{identifier}/value",
        "GET /v1/admin/profiles/{identifier}/value",
        "clientcore value report",
        "clientcore value customer",
    ):
        assert route in text
