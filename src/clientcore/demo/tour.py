"""`clientcore demo`: generate a retailer, ingest it, and show what clientcore makes of it.

Each capability adds its chapter here as it lands, so the demo stays the quickest way to see
the whole product work on one machine.
"""

from __future__ import annotations

from pathlib import Path

from rich.rule import Rule
from rich.table import Table

from clientcore.clisupport import console, local_store, with_progress
from clientcore.collect import log
from clientcore.collect.importer import import_events


def run_tour(db_url: str, customers: int, seed: int, data_dir: Path) -> None:
    from clientcore.demo.generator import generate

    console.print(Rule(f"1. A synthetic retailer: {customers:,} customers (seed {seed})"))
    summary = with_progress(
        "generating",
        False,
        lambda progress: generate(customers=customers, seed=seed, out=data_dir, progress=progress),
    )
    console.print(
        f"{summary.events:,} events on every channel, {summary.crm_records:,} CRM records, "
        f"{summary.products:,} products → {data_dir}/ ({summary.seconds:.1f}s)"
    )
    with local_store(db_url) as store:
        console.print(Rule(f"2. Collect: import the event log into {db_url}"))
        events_file = data_dir / "events.ndjson"
        report = with_progress(
            "importing",
            False,
            lambda progress: import_events(store, events_file, "ndjson", "demo", progress),
        )
        console.print(
            f"{report.rows:,} rows: [green]{report.inserted:,} stored[/], "
            f"{report.duplicates:,} already there, [red]{report.rejected:,} rejected[/]"
        )
        stats = log.event_stats(store)
        table = Table(
            "channel", "events", title="What was stored, by channel", title_justify="left"
        )
        for channel, count in stats.by_channel.items():
            table.add_row(channel, f"{count:,}")
        console.print(table)
