"""A/A and A/B simulations of daily-monitored experiments: mSPRT vs fixed horizon.

Conversion metric (p = 5 %), 1,000 users per arm per day, looked at every day for 30 days,
10,000 simulated experiments each. Sufficient statistics are drawn exactly (daily binomial
counts), so this exercises the same always-valid p-value code as the readout.

Prints one JSON document. Run: .venv/bin/python benchmarks/bench_experiments_sequential.py
"""

from __future__ import annotations

import json
import math
import time

import numpy as np

from clientcore.experiments.sequential import always_valid_p, calibrate_looks, mixture_rho2

ALPHA = 0.05
DAYS = 30
N_DAY = 1000  # per arm
P0 = 0.05
SIMS = 10_000
Z_CRIT = 1.959963984540054


def simulate(p_treatment: float, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    sc = np.cumsum(rng.binomial(N_DAY, P0, size=(SIMS, DAYS)), axis=1)
    st = np.cumsum(rng.binomial(N_DAY, p_treatment, size=(SIMS, DAYS)), axis=1)
    n = N_DAY * np.arange(1, DAYS + 1)
    mc, mt = sc / n, st / n
    var = mc * (1 - mc) * n / (n - 1) / n + mt * (1 - mt) * n / (n - 1) / n
    z = np.where(var > 0, (mt - mc) / np.sqrt(np.where(var > 0, var, 1.0)), 0.0)
    u = 2 * n * mixture_rho2(ALPHA, 2 * N_DAY * DAYS)  # tuned for the planned final size
    return {"z": z, "min_p": np.minimum.accumulate(always_valid_p(z, u[None, :]), axis=1)}


def summarise(res: dict[str, np.ndarray], boundary: float) -> dict[str, float]:
    z, min_p = res["z"], res["min_p"]
    stop_plain = min_p <= ALPHA
    stop_cal = min_p <= boundary
    first = np.where(stop_cal.any(axis=1), stop_cal.argmax(axis=1) + 1, DAYS)
    return {
        "fixed_horizon_day30": float(np.mean(np.abs(z[:, -1]) > Z_CRIT)),
        "naive_daily_peeking": float(np.mean((np.abs(z) > Z_CRIT).any(axis=1))),
        "msprt_always_valid": float(np.mean(stop_plain[:, -1])),
        "msprt_calibrated_daily": float(np.mean(stop_cal[:, -1])),
        "msprt_calibrated_mean_days_to_decision": float(first.mean()),
    }


def main() -> None:
    t0 = time.perf_counter()
    cal = calibrate_looks(np.arange(1, DAYS + 1) / DAYS, ALPHA)
    aa = summarise(simulate(P0, seed=1), cal.alpha_boundary)
    # effect with 80 % fixed-horizon power: (z_{a/2} + z_{0.2}) * sd of the day-30 difference
    sd30 = math.sqrt(2 * P0 * (1 - P0) / (N_DAY * DAYS))
    effect = (Z_CRIT + 0.8416212335729143) * sd30
    ab = summarise(simulate(P0 + effect, seed=2), cal.alpha_boundary)
    mc_se = math.sqrt(ALPHA * (1 - ALPHA) / SIMS)
    out = {
        "setup": {
            "alpha": ALPHA,
            "days": DAYS,
            "users_per_arm_per_day": N_DAY,
            "baseline_rate": P0,
            "simulations": SIMS,
            "tuning_n": 2 * N_DAY * DAYS,
            "calibrated_boundary_alpha": cal.alpha_boundary,
            "monte_carlo_se_of_a_5pct_rate": mc_se,
        },
        "false_positive_rate": aa,
        "power": {"absolute_effect": effect, "relative_effect": effect / P0, **ab},
        "checks": {
            "calibrated_fpr_within_5pct_pm_1": abs(aa["msprt_calibrated_daily"] - 0.05) <= 0.01,
            "plain_msprt_fpr_at_most_alpha": aa["msprt_always_valid"] <= ALPHA + 2 * mc_se,
            "calibrated_power_ge_fixed_minus_20pt": ab["msprt_calibrated_daily"]
            >= ab["fixed_horizon_day30"] - 0.20,
            "plain_power_ge_fixed_minus_20pt": ab["msprt_always_valid"]
            >= ab["fixed_horizon_day30"] - 0.20,
        },
        "seconds": round(time.perf_counter() - t0, 2),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
