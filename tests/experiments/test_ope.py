"""OPE: obp's documented formulas as the reference, input validation, CLI contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from clientcore.experiments.cli import experiments_app
from clientcore.experiments.errors import OpeInputError
from clientcore.experiments.ope import _ridge_predict, estimate, evaluate_policy
from clientcore.experiments.ope_tables import parse_tables


def make_bandit_data(n: int, k: int = 4, seed: int = 0, deterministic_target: bool = False):
    """Logs from a softmax logging policy on 2 features; target = a different softmax."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    coef = rng.normal(size=(k, 2))
    mean_reward = 1 / (1 + np.exp(-(x @ coef.T)))  # (n, k)
    logits = x @ rng.normal(size=(k, 2)).T
    mu = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    a = (rng.random(n)[:, None] > np.cumsum(mu, axis=1)).sum(axis=1)
    r = (rng.random(n) < mean_reward[np.arange(n), a]).astype(float)
    if deterministic_target:
        pi = np.zeros((n, k))
        pi[:, k - 1] = 1.0
    else:
        tl = 2 * x @ coef.T
        pi = np.exp(tl) / np.exp(tl).sum(axis=1, keepdims=True)
    logs = pa.table(
        {
            "round_id": np.arange(n),
            "action": a,
            "reward": r,
            "propensity": mu[np.arange(n), a],
            "x1": x[:, 0],
            "x2": x[:, 1],
        }
    )
    policy = pa.table(
        {
            "round_id": np.repeat(np.arange(n), k),
            "action": np.tile(np.arange(k), n),
            "probability": pi.ravel(),
        }
    )
    truth = float((pi * mean_reward).sum(axis=1).mean())
    return logs, policy, pi, truth


def obp_reference(reward, action, pscore, action_dist, q_hat):
    """obp.ope.estimators (v0.5.7) estimate_policy_value, transcribed for len_list = 1."""
    idx = np.arange(action.shape[0])
    iw = action_dist[idx, action] / pscore
    ips = (reward * iw).mean()  # InverseProbabilityWeighting
    snips = (reward * iw / iw.mean()).mean()  # SelfNormalizedInverseProbabilityWeighting
    q_pi = np.average(q_hat, weights=action_dist, axis=1)  # DirectMethod
    dm = q_pi.mean()
    dr = (q_pi + iw * (reward - q_hat[idx, action])).mean()  # DoublyRobust
    return {"ips": ips, "snips": snips, "dm": dm, "dr": dr}


def test_estimators_match_obp_formulas_exactly() -> None:
    logs, policy, pi, _ = make_bandit_data(3000, seed=1)
    data = parse_tables(logs, policy)
    np.testing.assert_allclose(data.target, pi, atol=1e-12)
    q_hat = np.random.default_rng(2).random(pi.shape)
    ours = estimate(data, q_hat=q_hat)
    ref = obp_reference(data.reward, data.action_index, data.pscore, pi, q_hat)
    for name, value in ref.items():
        assert ours.estimators[name].value == pytest.approx(value, rel=1e-12)


def test_ridge_matches_augmented_least_squares() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 3)), rng.normal(size=50)
    lam = 2.0
    # minimise |y - b - Xw|^2 + lam |w|^2 with b unpenalised
    design = np.vstack([np.c_[np.ones(50), x], np.c_[np.zeros(3), np.sqrt(lam) * np.eye(3)]])
    coef = np.linalg.lstsq(design, np.r_[y, np.zeros(3)], rcond=None)[0]
    np.testing.assert_allclose(_ridge_predict(x, y, x, lam), coef[0] + x @ coef[1:], rtol=1e-10)


