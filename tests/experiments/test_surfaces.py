"""The experiment surfaces: HTTP routes (auth, error shape, decide/reward, readouts), the CLI
(`experiments create|list|status|analyze|stop|holdout`, `kpi alerts`) and KPI alerts from events
with their drill-down."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from clientcore.api.app import create_app
from clientcore.cli import app as cli_app
from clientcore.collect.ingest import commit, prepare
from clientcore.experiments.kpi_data import kpi_alerts
from clientcore.store import Store, open_store

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ADMIN = "admin-token-for-tests"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def client(duckdb_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(duckdb_url, ADMIN, stitch=False)) as test_client:
        yield test_client


def _key(client: TestClient, scope: str) -> tuple[str, str]:
    made = client.post("/v1/admin/keys", json={"name": scope, "scope": scope}, headers=AS_ADMIN)
    assert made.status_code == 200
    return (made.json()["key"], "")


def test_routes_answer_with_the_right_auth_and_error_shape(client: TestClient) -> None:
    write, read = _key(client, "write"), _key(client, "read")
    body = {"id": "hero", "variants": ["control", "big"], "traffic": 1.0}
    assert client.post("/v1/experiments", json=body).status_code == 401
    assert client.post("/v1/experiments", json=body, auth=write).status_code == 401
    created = client.post("/v1/experiments", json=body, headers=AS_ADMIN)
    assert created.status_code == 201
    assert created.json()["buckets"] == [0, 10_000]
    bad = client.post("/v1/experiments", json={"id": "x", "variants": ["a"]}, headers=AS_ADMIN)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "variants"

    decided = client.get("/v1/decide", params={"experiment": "hero", "profile": "c-1"}, auth=write)
    assert decided.status_code == 200
    doc = decided.json()
    assert doc["variant"] in ("control", "big")
    assert doc["probability"] == 0.5
    again = client.get("/v1/decide", params={"experiment": "hero", "profile": "c-1"}, auth=read)
    assert again.json()["variant"] == doc["variant"]
    assert client.get("/v1/decide", params={"experiment": "hero", "profile": "c-1"}).status_code
    missing = client.get("/v1/decide", params={"experiment": "nope", "profile": "c"}, auth=write)
    assert missing.status_code == 404
    wrong = client.get(
        "/v1/decide", params={"experiment": "hero", "profile": "c", "channel": "fax"}, auth=write
    )
    assert wrong.status_code == 422
    assert wrong.json()["error"]["field"] == "channel"

    listed = client.get("/v1/experiments", auth=read).json()
    assert [e["id"] for e in listed["experiments"]] == ["hero"]
    status = client.get("/v1/experiments/hero", auth=read).json()
    assert sum(v["exposures"] for v in status["exposures"].values()) == 2
    assert client.get("/v1/experiments/hero/analysis", auth=read).json()["status"] == "collecting"
    assert client.post("/v1/experiments/hero/stop", auth=read).status_code == 401
    stopped = client.post("/v1/experiments/hero/stop", headers=AS_ADMIN, params={"reason": "x"})
    assert stopped.json()["status"] == "stopped"
    after = client.get("/v1/decide", params={"experiment": "hero", "profile": "c-1"}, auth=write)
    assert after.json()["variant"] is None
    holdout = client.put("/v1/experiments-holdout", json={"share": 0.7}, headers=AS_ADMIN)
    assert holdout.status_code == 422
    assert holdout.json()["error"]["field"] == "share"


def test_bandit_reward_route(client: TestClient) -> None:
    write = _key(client, "write")
    client.post(
        "/v1/experiments",
        json={"id": "subject", "kind": "bandit", "variants": ["a", "b"], "layer": "email"},
        headers=AS_ADMIN,
    )
    doc = client.get(
        "/v1/decide",
        params={"experiment": "subject", "profile": "x", "channel": "email"},
        auth=write,
    ).json()
    assert set(doc["propensities"]) == {"a", "b"}
    route = "/v1/bandits/subject/reward"
    body = {"decision_id": doc["decision_id"], "reward": 1}
    assert client.post(route, json=body).status_code == 401
    assert client.post(route, json=body, auth=write).status_code == 200
    assert client.post(route, json=body, auth=write).status_code == 409
    unknown = client.post(route, json={"decision_id": "nope", "reward": 1}, auth=write)
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "decision_id"
    more = [
        client.get("/v1/decide", params={"experiment": "subject", "profile": f"y{i}"}, auth=write)
        for i in range(3)
    ]
    ids = [m.json()["decision_id"] for m in more]
    batch = {"rewards": [{"decision_id": i, "reward": 0} for i in ids]}
    spoiled = {"rewards": [*batch["rewards"], {"decision_id": ids[0], "reward": 1}]}
    assert client.post("/v1/bandits/subject/rewards", json=spoiled, auth=write).status_code == 409
    assert client.post("/v1/bandits/subject/rewards", json=batch, auth=write).status_code == 200
    readout = client.get("/v1/experiments/subject/analysis", headers=AS_ADMIN).json()
    assert readout["decisions"] == 4
    assert sum(arm["rewarded"] for arm in readout["arms"].values()) == 4  # the spoiled batch: none


# -- KPI alerts ---------------------------------------------------------------------------

END = datetime(2025, 6, 30, tzinfo=UTC)
STORES = ("store_001", "store_002", "store_003")


def _shop(store: Store, closed_on_last_day: str | None) -> None:
    """Ten weeks of orders with a weekly rhythm; optionally one store closed on the last day."""
    events: list[bytes] = []
    for day in range(70):
        when = END - timedelta(days=69 - day)
        weekend = when.weekday() >= 5
        for k, shop in enumerate(STORES):
            if shop == closed_on_last_day and day == 69:
                continue
            orders = 12 + 6 * weekend + 2 * k + day % 3
            for j in range(orders):
                events.append(
                    orjson.dumps(
                        {
                            "type": "track",
                            "event": "Order Completed",
                            "messageId": f"{day}-{shop}-{j}",
                            "anonymousId": f"till-{day}-{shop}-{j}",
                            "timestamp": (when + timedelta(hours=10, minutes=j)).isoformat(),
                            "context": {"channel": "store", "store_id": shop},
                            "properties": {
                                "order_id": f"o-{day}-{shop}-{j}",
                                "revenue": 50.0,
                                "products": [
                                    {"product_id": "p1", "category": "shoes", "price": 30},
                                    {"product_id": "p2", "category": "bags", "price": 20},
                                ],
                            },
                        }
                    )
                )
    commit(store, [prepare(events, "pos", "test")])


def test_a_closed_store_is_the_first_explanation_of_the_drop(store: Store) -> None:
    _shop(store, closed_on_last_day="store_002")
    doc = kpi_alerts(store, kpi="revenue", days=70, threshold=3.0)
    assert [a["label"] for a in doc["alerts"]] == ["2025-06-30"]
    drill = doc["alerts"][0]["drill_down"]
    assert drill["store"][0]["value"] == "store_002"
    assert drill["store"][0]["share"] == pytest.approx(1.0, abs=0.15)
    assert {row["value"] for row in drill["category"][:2]} == {"shoes", "bags"}
    shoes = next(r for r in drill["category"] if r["value"] == "shoes")
    assert shoes["share"] == pytest.approx(0.6, abs=0.1)  # 30 of every 50 dollars


def test_a_normal_period_raises_no_alert(store: Store) -> None:
    _shop(store, closed_on_last_day=None)
    assert kpi_alerts(store, kpi="orders", days=70, threshold=3.0)["alerts"] == []


# -- CLI ------------------------------------------------------------------------------------


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli_app, list(args), env={"COLUMNS": "160"})


def test_cli_manages_and_reads_out_experiments(duckdb_url: str, tmp_path: Path) -> None:
    opened = open_store(duckdb_url)
    _shop(opened, closed_on_last_day="store_003")
    opened.close()
    created = _run(
        "experiments", "create", "banner", "--variants", "control,new", "--weights", "3,1",
        "--traffic", "0.5", "--db", duckdb_url, "--json",
    )  # fmt: skip
    assert created.exit_code == 0, created.stderr
    assert json.loads(created.stdout)["variants"][1] == {"name": "new", "weight": 1.0}
    listed = _run("experiments", "list", "--db", duckdb_url, "--json")
    assert [e["id"] for e in json.loads(listed.stdout)["experiments"]] == ["banner"]
    shown = _run("experiments", "status", "banner", "--db", duckdb_url)
    assert shown.exit_code == 0
    assert "banner" in shown.stdout
    page = tmp_path / "readout.html"
    read = _run("experiments", "analyze", "banner", "--db", duckdb_url, "--html", str(page))
    assert read.exit_code == 0
    assert "waiting for at least 2 units" in read.stdout
    assert page.read_text().startswith("<!doctype html>")
    stopped = _run("experiments", "stop", "banner", "--db", duckdb_url, "--json")
    assert json.loads(stopped.stdout)["status"] == "stopped"
    alerts = _run("kpi", "alerts", "--days", "70", "--threshold", "3", "--db", duckdb_url, "--json")
    assert alerts.exit_code == 0, alerts.stderr
    first = json.loads(alerts.stdout)["alerts"][0]
    assert first["drill_down"]["store"][0]["value"] == "store_003"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["experiments", "create", "x", "--variants", "a"], "error: variants:"),
        (["experiments", "create", "x", "--variants", "a,b", "--weights", "1"], "error: --weights"),
        (["experiments", "analyze", "nope"], "error: no experiment 'nope'"),
        (["experiments", "list", "--status", "paused"], "error: --status"),
        (["kpi", "alerts", "--kpi", "clicks"], "error: kpi:"),
        (["kpi", "alerts", "--until", "yesterday"], "error: --until"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(duckdb_url: str, args: list[str], needle: str) -> None:
    result = _run(*args, "--db", duckdb_url)
    assert result.exit_code == 2
    assert result.stderr.startswith(needle)
    assert result.stderr.count("\n") == 1
