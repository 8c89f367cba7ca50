"""Shared by the benchmark scripts: demo data on disk, machine facts, JSON output."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

import orjson

WORK = Path(__file__).resolve().parent / ".work"


def demo_data(customers: int, seed: int = 1) -> Path:
    """The generator's output for this size, generated once and reused by later runs."""
    from clientcore.demo.generator import generate

    out = WORK / f"retailer-{customers}-{seed}"
    if not (out / "events.ndjson").exists():
        generate(customers=customers, seed=seed, out=out)
    return out


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1m_at_start": round(load[0], 2),
    }


def emit(document: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
