"""Best-arm identification: top-two Thompson sampling vs uniform A/B/n, same stopping rule.

Five Bernoulli arms; both designs stop with the Chernoff GLR rule at delta = 0.05
(threshold log(2t(K-1)/delta): delta-PAC for any sampling rule, Garivier & Kaufmann 2016), so
they carry the same guarantee and differ only in where the traffic goes. Also reported:
the practical threshold log((1 + log t)/delta), and a fixed-size uniform test sized with the
true means known in advance (an oracle: not a guarantee one could have before the test).

Policies are vectorised over runs with the posterior refreshed every BATCH decisions:
Russo's TTTS through the same exact quadrature propensities as the library (100 runs: the
quadrature is the slow part), and the transportation-cost challenger variant T3C (500 runs).
A few runs of the library's ``TopTwoThompson`` class itself (updated after every decision)
check that both agree.

Prints one JSON document. Run: .venv/bin/python benchmarks/bench_experiments_bandits.py
(about 12 minutes on a shared 2-core machine; ``--quick`` for a ~3 minute smaller run).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from scipy import special
from scipy import stats as sps

from clientcore.experiments.bandits import (
    BernoulliThompson,
    Challenger,
    StopRule,
    TopTwoThompson,
    glr_statistic,
    glr_threshold,
    transportation_costs,
)

DELTA = 0.05
RUNS = 500
MAX_T = 200_000
BATCH = 10  # decisions between posterior updates


def resample_propensities(a: np.ndarray, b: np.ndarray, beta: float) -> np.ndarray:
    """Vectorised twin of ``TopTwoThompson(challenger="resample").propensities``.

    P(best) by quadrature of Beta(a, b) posteriors on a per-run grid, then
    psi_i = beta a_i + (1 - beta) sum_{j != i} a_j a_i / (1 - a_j).
    """
    mean = a / (a + b)
    sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    lo = np.clip((mean - 9 * sd).min(axis=1), 0, 1)
    hi = np.clip((mean + 9 * sd).max(axis=1), 0, 1)
    x = lo[:, None] + (hi - lo)[:, None] * np.linspace(0, 1, 600)[None, :]  # (m, G)
    xa = x[:, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_cdf = np.log(special.betainc(a[..., None], b[..., None], xa))  # (m, k, G)
        pdf = sps.beta.pdf(xa, a[..., None], b[..., None])
        others = np.exp(
            np.where(np.isfinite(log_cdf), log_cdf.sum(1, keepdims=True) - log_cdf, -np.inf)
        )
    alpha = np.clip(np.trapezoid(np.nan_to_num(pdf * others), x[:, None, :], axis=2), 0, None)
    alpha /= alpha.sum(axis=1, keepdims=True)
    rest = alpha.sum(axis=1, keepdims=True) - alpha  # 1 - a_j, computed stably
    ratio = np.where(rest > 1e-300, alpha / np.where(rest > 1e-300, rest, 1.0), 0.0)  # a_j/(1-a_j)
    psi = beta * alpha + (1 - beta) * alpha * (ratio.sum(axis=1, keepdims=True) - ratio)
    solo = (rest <= 1e-300).any(axis=1)  # one arm holds all the mass (underflow, rare):
    if solo.any():  # its challenger is the runner-up by posterior mean
        second = np.argsort(-mean[solo], axis=1)[:, 1]
        psi[solo, second] += 1 - psi[solo].sum(axis=1)
    return psi / psi.sum(axis=1, keepdims=True)


def top_two_runs(
    means: np.ndarray,
    rule: StopRule,
    seed: int,
    *,
    challenger: Challenger = "transportation",
    runs: int = RUNS,
    beta: float = 0.5,
    max_t: int = MAX_T,
) -> dict:
    """The library's top-two policy vectorised over runs, BATCH decisions per refresh.

    Leader = argmax of a posterior draw; challenger = argmin of the transportation costs
    (T3C) or Russo's re-draw until another arm leads (capped, then best of the others).
    """
    rng = np.random.default_rng(seed)
    k, best_arm = means.size, int(np.argmax(means))
    s, n = np.zeros((runs, k)), np.zeros((runs, k))
    active = np.ones(runs, dtype=bool)
    stop_t, answer = np.full(runs, max_t), np.full(runs, -1)
    rows, eye = np.arange(runs), np.eye(k)
    t = 0
    while active.any() and t < max_t:
        idx = rows[active]
        m = idx.size
        a = np.repeat(1 + s[idx], BATCH, axis=0)  # one row per decision
        b = np.repeat(1 + n[idx] - s[idx], BATCH, axis=0)
        leader = np.argmax(rng.beta(a, b), axis=1)
        arm = leader.copy()
        need = np.flatnonzero(rng.random(arm.size) >= beta)
        if challenger == "transportation":
            chall = np.argmin(transportation_costs(s[idx], n[idx]), axis=2)  # (m, k)
            arm[need] = chall[need // BATCH, leader[need]]
        else:  # exact Russo probabilities (as the library computes them), then draw
            psi = resample_propensities(1 + s[idx], 1 + n[idx] - s[idx], beta)
            cdf = np.cumsum(psi, axis=1)
            u = rng.random(arm.size)[:, None]
            arm = (u > np.repeat(cdf, BATCH, axis=0)).sum(axis=1).clip(0, k - 1)
        pulls = eye[arm].reshape(m, BATCH, k).sum(axis=1)
        n[idx] += pulls
        s[idx] += rng.binomial(pulls.astype(np.int64), means)
        t += BATCH
        if t >= k * 10:
            best, z = glr_statistic(s[idx], n[idx])
            done = (z > glr_threshold(t, DELTA, k, rule)) & np.all(n[idx] > 0, axis=1)
            stop_t[idx[done]], answer[idx[done]] = t, best[done]
            active[idx[done]] = False
    return {
        "runs": runs,
        "mean_samples": float(stop_t.mean()),
        "median_samples": float(np.median(stop_t)),
        "p_correct": float(np.mean(answer == best_arm)),
        "hit_max_samples": float(np.mean(stop_t >= max_t)),
        "share_of_samples_on_best": float((n[:, best_arm] / n.sum(axis=1)).mean()),
    }


def uniform_runs(means: np.ndarray, rule: StopRule, seed: int, runs: int = RUNS) -> dict:
    """Round-robin; the stop rule is checked after every full round of k pulls."""
    rng = np.random.default_rng(seed)
    k, best_arm = means.size, int(np.argmax(means))
    s, n = np.zeros((runs, k)), np.zeros((runs, k))
    active = np.ones(runs, dtype=bool)
    stop_t, answer = np.full(runs, MAX_T), np.full(runs, -1)
    rows = np.arange(runs)
    for r in range(1, MAX_T // k + 1):
        idx = rows[active]
        s[idx] += rng.random((idx.size, k)) < means
        n[idx] += 1
        if r >= 10:
            best, z = glr_statistic(s[idx], n[idx])
            done = z > glr_threshold(r * k, DELTA, k, rule)
            stop_t[idx[done]], answer[idx[done]] = r * k, best[done]
            active[idx[done]] = False
        if not active.any():
            break
    return {
        "runs": runs,
        "mean_samples": float(stop_t.mean()),
        "median_samples": float(np.median(stop_t)),
        "p_correct": float(np.mean(answer == best_arm)),
        "hit_max_samples": float(np.mean(stop_t >= MAX_T)),
    }


def oracle_fixed_uniform(means: np.ndarray, seed: int, reps: int = 20_000) -> dict:
    """Smallest per-arm size whose empirical best is the true best in >= 95 % of tests."""
    rng = np.random.default_rng(seed)
    k, best_arm = means.size, int(np.argmax(means))
    lo, hi = 10, 40_000
    while hi - lo > 5:
        mid = (lo + hi) // 2
        p = np.mean(np.argmax(rng.binomial(mid, means, size=(reps, k)), axis=1) == best_arm)
        lo, hi = (mid, hi) if p < 1 - DELTA else (lo, mid)
    return {"samples_per_arm": hi, "total_samples": hi * k}


def library_check(means: np.ndarray, seed: int, runs: int = 3) -> dict:
    """The production class (exact propensities, one update per decision) on a few runs."""
    rng = np.random.default_rng(seed)
    samples, correct = [], 0
    k = means.size
    for r in range(runs):
        tt = TopTwoThompson(BernoulliThompson(k, seed=seed + r), challenger="resample")
        for t in range(1, MAX_T):
            d = tt.select()
            tt.update(d.index, float(rng.random() < means[d.index]))
            if t % 50 == 0 and tt.stop_status(DELTA, rule="glr").stop:
                samples.append(t)
                correct += tt.stop_status(DELTA).best_arm == str(int(np.argmax(means)))
                break
    vec = top_two_runs(means, "glr", seed, challenger="resample", runs=100)
    return {
        "means": means.tolist(),
        "runs": runs,
        "mean_samples": float(np.mean(samples)),
        "p_correct": correct / runs,
        "vectorised_mean_samples_same_instance": vec["mean_samples"],
    }


def compare(means: np.ndarray, seed: int, resample_runs: int = 100, runs: int = RUNS) -> dict:
    out: dict = {"means": means.tolist()}
    for rule in ("glr", "glr_practical"):
        tts = top_two_runs(means, rule, seed, challenger="resample", runs=resample_runs)
        t3c = top_two_runs(means, rule, seed + 1, runs=runs)
        uni = uniform_runs(means, rule, seed + 2, runs=runs)
        out[rule] = {
            "ttts_russo": tts,
            "top_two_transportation": t3c,
            "uniform": uni,
            "sample_ratio_ttts_over_uniform": tts["mean_samples"] / uni["mean_samples"],
            "savings_ttts": 1 - tts["mean_samples"] / uni["mean_samples"],
            "savings_t3c": 1 - t3c["mean_samples"] / uni["mean_samples"],
        }
    out["oracle_fixed_uniform"] = oracle_fixed_uniform(means, seed + 3)
    return out


def main() -> None:
    """``--quick``: 30 TTTS / 200 other runs and no library check (~3 min instead of ~12)."""
    quick = "--quick" in sys.argv
    tts_runs, runs = (30, 200) if quick else (100, RUNS)
    t0 = time.perf_counter()
    out: dict = {
        "setup": {
            "delta": DELTA,
            "runs": runs,
            "ttts_runs": tts_runs,
            "batch": BATCH,
            "max_samples": MAX_T,
        },
        "graded_gaps": compare(np.array([0.20, 0.15, 0.12, 0.10, 0.08]), 11, tts_runs, runs),
        "one_close_rival": compare(np.array([0.20, 0.17, 0.10, 0.08, 0.05]), 21, tts_runs, runs),
    }
    if not quick:
        out["library_class_check"] = library_check(np.array([0.50, 0.35, 0.30, 0.25, 0.20]), 31)
    out["checks"] = {
        name: {
            "ttts_p_correct_ge_95pct": out[name]["glr"]["ttts_russo"]["p_correct"] >= 0.95,
            "ttts_savings_ge_30pct_vs_uniform_same_rule": out[name]["glr"]["savings_ttts"] >= 0.30,
        }
        for name in ("graded_gaps", "one_close_rival")
    }
    out["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
