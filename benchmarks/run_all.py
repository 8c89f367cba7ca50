"""`make bench`: run every benchmark script in turn and print their JSON as one document.

Each script compares against its anchor in the same run; this only sequences them (never in
parallel: they would measure each other) and writes benchmarks/.work/latest.json.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    ["bench_import.py", "--customers", "20000"],
    ["bench_http_ingest.py", "--seconds", "20"],
    ["bench_identity.py", "--customers", "20000"],
    ["bench_clv.py"],
    ["bench_experiments_sequential.py"],
    ["bench_experiments_bandits.py"],
    ["bench_experiments_ope.py"],
    ["bench_decide.py", "--seconds", "20"],
    ["bench_recs_quality.py"],
    ["bench_recs_foldin.py"],
    ["bench_reconcile_febrl.py"],
]


def main() -> None:
    results: dict[str, object] = {}
    for script, *args in SCRIPTS:
        if not (HERE / script).exists():
            continue
        print(f"running {script} …", file=sys.stderr)
        done = subprocess.run(
            [sys.executable, str(HERE / script), *args], capture_output=True, text=True, cwd=HERE
        )
        if done.returncode != 0:
            results[script] = {"error": done.stderr.strip().splitlines()[-1:]}
            continue
        results[script] = orjson.loads(done.stdout)
    document = orjson.dumps(results, option=orjson.OPT_INDENT_2)
    (HERE / ".work").mkdir(exist_ok=True)
    (HERE / ".work" / "latest.json").write_bytes(document)
    sys.stdout.write(document.decode() + "\n")


if __name__ == "__main__":
    main()
