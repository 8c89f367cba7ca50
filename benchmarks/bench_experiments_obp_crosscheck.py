"""Cross-check our OPE estimators against Open Bandit Pipeline (obp 0.5.7).

obp pins Python < 3.11, torch 1.12 and old numpy/pandas, so it cannot live in the project
venv. This script creates ``benchmarks/.venv-obp`` with a Python 3.8-3.10 interpreter on the
machine (pyenv or system), installs ``obp==0.5.7`` (+ ``matplotlib<3.8``: obp's seaborn pin
breaks on newer matplotlib), simulates logs in the project venv, runs obp in the side venv
on the same arrays, and compares:

- IPS, SNIPS: same target probabilities -> must agree to 1e-4 (they agree to float rounding);
- DM, DR with the *same* reward-model predictions -> must agree to 1e-4;
- DR with obp's own ``RegressionModel(Ridge)`` vs ours -> within 3 %;
- slates: obp's position-wise IPS (mean over rows) vs our position-based IPS.

Prints one JSON document; if the side venv cannot be built it says so (``skipped``) instead.
Run: .venv/bin/python benchmarks/bench_experiments_obp_crosscheck.py
"""

from __future__ import annotations

import glob
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from bench_experiments_ope import World, simulate
from clientcore.experiments.ope import estimate, evaluate_policy, fit_reward_model
from clientcore.experiments.ope_tables import parse_tables

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-obp"
WORK = HERE / ".work" / "obp"
PINS = ["obp==0.5.7", "matplotlib<3.8"]

OBP_SCRIPT = r"""
import json, sys, warnings
warnings.filterwarnings("ignore")
import numpy as np
from sklearn.linear_model import Ridge
from obp.ope import (DirectMethod, DoublyRobust, InverseProbabilityWeighting,
                     RegressionModel, SelfNormalizedInverseProbabilityWeighting)

d = np.load(sys.argv[1])
n, k = d["pi"].shape
dist = d["pi"][:, :, None]
common = dict(reward=d["reward"], action=d["action"], action_dist=dist)
out = {
    "ips": InverseProbabilityWeighting().estimate_policy_value(pscore=d["pscore"], **common),
    "snips": SelfNormalizedInverseProbabilityWeighting().estimate_policy_value(
        pscore=d["pscore"], **common),
    "dm_same_q": DirectMethod().estimate_policy_value(
        action_dist=dist, estimated_rewards_by_reg_model=d["q_ours"][:, :, None]),
    "dr_same_q": DoublyRobust().estimate_policy_value(
        pscore=d["pscore"], estimated_rewards_by_reg_model=d["q_ours"][:, :, None], **common),
}
reg = RegressionModel(n_actions=k, len_list=1, base_model=Ridge(alpha=1.0), fitting_method="normal")
q_obp = reg.fit_predict(context=d["features"], action=d["action"], reward=d["reward"], n_folds=1)
out["dm_obp_model"] = DirectMethod().estimate_policy_value(
    action_dist=dist, estimated_rewards_by_reg_model=q_obp)
out["dr_obp_model"] = DoublyRobust().estimate_policy_value(
    pscore=d["pscore"], estimated_rewards_by_reg_model=q_obp, **common)
s = np.load(sys.argv[2])
out["slate_ips_rows_mean"] = InverseProbabilityWeighting().estimate_policy_value(
    reward=s["reward"], action=s["action"], position=s["position"], pscore=s["pscore"],
    action_dist=s["action_dist"])
out["slate_snips_rows_mean"] = SelfNormalizedInverseProbabilityWeighting().estimate_policy_value(
    reward=s["reward"], action=s["action"], position=s["position"], pscore=s["pscore"],
    action_dist=s["action_dist"])
print(json.dumps({k: float(v) for k, v in out.items()}))
"""


def find_python() -> str | None:
    candidates = [shutil.which(f"python3.{m}") for m in (10, 9, 8)]
    candidates += sorted(glob.glob(str(Path.home() / ".pyenv/versions/3.1[0]*/bin/python3.10")))
    candidates += sorted(glob.glob(str(Path.home() / ".pyenv/versions/3.[89]*/bin/python3.[89]")))
    for c in candidates:
        if c and subprocess.run([c, "--version"], capture_output=True).returncode == 0:
            return c
    return None


def ensure_venv() -> str | None:
    py = VENV / "bin" / "python"
    ok = [str(py), "-W", "ignore", "-c", "import obp, sklearn"]
    if py.exists() and subprocess.run(ok, capture_output=True).returncode == 0:
        return None
    base = find_python()
    if base is None:
        return "no Python 3.8-3.10 interpreter found (obp requires < 3.11)"
    subprocess.run([base, "-m", "venv", str(VENV)], check=True)
    pip = subprocess.run([str(py), "-m", "pip", "install", "-q", *PINS], capture_output=True)
    if pip.returncode != 0:
        return "pip install failed: " + pip.stderr.decode()[-300:]
    if subprocess.run(ok, capture_output=True).returncode != 0:
        return "obp installed but does not import"
    return None


