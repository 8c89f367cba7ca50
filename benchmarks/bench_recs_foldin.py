"""Folding a live visit into the ALS factor model: one BLAS/OpenMP thread vs the default.

A request folds the person's history and current visit into a user vector (implicit's
`recalculate_user`, the exact ALS user step) and scores the catalog with it. This times both
with implicit's solver at `num_threads=1` and OpenBLAS limited to one thread (what the server
does), and with the library defaults (OpenMP over every core, OpenBLAS's own threads), on a
quiet machine and with every core kept busy by spinning processes, as on a shared 2-core box.
Item factors are random (the cost depends on sizes, not values): 100,000 products, 64 factors.

    python benchmarks/bench_recs_foldin.py [--items 100000] [--factors 64] [--calls 2000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time

import numpy as np
from threadpoolctl import threadpool_limits

from _common import emit, machine
from clientcore.personalize.factors import Factors


def _spin(stop: float) -> None:
    while time.time() < stop:
        pass


def _time(factors: Factors, threads: int, calls: int, rng: np.random.Generator) -> dict:  # type: ignore[type-arg]
    n = factors.item_factors.shape[0]
    fold, score = [], []
    for _ in range(calls):
        items = rng.choice(n, size=int(rng.integers(1, 30)), replace=False)
        weights = rng.random(len(items)).astype(np.float32) + 0.5
        t0 = time.perf_counter()
        vector = factors.fold_in(items, weights, threads)
        t1 = time.perf_counter()
        factors.scores(vector)
        t2 = time.perf_counter()
        fold.append(t1 - t0)
        score.append(t2 - t1)

    def stats(values: list[float]) -> dict[str, float]:
        us = np.array(values[calls // 10 :]) * 1e6  # the first tenth warms up
        return {
            "p50_us": round(float(np.percentile(us, 50)), 1),
            "p99_us": round(float(np.percentile(us, 99)), 1),
        }

    return {"fold_in": stats(fold), "score_catalog": stats(score)}


def _measure(factors: Factors, calls: int) -> dict:  # type: ignore[type-arg]
    rng = np.random.default_rng(7)
    with threadpool_limits(limits=1, user_api="blas"):
        one = _time(factors, 1, calls, rng)
    default = _time(factors, 0, calls, rng)
    return {"one_thread": one, "library_default": default}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    facts = machine()
    rng = np.random.default_rng(0)
    item_factors = (rng.standard_normal((args.items, args.factors)) * 0.1).astype(np.float32)
    factors = Factors(item_factors, regularization=0.05, alpha=10.0)
    quiet = _measure(factors, args.calls)
    spinners = [
        multiprocessing.Process(target=_spin, args=(time.time() + 3600,))
        for _ in range(os.cpu_count() or 2)
    ]
    for p in spinners:
        p.start()
    try:
        time.sleep(0.5)
        busy = _measure(factors, args.calls)
    finally:
        for p in spinners:
            p.terminate()
            p.join()
    emit(
        {
            "benchmark": "recs_foldin",
            "machine": facts,
            "items": args.items,
            "factors": args.factors,
            "calls": args.calls,
            "quiet": quiet,
            "all_cores_busy": busy,
            "target": "fold-in well under 1 ms with one thread",
        }
    )


if __name__ == "__main__":
    main()
