"""The reconcile routes end to end (admin token): import, run, the review queue with evidence,
a decision applied at once, explain, person, evaluate, and the one error shape."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from clientcore.api.app import create_app
from tests.reconcile.conftest import SOURCES

with warnings.catch_warnings():
    # Starlette asks for httpx2 instead of httpx; the test client works with either.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ADMIN = "admin-token-for-tests"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}
BASE = "/v1/admin/reconcile"


@pytest.fixture
def client(tmp_path: Path, retailer: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    policy = tmp_path / "policy.yaml"
    policy.write_text("u_max_pairs: 200000\n")
    monkeypatch.setenv("CLIENTCORE_RECONCILE", str(policy))
    app = create_app(str(tmp_path / "api.duckdb"), ADMIN, stitch=False)
    with TestClient(app) as test_client:
        for source in SOURCES:
            body = {"path": str(retailer / "crm" / f"crm_{source}.csv"), "source": source}
            response = test_client.post(f"{BASE}/import", json=body, headers=AS_ADMIN)
            assert response.status_code == 200, response.text
        yield test_client


def test_review_queue_end_to_end(client: TestClient, retailer: Path) -> None:
    run = client.post(f"{BASE}/run", json={}, headers=AS_ADMIN)
    assert run.status_code == 200, run.text
    assert run.json()["mode"] == "full"

    queue = client.get(f"{BASE}/review", params={"limit": 1}, headers=AS_ADMIN).json()
    assert queue["total"] >= 1
    pair = queue["pairs"][0]
    assert {"field", "agreement", "level", "match_weight", "left", "right"} <= set(
        pair["evidence"][0]
    )
    decided = client.post(
        f"{BASE}/review/decisions",
        json={"a": pair["a"], "b": pair["b"], "decision": "accepted", "decided_by": "ana"},
        headers=AS_ADMIN,
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["same_person_now"]
    labels = client.get(f"{BASE}/review/labels", headers=AS_ADMIN).json()
    assert labels["decisions"] == 1

    why = client.get(f"{BASE}/explain", params={"a": pair["a"], "b": pair["b"]}, headers=AS_ADMIN)
    assert why.json()["verdict"] == "linked: a reviewer accepted this pair"
    person = client.get(f"{BASE}/records/{pair['a']}", headers=AS_ADMIN).json()
    assert pair["b"] in {r["record"] for r in person["records"]}

    truth = str(retailer / "truth" / "crm_records.csv")
    scores = client.post(f"{BASE}/evaluate", json={"labels": truth}, headers=AS_ADMIN).json()
    assert scores["pairwise"]["f1"] >= 0.97


def test_errors_have_the_one_shape(client: TestClient, retailer: Path) -> None:
    assert client.get(f"{BASE}/review").status_code == 401
    unknown = client.get(f"{BASE}/explain", params={"a": "x:1", "b": "y:2"}, headers=AS_ADMIN)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    known = client.get(f"{BASE}/review", headers=AS_ADMIN).json()
    assert known["total"] == 0  # nothing has run yet
    records = client.get(f"{BASE}/records/sales:nope", headers=AS_ADMIN)
    assert records.status_code == 404
    assert records.json()["error"]["field"] == "record"
    bad = client.post(
        f"{BASE}/review/decisions", json={"a": "x:1", "b": "y:2", "decision": "maybe"},
        headers=AS_ADMIN,
    )  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "decision"
    sales = retailer / "crm" / "crm_sales.csv"
    first_id = sales.read_text().splitlines()[1].split(",")[0]
    no_model = client.get(
        f"{BASE}/explain", params={"a": f"sales:{first_id}", "b": f"sales:{first_id}"},
        headers=AS_ADMIN,
    )  # fmt: skip
    assert no_model.status_code == 409
    assert no_model.json()["error"]["code"] == "no_model"