def test_estimates_cover_the_truth_on_simulated_logs() -> None:
    logs, policy, _, truth = make_bandit_data(8000, seed=3)
    res = evaluate_policy(logs, policy)
    assert res.reward_model == "ridge per action"
    for name in ("ips", "snips", "dr"):
        est = res.estimators[name]
        assert est.ci_low - 2 * est.se < truth < est.ci_high + 2 * est.se, name
    assert not res.low_ess_warning
    assert res.estimators["dr"].se < res.estimators["ips"].se


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=5, max_value=200), st.integers(min_value=0, max_value=10_000))
def test_ips_equals_snips_when_target_is_logging_policy(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = 3
    mu = rng.dirichlet(np.ones(k), size=n) * 0.97 + 0.01
    a = np.array([rng.choice(k, p=row / row.sum()) for row in mu])
    mu = mu / mu.sum(axis=1, keepdims=True)
    r = rng.normal(size=n)
    logs = pa.table(
        {"round_id": np.arange(n), "action": a, "reward": r, "propensity": mu[np.arange(n), a]}
    )
    policy = pa.table(
        {
            "round_id": np.repeat(np.arange(n), k),
            "action": np.tile(np.arange(k), n),
            "probability": mu.ravel(),
        }
    )
    res = evaluate_policy(logs, policy)
    ips, snips = res.estimators["ips"].value, res.estimators["snips"].value
    assert ips == pytest.approx(snips, rel=1e-9, abs=1e-12)
    assert ips == pytest.approx(r.mean(), rel=1e-9, abs=1e-12)
    assert res.ess == pytest.approx(n)


def test_position_based_slate_estimator() -> None:
    rng = np.random.default_rng(5)
    n, k = 2000, 3
    rows = []
    for rid in range(n):
        for pos in ("1", "2"):
            a = int(rng.integers(k))
            rows.append((rid, pos, f"item{a}", float(rng.random() < 0.1 * (a + 1)), 1 / k))
    rid, pos, act, rew, ps = map(list, zip(*rows, strict=True))
    logs = pa.table(
        {"round_id": rid, "position": pos, "action": act, "reward": rew, "propensity": ps}
    )
    target_pos = {"1": [0.0, 0.0, 1.0], "2": [1 / 3, 1 / 3, 1 / 3]}  # best item first
    policy = pa.table(
        {
            "round_id": np.repeat(np.arange(n), 2 * k),
            "position": np.tile(np.repeat(["1", "2"], k), n),
            "action": np.tile([f"item{a}" for a in range(k)], 2 * n),
            "probability": np.tile(target_pos["1"] + target_pos["2"], n),
        }
    )
    res = evaluate_policy(logs, policy)
    ips = res.estimators["ips"]
    assert set(ips.by_position) == {"1", "2"}
    assert ips.value == pytest.approx(sum(ips.by_position.values()))
    assert ips.by_position["1"] == pytest.approx(0.3, abs=0.05)
    assert ips.value == pytest.approx(0.3 + 0.2, abs=0.07)


def test_tiny_effective_sample_size_is_flagged() -> None:
    logs, policy, _, _ = make_bandit_data(400, seed=7, deterministic_target=True)
    res = evaluate_policy(logs, policy)
    assert res.low_ess_warning
    assert res.warnings


@pytest.mark.parametrize(
    ("mutate", "column"),
    [
        (lambda lg, pol: (lg.drop_columns(["propensity"]), pol), "propensity"),
        (
            lambda lg, pol: (lg.set_column(3, "propensity", pa.array([0.0] * lg.num_rows)), pol),
            "propensity",
        ),
        (
            lambda lg, pol: (lg, pol.set_column(2, "probability", pa.array([0.5] * pol.num_rows))),
            "probability",
        ),
        (lambda lg, pol: (lg, pol.slice(0, 40)), "round_id"),
        (lambda lg, pol: (pa.concat_tables([lg, lg.slice(0, 1)]), pol), "round_id"),
        (
            lambda lg, pol: (lg.set_column(2, "reward", pa.array(["x"] * lg.num_rows)), pol),
            "reward",
        ),
    ],
)
def test_bad_tables_name_the_column(mutate, column: str) -> None:
    logs, policy, _, _ = make_bandit_data(50, seed=8)
    bad_logs, bad_policy = mutate(logs, policy)
    with pytest.raises(OpeInputError) as info:
        evaluate_policy(bad_logs, bad_policy)
    assert info.value.column == column


def test_cli_json_and_exit_code_2(tmp_path: Path) -> None:
    logs, policy, _, _ = make_bandit_data(500, seed=9)
    pq.write_table(logs, tmp_path / "logs.parquet")
    pq.write_table(policy, tmp_path / "policy.parquet")
    pq.write_table(logs.drop_columns(["reward"]), tmp_path / "bad.parquet")
    runner = CliRunner()
    ok = runner.invoke(
        experiments_app,
        [
            "ope",
            "--logs",
            str(tmp_path / "logs.parquet"),
            "--policy",
            str(tmp_path / "policy.parquet"),
            "--json",
        ],
    )
    assert ok.exit_code == 0, ok.output
    doc = orjson.loads(ok.stdout)
    assert set(doc["estimators"]) == {"ips", "snips", "dm", "dr"}
    assert {"value", "ci_low", "ci_high"} <= set(doc["estimators"]["dr"])
    assert doc["ess"] > 0
    bad = runner.invoke(
        experiments_app,
        [
            "ope",
            "--logs",
            str(tmp_path / "bad.parquet"),
            "--policy",
            str(tmp_path / "policy.parquet"),
            "--json",
        ],
    )
    assert bad.exit_code == 2
    assert bad.stderr.strip().count("\n") == 0
    assert "reward" in bad.stderr
    missing = runner.invoke(
        experiments_app, ["ope", "--logs", str(tmp_path / "nope.parquet"), "--policy", "x"]
    )
    assert missing.exit_code == 2
    assert "file not found" in missing.stderr
