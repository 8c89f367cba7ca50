"""Commands for getting events in: `keys`, `import events`, `events stats|rejected|replay`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from clientcore.clisupport import (
    DbOption,
    JsonOption,
    RemoteServer,
    console,
    fail,
    print_json,
    store_or_server,
    with_progress,
)
from clientcore.collect import CollectError, log
from clientcore.collect import keys as key_book
from clientcore.collect.importer import import_events
from clientcore.reconcile.cli import import_customers_command

keys_app = typer.Typer(help="Write keys (one per source) and read keys.", no_args_is_help=True)
import_app = typer.Typer(help="Import events or customer records from files.", no_args_is_help=True)
events_app = typer.Typer(
    help="The event log: counts, rejected events, replay.", no_args_is_help=True
)


@keys_app.command("create")
def keys_create(
    name: str = typer.Option(..., "--name", help="The source this key belongs to (e.g. web)"),
    scope: str = typer.Option("write", "--scope", help="write (send events) or read (profiles)"),
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """Create a key. The key itself is shown once; only its digest is stored."""
    with store_or_server(db) as target:
        if isinstance(target, RemoteServer):
            result = target.call("POST", "/v1/admin/keys", json={"name": name, "scope": scope})
        else:
            try:
                key, info = key_book.create_key(target, name, scope)
            except CollectError as error:
                fail(f"--{error.field}: {error.message}" if error.field else error.message)
            result = {"key": key, **info.to_dict()}
    if as_json:
        print_json(result)
        return
    console.print(
        f"[bold green]{result['scope']} key for {result['name']!r}[/] (id {result['id']})"
    )
    console.print(result["key"], markup=False, highlight=False)
    console.print("[dim]Store it now: it will not be shown again.[/]")


@keys_app.command("list")
def keys_list(db: str | None = DbOption, as_json: bool = JsonOption) -> None:
    """List keys (never their secrets)."""
    with store_or_server(db) as target:
        if isinstance(target, RemoteServer):
            rows = target.call("GET", "/v1/admin/keys")["keys"]
        else:
            rows = [k.to_dict() for k in key_book.list_keys(target)]
    if as_json:
        print_json({"keys": rows})
        return
    table = Table("id", "name", "scope", "created", "status")
    for row in rows:
        status = "active" if row["active"] else f"revoked {row['revoked_at'][:19]}"
        table.add_row(row["id"], row["name"], row["scope"], (row["created_at"] or "")[:19], status)
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(..., help="The key's id, as `keys list` shows it"),
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """Revoke a key: its next request gets 401 and stores nothing."""
    with store_or_server(db) as target:
        if isinstance(target, RemoteServer):
            result = target.call("POST", f"/v1/admin/keys/{key_id}/revoke")
        else:
            try:
                result = key_book.revoke_key(target, key_id).to_dict()
            except CollectError as error:
                fail(error.message)
    if as_json:
        print_json(result)
    else:
        console.print(f"revoked key {result['id']} ({result['name']})")


import_app.command("customers")(import_customers_command)


@import_app.command("events")
def import_events_command(
    file: Path = typer.Argument(..., help="NDJSON, CSV or Parquet file of Segment-spec events"),
    fmt: str | None = typer.Option(None, "--format", help="ndjson|csv|parquet (default: by ext)"),
    source: str = typer.Option("import", "--source", help="Source name used for deduplication"),
    stitch_profiles: bool = typer.Option(
        True, "--stitch/--no-stitch", help="Update profiles from the new events afterwards"
    ),
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """Import events from a file: resumable, idempotent on messageId, bad rows kept aside."""
    if not file.is_file():
        fail(f"FILE: no such file: {file}")
    with store_or_server(db) as target:
        if isinstance(target, RemoteServer):
            body = {"path": str(file.resolve()), "format": fmt, "source": source}
            report: dict[str, Any] = target.call("POST", "/v1/admin/import", json=body)
        else:
            store = target
            try:
                report = with_progress(
                    f"importing {file.name}",
                    as_json,
                    lambda progress: import_events(store, file, fmt, source, progress),
                ).to_dict()
            except CollectError as error:
                fail(f"--{error.field}: {error.message}" if error.field else error.message)
            if stitch_profiles and report["inserted"]:
                from clientcore.identity.spec import load_spec
                from clientcore.identity.sync import stitch

                report["identity"] = with_progress(
                    "stitching profiles", as_json, lambda p: stitch(store, load_spec(), p)
                ).to_dict()
    if as_json:
        print_json(report)
        return
    if report["already_done"]:
        console.print(f"{file.name} was already imported ({report['rows']:,} rows); nothing to do")
        return
    resumed = (
        f" (resumed at row {report['resumed_from_row'] + 1:,})"
        if report["resumed_from_row"]
        else ""
    )
    console.print(
        f"[bold]{file.name}[/]{resumed}: {report['rows']:,} rows, "
        f"[green]{report['inserted']:,} stored[/], {report['duplicates']:,} duplicates, "
        f"[red]{report['rejected']:,} rejected[/]"
    )
    for error in report["errors"][:10]:
        console.print(f"  row {error['row']}: {error['field']} {error['reason']}", markup=False)
    if report["rejected"] > 10:
        console.print(f"  … see `clientcore events rejected` for all {report['rejected']:,}")


@events_app.command("stats")
def events_stats(db: str | None = DbOption, as_json: bool = JsonOption) -> None:
    """Stored events by type, channel and source, and how many were kept aside."""
    with store_or_server(db) as target:
        if isinstance(target, RemoteServer):
            stats = target.call("GET", "/v1/admin/events/stats")
        else:
            stats = log.event_stats(target).to_dict()
    if as_json:
        print_json(stats)
        return
    console.print(
        f"[bold]{stats['total']:,}[/] events stored, [red]{stats['rejected']:,}[/] rejected "
        f"({stats['rejected_pending']:,} not replayed); "
        f"{stats['first_timestamp'] or '-'} … {stats['last_timestamp'] or '-'}"
    )
    for title in ("by_channel", "by_type", "by_source", "by_event"):
        table = Table(title.replace("_", " "), "events", title_justify="left")
        for key, count in stats[title].items():
            table.add_row(key, f"{count:,}")
        console.print(table)


@events_app.command("rejected")
def events_rejected(
    limit: int = typer.Option(100, "--limit", min=1),
    include_replayed: bool = typer.Option(False, "--all", help="Include replayed ones"),
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """Events kept aside, with the field and reason; replay them after a fix."""
    with store_or_server(db) as target:
        if isinstance(target, RemoteServer):
            rows = target.call(
                "GET",
                "/v1/admin/events/rejected",
                params={"limit": limit, "include_replayed": include_replayed},
            )["rejected"]
        else:
            rows = log.rejected_events(target, limit, include_replayed)
    if as_json:
        print_json({"rejected": rows})
        return
    table = Table("id", "source", "origin", "at", "field", "reason")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["source"],
            row["origin"],
            str(row["position"]),
            row["field"],
            row["reason"],
        )
    console.print(table)


@events_app.command("replay")
def events_replay(
    ids: list[int] = typer.Argument(None, help="Rejected event ids (default: all pending)"),
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """Judge kept-aside events again: those that now pass are stored."""
    with store_or_server(db) as target:
        if isinstance(target, RemoteServer):
            result = target.call("POST", "/v1/admin/events/replay", json={"ids": ids or None})
        else:
            try:
                result = log.replay_rejected(target, ids or None).to_dict()
            except CollectError as error:
                fail(error.message)
    if as_json:
        print_json(result)
    else:
        console.print(
            f"replayed {result['replayed']:,}: {result['stored']:,} stored, "
            f"{result['duplicates']:,} already there, {result['still_rejected']:,} still rejected"
        )
