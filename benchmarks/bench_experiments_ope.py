"""OPE with known truth: a softmax logging policy, a sharper target policy, 10,000 rounds.

Context = value tier x channel (one-hot) + a numeric recency score; 5 offers; Bernoulli
rewards whose mean is logistic in the context and offer. The true value of the target policy
is computed on 1,000,000 fresh contexts. Repeated over 100 seeds through the public
``evaluate_policy`` (Arrow tables in, as the CLI does).

Prints one JSON document. Run: .venv/bin/python benchmarks/bench_experiments_ope.py
"""

from __future__ import annotations

import json
import time

import numpy as np
import pyarrow as pa

from clientcore.experiments.ope import ESTIMATORS, evaluate_policy

K = 5
N_ROUNDS = 10_000
TIERS, CHANNELS = ["low", "mid", "high"], ["email", "sms", "push"]
REPS = 100


class World:
    """Fixed reward model and policies; contexts are drawn per call."""

    def __init__(self, seed: int = 2024) -> None:
        rng = np.random.default_rng(seed)
        self.theta = rng.normal(0, 0.7, size=(K, 1 + 3 + 3 + 1))
        self.theta[:, 0] -= 2.0  # ~ 10-20 % conversion
        self.log_w = self.theta + rng.normal(0, 0.8, size=self.theta.shape)  # a worse model

    def contexts(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        tier = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
        channel = rng.choice(3, size=n, p=[0.6, 0.25, 0.15])
        recency = rng.normal(size=n)
        phi = np.zeros((n, 8))
        phi[:, 0] = 1
        phi[np.arange(n), 1 + tier] = 1
        phi[np.arange(n), 4 + channel] = 1
        phi[:, 7] = recency
        return {"tier": tier, "channel": channel, "recency": recency, "phi": phi}

    def mean_reward(self, phi: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(phi @ self.theta.T)))

    @staticmethod
    def _softmax(z: np.ndarray) -> np.ndarray:
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def logging(self, phi: np.ndarray) -> np.ndarray:
        return 0.9 * self._softmax(phi @ self.log_w.T) + 0.1 / K

    def target(self, phi: np.ndarray) -> np.ndarray:
        return self._softmax(2.0 * (phi @ self.theta.T))


def simulate(world: World, seed: int, n: int = N_ROUNDS) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)
    ctx = world.contexts(rng, n)
    mu, pi = world.logging(ctx["phi"]), world.target(ctx["phi"])
    action = (rng.random(n)[:, None] > np.cumsum(mu, axis=1)).sum(axis=1).clip(0, K - 1)
    reward = (rng.random(n) < world.mean_reward(ctx["phi"])[np.arange(n), action]).astype(float)
    logs = pa.table(
        {
            "round_id": np.arange(n),
            "action": [f"offer{a}" for a in action],
            "reward": reward,
            "propensity": mu[np.arange(n), action],
            "tier": [TIERS[i] for i in ctx["tier"]],
            "channel": [CHANNELS[i] for i in ctx["channel"]],
            "recency": ctx["recency"],
        }
    )
    policy = pa.table(
        {
            "round_id": np.repeat(np.arange(n), K),
            "action": np.tile([f"offer{a}" for a in range(K)], n),
            "probability": pi.ravel(),
        }
    )
    return logs, policy


def true_value(world: World, n: int = 1_000_000) -> float:
    phi = world.contexts(np.random.default_rng(999), n)["phi"]
    return float((world.target(phi) * world.mean_reward(phi)).sum(axis=1).mean())


def main() -> None:
    t0 = time.perf_counter()
    world = World()
    truth = true_value(world)
    logging_value = float(
        (
            world.logging(world.contexts(np.random.default_rng(998), 200_000)["phi"])
            * world.mean_reward(world.contexts(np.random.default_rng(998), 200_000)["phi"])
        )
        .sum(axis=1)
        .mean()
    )
    values = {e: [] for e in ESTIMATORS}
    covered = {e: 0 for e in ESTIMATORS}
    ess = []
    for seed in range(REPS):
        logs, policy = simulate(world, seed)
        res = evaluate_policy(logs, policy)
        ess.append(res.ess / res.n_rows)
        for e, est in res.estimators.items():
            values[e].append(est.value)
            covered[e] += est.ci_low <= truth <= est.ci_high
    summary = {}
    for e in ESTIMATORS:
        v = np.asarray(values[e])
        rel = np.abs(v / truth - 1)
        summary[e] = {
            "mean_estimate": float(v.mean()),
            "bias_relative": float(v.mean() / truth - 1),
            "mean_abs_relative_error": float(rel.mean()),
            "p95_abs_relative_error": float(np.quantile(rel, 0.95)),
            "share_within_10pct": float(np.mean(rel <= 0.10)),
            "ci95_coverage": covered[e] / REPS,
        }
    first = evaluate_policy(*simulate(world, 0))
    out = {
        "setup": {"rounds": N_ROUNDS, "actions": K, "repetitions": REPS},
        "true_value": truth,
        "logging_policy_value": logging_value,
        "mean_ess_share": float(np.mean(ess)),
        "estimators": summary,
        "seed0": first.to_dict()["estimators"],
        "checks": {
            f"{e}_within_10pct_in_95pct_of_runs": summary[e]["share_within_10pct"] >= 0.95
            for e in ("snips", "dr")
        },
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
