"""Benchmark clientcore's lifetime-value fits against lifetimes 0.11.3 on the same summaries.

Prints one JSON document. Datasets: CDNOW (2,357-customer sample and 23,570-customer master,
read from ../shared/data/cdnow, 39-week calibration in weeks, one transaction per day) and
BG/NBD customers simulated from the BG/NBD fitted to the CDNOW master (first purchases spread
over 12 weeks, calibration to week 39, purchase times on the day grid, as summaries built
from dates are).

lifetimes needs an older stack (pandas<2, numpy<2, scipy<1.12), so it runs in its own venv,
benchmarks/.venv-lifetimes, created here on first use, in a subprocess fed the same summaries
through .npz files. Our timing `seconds` is the whole `models.fit` call (validation, distinct
row compression, optimisation); `fit_seconds` is the optimisation alone. The ratio is
lifetimes seconds / our seconds. lifetimes is not run where it would take too long (the
limits below); those ratios are extrapolated linearly from its largest measured size and
flagged "extrapolated".

Usage: python benchmarks/bench_clv.py [--quick] [--skip-10m] [--no-lifetimes]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from clientcore.value.clv import models, simulate, summary  # noqa: E402

CDNOW = ROOT.parent / "shared" / "data" / "cdnow"
if not CDNOW.is_dir():
    CDNOW = Path("/work/shared/data/cdnow")
WORK = ROOT / "benchmarks" / ".work"
LT_VENV = ROOT / "benchmarks" / ".venv-lifetimes"
LT_PACKAGES = ["lifetimes==0.11.3", "pandas<2", "numpy<2", "scipy<1.12"]
CAL, OBS = dt.date(1997, 9, 30), dt.date(1998, 6, 30)
# Largest sizes lifetimes is timed on; beyond them its time is extrapolated linearly.
LT_LIMIT = {"bgnbd": 1_000_000, "mbgnbd": 1_000_000, "pnbd": 30_000, "gg": 30_000}

LIFETIMES_RUNNER = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np
from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter, ParetoNBDFitter
FITTERS = {"bgnbd": BetaGeoFitter, "mbgnbd": ModifiedBetaGeoFitter, "pnbd": ParetoNBDFitter}
out = []
for job in json.loads(sys.argv[1]):
    d = np.load(job["path"])
    times, params = [], None
    for _ in range(job["repeat"]):
        t0, c0 = time.perf_counter(), time.process_time()
        if job["model"] == "gg":
            keep = (d["x"] > 0) & (d["m"] > 0)
            f = GammaGammaFitter().fit(d["x"][keep], d["m"][keep])
        else:
            f = FITTERS[job["model"]]().fit(d["x"], d["tx"], d["T"])
        times.append((time.perf_counter() - t0, time.process_time() - c0))
        params = {k: float(v) for k, v in f.params_.items()}
    times.sort()
    wall, cpu = times[len(times) // 2]
    out.append({"key": job["key"], "seconds": wall, "cpu_seconds": cpu, "params": params})
print(json.dumps(out))
"""


