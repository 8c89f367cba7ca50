"""Everything done for one block of people after they exist, as a picklable job.

The main process draws people (e-mail addresses must be unique across blocks, so that
step is sequential) and hands each block to this function, in-process or in a worker
pool; the result only depends on the block's own seeds, never on scheduling.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from clientcore.demo.catalog import Catalog
from clientcore.demo.config import Params
from clientcore.demo.crm import SOURCES, build_crm
from clientcore.demo.events import emit_browsing, emit_orders, new_block
from clientcore.demo.marketing import emit_marketing
from clientcore.demo.people import People
from clientcore.demo.service import emit_service
from clientcore.demo.timeline import simulate
from clientcore.demo.truth import customer_rows, identifier_rows, profit_and_loss, taste_rows
from clientcore.demo.world import World


@dataclass
class BlockResult:
    """Serialized output of one block, ready to append to the files in block order."""

    events: bytearray
    n_events: int
    n_orders: int
    crm_rows: dict[str, list[list[str]]]
    crm_truth: list[tuple[str, str, str]]
    identifiers: list[tuple[str, str, str]]
    customers: list[list[str]]
    tastes: list[tuple[str, str, str]]
    shared: list[tuple[str, str, int]]  # (kind, value, global person index)
    counts: dict[str, int]


_STATE: dict[str, object] = {}


def init_worker(world: World, catalog: Catalog, params: Params) -> None:
    """Pool initializer: the world and catalog are sent to each worker once."""
    _STATE.update(world=world, catalog=catalog, params=params)


def run_block_in_worker(people: People, seeds: list[np.random.SeedSequence]) -> BlockResult:
    """Pool entry point (the world and catalog come from ``init_worker``)."""
    world, catalog, params = _STATE["world"], _STATE["catalog"], _STATE["params"]
    assert isinstance(world, World)
    assert isinstance(catalog, Catalog)
    assert isinstance(params, Params)
    return run_block(people, seeds, world, catalog, params)


def run_block(
    people: People,
    seeds: list[np.random.SeedSequence],
    world: World,
    catalog: Catalog,
    params: Params,
) -> BlockResult:
    """Purchases, events, CRM records and truth rows for one block of people."""
    with gc_paused():
        return _run_block(people, seeds, world, catalog, params)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC: a block allocates ~10^5 acyclic dicts, and collections that
    re-scan all of them cost more than building them (refcounting still frees memory)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _run_block(
    people: People,
    seeds: list[np.random.SeedSequence],
    world: World,
    catalog: Catalog,
    params: Params,
) -> BlockResult:
    """The block pipeline; each stage has its own RNG so stages stay independent."""
    sim_rng, event_rng, crm_rng = (np.random.default_rng(s) for s in seeds)
    orders, outcomes = simulate(sim_rng, people, catalog, world, params)
    block = new_block(event_rng, people, catalog, world, params)
    user_ids, anon_ids = emit_orders(block, event_rng, orders)
    emit_browsing(block, event_rng, orders, outcomes, params)
    emit_marketing(block, event_rng, outcomes, params)
    emit_service(block, orders, user_ids, anon_ids)
    events, counts = block.out.serialize()
    crm = build_crm(crm_rng, people, world, params)
    pnl = profit_and_loss(people, orders, catalog, params, block.service_cost, block.marketing_cost)
    start = people.start
    shared = [(kind, value, start + i) for kind, value, i in block.out.trap_uses | crm.trap_uses]
    shared.extend(
        ("family_email", people.email[i], start + i)
        for i in np.flatnonzero(people.family_email).tolist()
    )
    return BlockResult(
        events=events,
        n_events=sum(counts.values()),
        n_orders=len(orders),
        crm_rows={s: crm.rows[s] for s in SOURCES},
        crm_truth=crm.truth,
        identifiers=identifier_rows(people, block.out.fresh_ids),
        customers=customer_rows(people, orders, outcomes, pnl, params, world.store_ids),
        tastes=taste_rows(people),
        shared=shared,
        counts=counts,
    )
