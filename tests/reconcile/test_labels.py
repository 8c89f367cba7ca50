"""Review decisions as labels: the check of the model in use, and the tuning they drive.

Golden values for the fit (a closed form it must reach when the prior is flat), then the demo
retailer's CRMs: reviewers who accept what the model left in the grey zone must make it bolder,
reviewers who reject what it merged must make it more careful, and either way the next run
scores with the new version. Through the command line and the API.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from clientcore.api.app import create_app
from clientcore.cli import app
from clientcore.reconcile.labels import fit_shift, probability
from clientcore.store import open_store
from tests.reconcile.conftest import SOURCES

with warnings.catch_warnings():
    # Starlette asks for httpx2 instead of httpx; the test client works with either.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

runner = CliRunner()
ADMIN = "admin-token-for-labels"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}


def _cli(args: list[str], code: int = 0) -> Any:
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout) if code == 0 and "--json" in args else result


# -- the fit ---------------------------------------------------------------------------------


def test_a_flat_prior_gives_the_logistic_maximum_likelihood() -> None:
    # Ten pairs at weight 0 (p = 0.5), seven accepted: the odds 7:3 are log2(7/3) bits.
    weights = np.zeros(10)
    accepted = np.array([True] * 7 + [False] * 3)
    assert fit_shift(weights, accepted, sd=1e4) == pytest.approx(math.log2(7 / 3), abs=1e-4)
    assert probability(np.array([fit_shift(weights, accepted, sd=1e4)]))[0] == pytest.approx(0.7)


def test_labels_that_agree_with_the_model_leave_it_alone() -> None:
    weights = np.array([-3.0, -1.0, 1.0, 3.0])
    # Half accepted, symmetric around 0: the model's own calibration.
    assert fit_shift(weights, np.array([False, False, True, True]), sd=2) == pytest.approx(
        fit_shift(-weights, np.array([True, True, False, False]), sd=2) * -1, abs=1e-9
    )
    assert fit_shift(np.zeros(2), np.array([True, False]), sd=2) == pytest.approx(0, abs=1e-9)


def test_disagreeing_labels_move_the_shift_their_way_as_far_as_the_prior_lets_them() -> None:
    weights = np.full(20, 2.0)  # p = 0.8 each
    rejected = np.zeros(20, dtype=bool)
    accepted = np.ones(20, dtype=bool)
    assert fit_shift(weights, rejected, sd=2) < 0 < fit_shift(weights, accepted, sd=2)
    # A tighter prior moves less; more labels move more.
    assert abs(fit_shift(weights, rejected, sd=0.5)) < abs(fit_shift(weights, rejected, sd=2))
    assert abs(fit_shift(weights[:5], rejected[:5], sd=2)) < abs(fit_shift(weights, rejected, 2))


# -- on the demo retailer ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory, retailer: Path) -> Iterator[Path]:
    """The three CRMs imported and linked once; each test works on a copy."""
    folder = tmp_path_factory.mktemp("labels")
    policy = folder / "policy.yaml"
    policy.write_text("u_max_pairs: 200000\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CLIENTCORE_RECONCILE", str(policy))
        db = folder / "linked.duckdb"
        for source in SOURCES:
            path = str(retailer / "crm" / f"crm_{source}.csv")
            _cli(["import", "customers", path, "--source", source, "--db", str(db), "--json"])
        _cli(["reconcile", "run", "--db", str(db), "--json"])
        yield db


@pytest.fixture
def db(linked: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    policy = tmp_path / "policy.yaml"
    policy.write_text("u_max_pairs: 200000\n")
    monkeypatch.setenv("CLIENTCORE_RECONCILE", str(policy))
    copy = tmp_path / "copy.duckdb"
    shutil.copy(linked, copy)
    return str(copy)


def _truth(retailer: Path) -> dict[str, str]:
    with (retailer / "truth" / "crm_records.csv").open() as handle:
        return {f"{r['source']}:{r['record_id']}": r["person_id"] for r in csv.DictReader(handle)}


def _pairs(db: str, status: str, order: str, limit: int) -> list[tuple[str, str, float]]:
    store = open_store(db)
    try:
        rows = store.query(
            "SELECT ra.source || ':' || ra.record_id, rb.source || ':' || rb.record_id, "
            "l.match_probability FROM record_links l "
            "JOIN customer_records ra ON ra.record_key = l.a "
            "JOIN customer_records rb ON rb.record_key = l.b "
            f"WHERE l.status = ? ORDER BY l.match_probability {order}, l.a, l.b LIMIT ?",
            [status, limit],
        )
    finally:
        store.close()
    return [(str(a), str(b), float(p)) for a, b, p in rows]


def _decide(db: str, a: str, b: str, decision: str) -> None:
    _cli(["reconcile", "review", decision, a, b, "--db", db, "--json"])


def test_checking_needs_decisions(db: str) -> None:
    result = _cli(["reconcile", "labels", "check", "--db", db], code=2)
    assert result.stderr.strip().splitlines() == [
        "error: --labels: no review decisions yet; decide pairs with `clientcore reconcile "
        "review accept` or `reject` first"
    ]
    bad = _cli(["reconcile", "labels", "check", "--engine", "oracle", "--db", db], code=2)
    assert "--engine must be one of duckdb, spark" in bad.stderr


def test_accepting_the_grey_zone_makes_the_model_bolder(db: str, retailer: Path) -> None:
    truth = _truth(retailer)
    waiting = _pairs(db, "review", "DESC", 50)
    assert len(waiting) >= 5
    for a, b, _ in waiting:
        _decide(db, a, b, "accept" if truth[a] == truth[b] else "reject")
    accepted = sum(truth[a] == truth[b] for a, b, _ in waiting)
    assert accepted >= 5  # the grey zone of this retailer is mostly one person

    checked = _cli(["reconcile", "labels", "check", "--db", db, "--json"])
    assert checked["labels"] == len(waiting)
    assert checked["accepted"] == accepted
    # The model merged none of them by itself: every acceptance is a disagreement.
    assert checked["pairwise"]["predicted"] == 0
    assert checked["pairwise"]["recall"] == 0.0
    assert len(checked["disagreements"]) == accepted
    assert checked["calibration"]["expected_accepted"] < checked["calibration"]["accepted"]

    before_run = _cli(["reconcile", "run", "--full", "--db", db, "--json"])
    tuned = _cli(["reconcile", "labels", "tune", "--db", db, "--json"])
    assert tuned["shift_bits"] > 0
    assert tuned["prior"]["after"] > tuned["prior"]["before"]
    assert tuned["equivalent_thresholds"]["auto_merge"] < 0.99
    assert tuned["after"]["pairwise"]["recall"] >= tuned["before"]["pairwise"]["recall"]
    assert tuned["new_version"] == 2
    # The new version is in use: the next run scores everything with it, and pairs the old
    # model left below the auto-merge threshold now reach it.
    after_run = _cli(["reconcile", "run", "--db", db, "--json"])
    assert (after_run["mode"], after_run["model_version"]) == ("full", 2)
    assert after_run["links"] >= before_run["links"]
    assert after_run["review"] < before_run["review"] or before_run["review"] == 0
    text = _cli(["reconcile", "labels", "check", "--db", db])
    assert "model v2" in text.stdout


def test_rejecting_weak_merges_makes_the_model_more_careful(db: str) -> None:
    weakest = _pairs(db, "match", "ASC", 12)
    for a, b, p in weakest:
        assert p >= 0.99
        _decide(db, a, b, "reject")
    checked = _cli(["reconcile", "labels", "check", "--db", db, "--json"])
    assert checked["rejected"] == len(weakest)
    # The model's calls on them were merges (or household conflicts): precision is what is left.
    merges = checked["pairwise"]["predicted"]
    assert merges > 0
    assert checked["pairwise"]["true_positives"] == 0
    assert checked["pairwise"]["precision"] == 0.0

    dry = _cli(["reconcile", "labels", "tune", "--dry-run", "--db", db, "--json"])
    assert dry["new_version"] is None
    assert dry["shift_bits"] < 0
    assert dry["prior"]["after"] < dry["prior"]["before"]
    assert dry["equivalent_thresholds"]["auto_merge"] > 0.99
    assert dry["after"]["pairwise"]["predicted"] <= dry["before"]["pairwise"]["predicted"]
    # Nothing was saved: the model in use is still version 1.
    again = _cli(["reconcile", "labels", "check", "--db", db, "--json"])
    assert again["model_version"] == 1
    text = _cli(["reconcile", "labels", "tune", "--db", db])
    assert "saved as model v2" in text.stdout
    after = _cli(["reconcile", "labels", "check", "--db", db, "--json"])
    assert after["model_version"] == 2
    assert after["pairwise"]["predicted"] <= merges


def test_the_api_checks_and_tunes(db: str, retailer: Path) -> None:
    truth = _truth(retailer)
    with TestClient(create_app(db, ADMIN, stitch=False)) as client:
        base = "/v1/admin/reconcile"
        early = client.get(f"{base}/labels/check", headers=AS_ADMIN)
        assert early.status_code == 400
        assert early.json()["error"]["field"] == "labels"
        for a, b, _ in _pairs(db, "review", "DESC", 50):
            decision = "accepted" if truth[a] == truth[b] else "rejected"
            body = {"a": a, "b": b, "decision": decision}
            response = client.post(f"{base}/review/decisions", json=body, headers=AS_ADMIN)
            assert response.status_code == 200, response.text
        checked = client.get(f"{base}/labels/check", headers=AS_ADMIN)
        assert checked.status_code == 200, checked.text
        assert checked.json()["labels"] >= 5
        tuned = client.post(f"{base}/labels/tune", json={"dry_run": True}, headers=AS_ADMIN)
        assert tuned.status_code == 200, tuned.text
        assert tuned.json()["shift_bits"] > 0
        assert tuned.json()["new_version"] is None
        bad = client.post(f"{base}/labels/tune", json={"engine": "oracle"}, headers=AS_ADMIN)
        assert bad.status_code == 422
