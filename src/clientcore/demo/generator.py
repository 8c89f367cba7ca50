"""Entry point: write a whole synthetic retailer (events, catalog, CRMs, truth) to a folder.

People are generated in fixed-size blocks, each with its own RNG spawned from the seed,
so the output is byte-for-byte reproducible and memory stays flat at any size.
"""

from __future__ import annotations

import csv
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import orjson

from clientcore.demo.blocks import BlockResult, init_worker, run_block, run_block_in_worker
from clientcore.demo.catalog import Catalog, build_catalog, n_products_for, write_catalog
from clientcore.demo.config import BLOCK_SIZE, Params
from clientcore.demo.contact import EmailRegistry
from clientcore.demo.crm import HEADERS, SOURCES
from clientcore.demo.people import People, build_people
from clientcore.demo.truth import (
    CRM_TRUTH_HEADER,
    CUSTOMER_HEADER,
    IDENTIFIER_HEADER,
    SHARED_HEADER,
    TASTE_HEADER,
)
from clientcore.demo.world import World, build_world

MAX_CUSTOMERS = 10_000_000


@dataclass(frozen=True)
class GenerationSummary:
    """What was written, for the CLI to print and for benchmarks to record."""

    customers: int
    events: int
    crm_records: int
    products: int
    out: Path
    seconds: float
    seed: int = 0
    orders: int = 0
    identifiers: int = 0
    event_counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["out"] = str(self.out)
        return data


class _Writers:
    """The output files that grow block by block."""

    def __init__(self, out: Path) -> None:
        (out / "crm").mkdir(parents=True, exist_ok=True)
        (out / "truth").mkdir(parents=True, exist_ok=True)
        self.events = (out / "events.ndjson").open("wb")
        self._files: list[TextIO] = []
        self.crm = {s: self._csv(out / "crm" / f"crm_{s}.csv", HEADERS[s]) for s in SOURCES}
        self.crm_truth = self._csv(out / "truth" / "crm_records.csv", CRM_TRUTH_HEADER)
        self.ids = self._csv(out / "truth" / "identifiers.csv", IDENTIFIER_HEADER)
        self.customers = self._csv(out / "truth" / "customers.csv", CUSTOMER_HEADER)
        self.tastes = self._csv(out / "truth" / "tastes.csv", TASTE_HEADER)

    def _csv(self, path: Path, header: tuple[str, ...]) -> Any:
        fh = path.open("w", newline="", encoding="utf-8")
        self._files.append(fh)
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        return writer

    def close(self) -> None:
        self.events.close()
        for fh in self._files:
            fh.close()