def slate_data(seed: int = 5, n: int = 5000, k: int = 4, positions: int = 2):
    rng = np.random.default_rng(seed)
    mean = rng.uniform(0.05, 0.3, size=(k, positions))
    mu = rng.dirichlet(np.ones(k) * 2, size=(n, positions)) * 0.9 + 0.1 / k  # (n, L, k)
    pi = rng.dirichlet(np.ones(k), size=(n, positions))
    rows_action, rows_pos, rows_r, rows_ps, rows_round = [], [], [], [], []
    for p in range(positions):
        a = (rng.random(n)[:, None] > np.cumsum(mu[:, p], axis=1)).sum(axis=1).clip(0, k - 1)
        rows_action.append(a)
        rows_pos.append(np.full(n, p))
        rows_r.append((rng.random(n) < mean[a, p]).astype(float))
        rows_ps.append(mu[np.arange(n), p, a])
        rows_round.append(np.arange(n))
    cat = {
        "round_id": np.concatenate(rows_round),
        "position": np.concatenate(rows_pos),
        "action": np.concatenate(rows_action),
        "reward": np.concatenate(rows_r),
        "propensity": np.concatenate(rows_ps),
    }
    logs = pa.table(cat)
    policy = pa.table(
        {
            "round_id": np.repeat(np.arange(n), positions * k),
            "position": np.tile(np.repeat(np.arange(positions), k), n),
            "action": np.tile(np.arange(k), n * positions),
            "probability": pi.ravel(),
        }
    )
    action_dist = np.transpose(pi, (0, 2, 1))[cat["round_id"]]  # (rows, k, L) per obp
    obp_arrays = {
        "reward": cat["reward"],
        "action": cat["action"],
        "position": cat["position"],
        "pscore": cat["propensity"],
        "action_dist": action_dist,
    }
    return logs, policy, obp_arrays


def main() -> None:
    t0 = time.perf_counter()
    problem = ensure_venv()
    if problem:
        print(json.dumps({"skipped": problem}, indent=2))
        return
    WORK.mkdir(parents=True, exist_ok=True)
    logs, policy = simulate(World(), seed=0)
    data = parse_tables(logs, policy)
    q_ours = fit_reward_model(data)
    ours = estimate(data, q_hat=q_ours)
    # obp gets the actions in our column order (offer0..offer4) and the same features
    np.savez(
        WORK / "bandit.npz",
        reward=data.reward,
        action=data.action_index,
        pscore=data.pscore,
        pi=data.target,
        q_ours=q_ours,
        features=data.features,
    )
    s_logs, s_policy, s_arrays = slate_data()
    np.savez(WORK / "slate.npz", **s_arrays)
    (WORK / "run_obp.py").write_text(OBP_SCRIPT)
    run = subprocess.run(
        [
            str(VENV / "bin" / "python"),
            str(WORK / "run_obp.py"),
            str(WORK / "bandit.npz"),
            str(WORK / "slate.npz"),
        ],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        print(json.dumps({"skipped": "obp run failed: " + run.stderr[-500:]}, indent=2))
        sys.exit(1)
    ref = json.loads(run.stdout.strip().splitlines()[-1])
    est = {k: v.value for k, v in ours.estimators.items()}
    own = evaluate_policy(logs, policy).estimators  # our own ridge model, end to end
    slate = evaluate_policy(s_logs, s_policy).estimators
    rows_per_round = 2
    comparisons = {
        "ips": (est["ips"], ref["ips"]),
        "snips": (est["snips"], ref["snips"]),
        "dm_same_q": (est["dm"], ref["dm_same_q"]),
        "dr_same_q": (est["dr"], ref["dr_same_q"]),
        "dr_own_models": (own["dr"].value, ref["dr_obp_model"]),
        "dm_own_models": (own["dm"].value, ref["dm_obp_model"]),
        "slate_ips_per_row": (slate["ips"].value / rows_per_round, ref["slate_ips_rows_mean"]),
    }
    table = {
        k: {
            "ours": float(a),
            "obp": float(b),
            "abs_diff": float(abs(a - b)),
            "rel_diff": float(abs(a / b - 1)),
        }
        for k, (a, b) in comparisons.items()
    }
    checks = {
        "ips_snips_abs_diff_le_1e-4": max(table[k]["abs_diff"] for k in ("ips", "snips")) <= 1e-4,
        "dm_dr_same_q_abs_diff_le_1e-4": max(
            table[k]["abs_diff"] for k in ("dm_same_q", "dr_same_q")
        )
        <= 1e-4,
        "dr_own_models_within_3pct": table["dr_own_models"]["rel_diff"] <= 0.03,
        "slate_ips_abs_diff_le_1e-4": table["slate_ips_per_row"]["abs_diff"] <= 1e-4,
    }
    note = (
        "slate SNIPS differs by design: obp normalises w over all rows, we per position "
        f"(ours/row {slate['snips'].value / rows_per_round:.6f} vs obp "
        f"{ref['slate_snips_rows_mean']:.6f})"
    )
    checks = {k: bool(v) for k, v in checks.items()}
    out = {
        "obp_version": "0.5.7",
        "comparisons": table,
        "checks": checks,
        "note": note,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
