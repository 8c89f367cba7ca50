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
from clientcore.identity.service import linking_only
from clientcore.identity.spec import load_spec
from clientcore.identity.sync import stitch
from clientcore.store import Store


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
        stitched = with_progress(
            "stitching profiles", False, lambda progress: stitch(store, load_spec(), progress)
        )
        stats = log.event_stats(store)
        table = Table(
            "channel", "events", title="What was stored, by channel", title_justify="left"
        )
        for channel, count in stats.by_channel.items():
            table.add_row(channel, f"{count:,}")
        console.print(table)
        where, silent = linking_only(load_spec())
        identifiers, profiles, quarantined = store.query(
            "SELECT count(*), count(DISTINCT profile_id), count(*) FILTER (WHERE quarantined) "
            f"FROM identifiers{where}",
            silent,
        )[0]
        console.print(
            f"{identifiers:,} identifiers in {profiles:,} profiles ({quarantined} identifier "
            f"values quarantined); stitching took {stitched.seconds:.1f}s"
        )
        identity_chapter(store, data_dir)
        from clientcore.value.tour import value_chapter

        value_chapter(store, data_dir, console)
        from clientcore.experiments.tour import experiments_chapter

        experiments_chapter(store, data_dir, console)
        from clientcore.reconcile.tour import reconcile_chapter

        reconcile_chapter(store, data_dir, console)
        from clientcore.personalize.tour import recommendations_chapter

        recommendations_chapter(store, data_dir, console, chapter=9)


_BEST_CUSTOMER_SQL = """
WITH orders AS (
    SELECT DISTINCT i.profile_id, e.seq, e.channel,
           CAST(json_extract_string(e.payload, '$.properties.revenue') AS DOUBLE) AS revenue
    FROM events e
    JOIN event_identifiers ei ON ei.seq = e.seq
    JOIN identifiers i ON i.id = ei.identifier_id
    WHERE e.event = 'Order Completed' AND i.profile_id IS NOT NULL
), channels AS (
    SELECT DISTINCT i.profile_id, e.channel
    FROM events e
    JOIN event_identifiers ei ON ei.seq = e.seq
    JOIN identifiers i ON i.id = ei.identifier_id
    WHERE i.profile_id IS NOT NULL
)
SELECT o.profile_id, sum(o.revenue) AS revenue,
       (SELECT count(*) FROM channels c WHERE c.profile_id = o.profile_id) AS channels
FROM orders o GROUP BY o.profile_id
ORDER BY channels DESC, revenue DESC LIMIT 1
"""


def identity_chapter(store: Store, data_dir: Path) -> None:
    """Stitching figures against the generator's truth, then one best customer's view."""
    from clientcore.identity.evaluate import evaluate
    from clientcore.profiles.render import render
    from clientcore.profiles.view import profile_view

    console.print(Rule("3. One person, one profile"))
    result = evaluate(store, data_dir / "truth").to_dict()
    console.print(
        f"identity vs ground truth: precision [bold]{result['precision']:.4f}[/], "
        f"recall [bold]{result['recall']:.4f}[/], F1 {result['f1']:.4f}; "
        f"{result['collapsed_clusters']} collapsed clusters, "
        f"{result['split_people']} people split across profiles"
    )
    rows = store.query(_BEST_CUSTOMER_SQL)
    if not rows:
        return
    profile_id, revenue, channels = rows[0]
    console.print(
        Rule(
            f"4. The single customer view of a best customer ({channels} channels, ${revenue:,.0f})"
        )
    )
    render(console, profile_view(store, int(profile_id), limit=15).to_dict())