def generate(
    customers: int,
    seed: int,
    out: Path,
    progress: Callable[[int, int], None] | None = None,
    *,
    workers: int | None = None,
) -> GenerationSummary:
    """Generate ``customers`` people and everything they did into ``out``.

    ``workers`` processes share the per-block work (default: up to 2 for large runs);
    the files are identical whatever the number of workers.
    """
    if not 1 <= customers <= MAX_CUSTOMERS:
        raise ValueError(f"customers must be between 1 and {MAX_CUSTOMERS:,}")
    if seed < 0:
        raise ValueError("seed must be non-negative")
    started = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    params = Params()
    n_blocks = -(-customers // BLOCK_SIZE)
    world_seed, catalog_seed, *block_seeds = np.random.SeedSequence(seed).spawn(2 + n_blocks)
    world = build_world(np.random.default_rng(world_seed), customers, params)
    catalog = build_catalog(np.random.default_rng(catalog_seed), n_products_for(customers), params)
    write_catalog(catalog, out / "catalog.csv")
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if n_blocks >= 4 else 1

    registry = EmailRegistry()

    def jobs() -> Iterator[tuple[People, list[np.random.SeedSequence]]]:
        for b, block_seed in enumerate(block_seeds):
            people_seed, *rest = block_seed.spawn(4)
            start = b * BLOCK_SIZE
            n = min(BLOCK_SIZE, customers - start)
            rng = np.random.default_rng(people_seed)
            yield build_people(rng, start, n, world, params, registry), rest

    writers = _Writers(out)
    totals = _Totals()
    if progress is not None:
        progress(0, customers)
    try:
        for done, result in _results(jobs(), workers, world, catalog, params):
            totals.add(result, writers)
            if progress is not None:
                progress(min(customers, done * BLOCK_SIZE), customers)
    finally:
        writers.close()

    _write_shared(out / "truth" / "shared_identifiers.csv", totals.shared)
    _write_params(out / "truth" / "params.json", params, seed, customers, world)
    return GenerationSummary(
        customers=customers,
        events=totals.events,
        crm_records=totals.crm,
        products=len(catalog),
        out=out,
        seconds=round(time.perf_counter() - started, 3),
        seed=seed,
        orders=totals.orders,
        identifiers=totals.ids,
        event_counts=dict(sorted(totals.counts.items())),
    )


def _results(
    jobs: Iterator[tuple[People, list[np.random.SeedSequence]]],
    workers: int,
    world: World,
    catalog: Catalog,
    params: Params,
) -> Iterator[tuple[int, BlockResult]]:
    """Block results in block order, computed in-process or by a pool of workers."""
    if workers <= 1:
        for k, (people, seeds) in enumerate(jobs, start=1):
            yield k, run_block(people, seeds, world, catalog, params)
        return
    # fork is cheap and needs no __main__ guard, but is unsafe once threads run (a progress
    # bar may have started one); spawn is the safe fallback.
    methods = multiprocessing.get_all_start_methods()
    single = threading.active_count() == 1
    context = multiprocessing.get_context("fork" if single and "fork" in methods else "spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=init_worker, initargs=(world, catalog, params)
    ) as pool:
        pending: deque[Future[BlockResult]] = deque()
        done = 0
        for people, seeds in jobs:
            pending.append(pool.submit(run_block_in_worker, people, seeds))
            if len(pending) > 2 * workers:
                done += 1
                yield done, pending.popleft().result()
        while pending:
            done += 1
            yield done, pending.popleft().result()


class _Totals:
    """Running counts, trap uses, and the writing of one block's result."""

    def __init__(self) -> None:
        self.events = self.crm = self.orders = self.ids = 0
        self.counts: dict[str, int] = {}
        self.shared: dict[tuple[str, str], set[int]] = {}

    def add(self, result: BlockResult, writers: _Writers) -> None:
        writers.events.write(result.events)
        for source in SOURCES:
            writers.crm[source].writerows(result.crm_rows[source])
        writers.crm_truth.writerows(result.crm_truth)
        writers.ids.writerows(result.identifiers)
        writers.customers.writerows(result.customers)
        writers.tastes.writerows(result.tastes)
        for kind, value, person in result.shared:
            self.shared.setdefault((kind, value), set()).add(person)
        for name, c in result.counts.items():
            self.counts[name] = self.counts.get(name, 0) + c
        self.events += result.n_events
        self.crm += len(result.crm_truth)
        self.orders += result.n_orders
        self.ids += len(result.identifiers)


def _write_shared(path: Path, shared: dict[tuple[str, str], set[int]]) -> None:
    """Trap values with the number of distinct people they were attached to."""
    type_of = {
        "family_email": "email",
        "placeholder_email": "email",
        "placeholder_phone": "phone",
        "shared_device": "device_id",
    }
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(SHARED_HEADER)
        for (kind, value), people in sorted(shared.items()):
            writer.writerow([type_of[kind], value, kind, len(people)])


def _write_params(path: Path, params: Params, seed: int, customers: int, world: World) -> None:
    data = params.to_dict()
    data.update(
        {
            "seed": seed,
            "customers": customers,
            "block_size": BLOCK_SIZE,
            "stores": list(world.store_ids),
            "kiosk_stores": [
                s for s, tab in zip(world.store_ids, world.store_tablet, strict=True) if tab
            ],
        }
    )
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
