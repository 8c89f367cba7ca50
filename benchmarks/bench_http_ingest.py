"""HTTP batch ingest: sustained rate and per-request latency, every 200 a durable commit.

`wrk` (C, from Debian's package; a Python load generator would take the CPU it measures on a
2-core machine) posts batches of 100 real demo events to a real `clientcore serve` on an
embedded DuckDB file, each request with fresh messageIds, at several concurrency levels.
Then an open-loop run sends batches at a fixed rate (`--rate`, 20,000 events/s by default)
and times each request from its scheduled start, so a stall cannot hide by slowing the load
down: that is the p99 "at that load". Afterwards the stored count is checked against what got
a 200. Figures to reach: ≥ 20,000 events/s sustained, p99 < 50 ms at that load.

    python benchmarks/bench_http_ingest.py [--seconds 15] [--rate 20000] [--no-stitch]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

from _common import demo_data, emit, free_port, machine, open_loop, serve

BATCH = 100
CONNECTIONS = (1, 2, 4, 8, 16)
LUA = """
auth = "{auth}"
local f = io.open("{body}", "rb")
local template = f:read("*a")
f:close()
local counter = 0
local thread_id = 0
function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end
function request()
  counter = counter + 1
  local body = template:gsub("__N__", "{run}-" .. tid .. "-" .. counter)
  return wrk.format("POST", "/v1/batch",
    {{["Content-Type"] = "application/json", ["Authorization"] = auth}}, body)
end
"""


def _empty(url: str) -> None:
    """A PostgreSQL benchmark starts from an empty log, as the embedded one does."""
    from clientcore.store import open_store

    store = open_store(url)
    try:
        store.execute(
            "TRUNCATE events, rejected_events, identifiers, event_identifiers, identity_links, "
            "identity_merges, identity_quarantine, identity_state"
        )
    finally:
        store.close()


def _template(events: Path, out: Path) -> None:
    batch = []
    with events.open("rb") as handle:
        for j, line in enumerate(handle):
            if j >= BATCH:
                break
            event = orjson.loads(line)
            event["messageId"] = f"__N__-{j}"
            batch.append(event)
    out.write_bytes(orjson.dumps({"batch": batch}))


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far: a cost per event that load on the machine
    inflates far less than it inflates wall-clock rates."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wrk(url: str, script: Path, connections: int, seconds: float, server: int) -> dict[str, float]:
    cpu_before = _cpu_seconds(server)
    command = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{int(seconds)}s"]
    command += ["--latency", "-s", str(script), f"{url}/v1/batch"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    out = done.stdout
    latency = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    cpu = _cpu_seconds(server) - cpu_before
    return {
        "connections": connections,
        "requests": requests,
        "non_2xx": int(errors.group(1)) if errors else 0,
        "events_per_second": round(rate * BATCH),
        "p50_ms": round(_ms(latency["50"]), 1),
        "p99_ms": round(_ms(latency["99"]), 1),
        "server_cpu_ms_per_1000_events": round(cpu * 1000 / max(requests * BATCH, 1) * 1000, 1),
    }


def _open_loop(
    port: int, auth: str, body: bytes, rate: float, seconds: float, server: int
) -> dict[str, object]:
    """Batches of BATCH events at `rate` events/s, each with fresh messageIds."""
    n = int(rate / BATCH * seconds)
    head = f"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n"
    head += "Content-Type: application/json\r\n"
    requests = []
    for k in range(n + 20):
        payload = body.replace(b"__N__", f"open-{k}".encode())
        requests.append(f"{head}Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
    gc.collect()
    gc.freeze()  # the requests are long-lived: a full collection would stall the client
    cpu_before = _cpu_seconds(server)
    result = asyncio.run(open_loop(port, requests[20:], rate / BATCH, 32, 5.0, requests[:20]))
    cpu = _cpu_seconds(server) - cpu_before
    result["events_per_second"] = round(result["achieved_rate"] * BATCH)
    result["server_cpu_ms_per_1000_events"] = round(cpu * 1000 / max(n * BATCH, 1) * 1000, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument(
        "--connections",
        default=",".join(map(str, CONNECTIONS)),
        help="closed-loop wrk levels, comma-separated (empty: open loop only)",
    )
    parser.add_argument("--rate", type=float, default=20_000.0, help="events/s, open loop")
    parser.add_argument("--rate-seconds", type=float, default=60.0)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--events", type=Path, help="an NDJSON file instead of demo data")
    parser.add_argument(
        "--no-stitch", action="store_true", help="serve without stitching profiles as events arrive"
    )
    parser.add_argument(
        "--db",
        help="a PostgreSQL URL to ingest into (emptied of events first) instead of a new "
        "embedded DuckDB file",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("this benchmark needs wrk: apt-get install wrk")
    events = args.events or demo_data(args.customers) / "events.ndjson"
    facts = machine()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or str(Path(tmp) / "bench.duckdb")
        cli = [sys.executable, "-m", "clientcore.cli"]
        if args.db:
            _empty(args.db)
        created = subprocess.run(
            [*cli, "keys", "create", "--name", "bench", "--json", "--db", db],
            check=True,
            capture_output=True,
        )
        key = orjson.loads(created.stdout)["key"]
        _template(events, Path(tmp) / "body.json")
        port = free_port()
        server = serve(
            db,
            port,
            args=("--no-stitch",) if args.no_stitch else (),
            env={"PYTHONUNBUFFERED": "1"},
            timeout=20.0,
            hide_stderr=True,
        )
        url = f"http://127.0.0.1:{port}"
        runs = []
        try:
            auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
            levels = [int(c) for c in args.connections.split(",") if c.strip()]
            for n, connections in enumerate(levels):
                script = Path(tmp) / f"run{n}.lua"
                script.write_text(LUA.format(auth=auth, body=Path(tmp) / "body.json", run=n))
                runs.append(_wrk(url, script, connections, args.seconds, server.pid))
            body = (Path(tmp) / "body.json").read_bytes()
            at_rate = _open_loop(port, auth, body, args.rate, args.rate_seconds, server.pid)
        finally:
            server.terminate()
            try:
                server.wait(timeout=120)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        stats = subprocess.run(
            [*cli, "events", "stats", "--json", "--db", db], capture_output=True, check=True
        )
        stored = orjson.loads(stats.stdout)["total"]
    acknowledged = sum((r["requests"] - r["non_2xx"]) * BATCH for r in runs)
    acknowledged += int(at_rate["ok"]) * BATCH  # type: ignore[call-overload]
    emit(
        {
            "benchmark": "http_ingest",
            "machine": facts,
            "batch_size": BATCH,
            "stitching": not args.no_stitch,
            "store": "postgresql" if args.db else "duckdb",
            "runs": runs,
            "best_events_per_second": max(
                [r["events_per_second"] for r in runs] + [at_rate["events_per_second"]]
            ),
            "open_loop": at_rate,
            "stored_events": stored,
            "acknowledged_events_at_least": acknowledged,
            "durability": "each 200 is sent after the group commit that holds its events",
            "targets": {"events_per_second": 20_000, "p99_ms": 50},
        }
    )


if __name__ == "__main__":
    main()