def ensure_lifetimes_venv() -> Path:
    """Create benchmarks/.venv-lifetimes with lifetimes and the old stack it needs."""
    python = LT_VENV / "bin" / "python"
    probe = [str(python), "-c", "import lifetimes"]
    if python.exists() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return python
    subprocess.run([sys.executable, "-m", "venv", str(LT_VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *LT_PACKAGES],
        check=True,
        stdout=sys.stderr,
    )
    return python


def cdnow_summary(path: Path, sample: bool) -> summary.CustomerSummary:
    """Summarise a CDNOW file in DuckDB (the sample has an extra sample-id column)."""
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    if not sample:
        rows = rows[1:]  # header line
    cust = [r[1] if sample else r[0] for r in rows]
    date = [r[2] if sample else r[1] for r in rows]
    amount = [float(r[-1]) for r in rows]
    con = duckdb.connect()
    con.register("raw", pa.table({"c": cust, "d": date, "a": amount}))
    view = summary.stage_transactions(con, "raw", "c", "d", "a")
    return summary.summarize(con, view, CAL, OBS, "week")


def time_ours(model: str, x: Any, tx: Any, T: Any, m: Any, repeat: int) -> dict[str, Any]:
    runs = []
    fit = None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        if model == "gg":
            fit = models.fit("gg", x, monetary_value=m)
        else:
            fit = models.fit(model, x, tx, T)
        runs.append((time.perf_counter() - t0, fit.fit_seconds, time.process_time() - c0))
    assert fit is not None
    total, opt = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
    cpu = statistics.median(r[2] for r in runs)
    return {
        "seconds": round(total, 5),
        "cpu_seconds": round(cpu, 5),
        "fit_seconds": round(opt, 5),
        "log_likelihood": round(fit.log_likelihood, 3),
        "params": {k: round(v, 5) for k, v in fit.params.items()},
        "distinct_rows": int(fit.extras.get("distinct_rows", 0)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CDNOW only")
    parser.add_argument("--skip-10m", action="store_true")
    parser.add_argument("--no-lifetimes", action="store_true")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        },
        "timing": "seconds = wall time of the whole models.fit call (median of repeats), "
        "cpu_seconds = process CPU time of the same; ratio and cpu_ratio = lifetimes / ours",
        "cases": [],
    }
    datasets: list[tuple[str, dict[str, Any], list[str], int]] = []
    for name, file, sample in (
        ("cdnow_2357", "CDNOW_sample.txt", True),
        ("cdnow_23570", "CDNOW_master.txt", False),
    ):
        s = cdnow_summary(CDNOW / file, sample)
        arrays = {"x": s.frequency, "tx": s.recency, "T": s.T, "m": s.monetary_value}
        datasets.append((name, arrays, ["bgnbd", "pnbd", "mbgnbd", "gg"], 5))
    master = datasets[1][1]
    truth = models.fit("bgnbd", master["x"], master["tx"], master["T"])
    params = [truth.params[k] for k in ("r", "alpha", "a", "b")]
    results["simulation_params"] = truth.params
    if not args.quick:
        sizes = [1_000_000] + ([] if args.skip_10m else [10_000_000])
        for n in sizes:
            rng = np.random.default_rng(n)
            T = simulate.cohort_ages(n, 272, 84, 7.0, rng)
            sim = simulate.simulate_bgnbd(params, T, rng, grid=7.0)
            arrays = {"x": sim.frequency, "tx": sim.recency, "T": sim.T, "m": np.zeros(n)}
            datasets.append((f"sim_bgnbd_{n // 1_000_000}m", arrays, ["bgnbd"], 1))
        rng = np.random.default_rng(7)
        sim = simulate.simulate_bgnbd(
            params, simulate.cohort_ages(1_000_000, 272, 84, 7.0, rng), rng
        )
        arrays = {"x": sim.frequency, "tx": sim.recency, "T": sim.T, "m": np.zeros(1_000_000)}
        datasets.append(("sim_bgnbd_1m_continuous_times", arrays, ["bgnbd"], 1))
    jobs = []
    for name, arrays, model_list, repeat in datasets:
        n = int(arrays["x"].size)
        path = WORK / f"{name}.npz"
        if not args.no_lifetimes and any(n <= LT_LIMIT[m] for m in model_list):
            np.savez(path, **arrays)  # only what lifetimes will read
        for model in model_list:
            ours = time_ours(model, arrays["x"], arrays["tx"], arrays["T"], arrays["m"], repeat)
            case = {"dataset": name, "customers": n, "model": model, "ours": ours}
            results["cases"].append(case)
            if not args.no_lifetimes and n <= LT_LIMIT[model]:
                jobs.append(
                    {
                        "key": f"{name}/{model}",
                        "path": str(path),
                        "model": model,
                        "repeat": 3 if n < 10_000 else 1,
                    }
                )
    if not args.no_lifetimes:
        python = ensure_lifetimes_venv()
        proc = subprocess.run(
            [str(python), "-c", LIFETIMES_RUNNER, json.dumps(jobs)],
            capture_output=True,
            text=True,
            check=True,
        )
        for job in jobs:
            Path(job["path"]).unlink(missing_ok=True)
        measured = {row["key"]: row for row in json.loads(proc.stdout)}
        largest: dict[str, tuple[int, float]] = {}
        for case in results["cases"]:
            row = measured.get(f"{case['dataset']}/{case['model']}")
            if row is None:
                continue
            case["lifetimes"] = {
                "seconds": round(row["seconds"], 4),
                "cpu_seconds": round(row["cpu_seconds"], 4),
                "params": row["params"],
            }
            case["ratio"] = round(row["seconds"] / case["ours"]["seconds"], 1)
            case["cpu_ratio"] = round(row["cpu_seconds"] / case["ours"]["cpu_seconds"], 1)
            if case["customers"] >= largest.get(case["model"], (0, 0.0))[0]:
                largest[case["model"]] = (case["customers"], row["seconds"])
        for case in results["cases"]:
            if "lifetimes" not in case and case["model"] in largest:
                n0, s0 = largest[case["model"]]
                guess = s0 * case["customers"] / n0
                case["lifetimes"] = {
                    "seconds": round(guess, 1),
                    "extrapolated": True,
                    "from_customers": n0,
                }
                case["ratio"] = round(guess / case["ours"]["seconds"], 1)
    results["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
