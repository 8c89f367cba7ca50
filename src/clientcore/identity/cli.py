"""`clientcore identity …`: rebuild, sync, quarantine, unmerge, evaluate."""

from __future__ import annotations

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
from clientcore.identity.manage import IdentityError, quarantined, unmerge
from clientcore.identity.service import rebuild
from clientcore.identity.spec import load_spec
from clientcore.identity.sync import IdentityService

identity_app = typer.Typer(
    help="One person, one profile: stitching, quarantine, unmerge, evaluation.",
    no_args_is_help=True,
)


def _print_report(report: dict[str, object], what: str) -> None:
    console.print(
        f"{what}: {report['events']:,} events → {report['identifiers']:,} identifiers, "
        f"{report['profiles']:,} profiles, {report['quarantined']:,} quarantined, "
        f"{report['merges']:,} merges ({report['seconds']:.1f}s)"
    )


@identity_app.command("rebuild")
def rebuild_command(db: str | None = DbOption, as_json: bool = JsonOption) -> None:
    """Recompute every profile from the event log (the batch path)."""
    spec = load_spec()
    with store_or_server(db) as target:
        if isinstance(target, RemoteServer):
            report = target.call("POST", "/v1/admin/identity/rebuild")
        else:
            store = target
            report = with_progress(
                "stitching", as_json, lambda progress: rebuild(store, spec, progress)
            ).to_dict()
    if as_json:
        print_json(report)
    else:
        _print_report(report, "rebuilt")


@identity_app.command("sync")
def sync_command(db: str | None = DbOption, as_json: bool = JsonOption) -> None:
    """Stitch the events stored since the last sync (the incremental path)."""
    spec = load_spec()
    with store_or_server(db) as target:
        if isinstance(target, RemoteServer):
            fail("the running server stitches every event as it arrives; nothing to do")
        store = target
        report = with_progress(
            "stitching", as_json, lambda progress: IdentityService(store, spec).sync(progress)
        ).to_dict()
    if as_json:
        print_json(report)
    else:
        console.print(
            f"synced {report['events']:,} new events: {report['identifiers']:,} new identifiers, "
            f"{report['merges']:,} merges, {report['quarantined']:,} quarantined"
        )


@identity_app.command("quarantine")
def quarantine_command(db: str | None = DbOption, as_json: bool = JsonOption) -> None:
    """Identifier values kept out of stitching because they would join too many people."""
    with store_or_server(db) as target:
        if isinstance(target, RemoteServer):
            rows = target.call("GET", "/v1/admin/identity/quarantine")["quarantine"]
        else:
            rows = quarantined(target)
    if as_json:
        print_json({"quarantine": rows})
        return
    table = Table("type", "value", "why", "since event", title="Quarantined identifiers")
    for row in rows:
        table.add_row(row["type"], row["value"], row["reason"], str(row["since_seq"]))
    console.print(table)


@identity_app.command("unmerge")
def unmerge_command(
    identifier: str = typer.Argument(..., help="The identifier value that wrongly joined people"),
    reason: str = typer.Option("unmerge", "--reason"),
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """Split a wrong merge: blocklist the identifier and re-derive both sides from the log."""
    spec = load_spec()
    with store_or_server(db) as target:
        if isinstance(target, RemoteServer):
            result = target.call(
                "POST",
                "/v1/admin/identity/unmerge",
                json={"identifier": identifier, "reason": reason},
            )
        else:
            try:
                result = unmerge(target, spec, identifier, reason).to_dict()
            except IdentityError as error:
                fail(str(error))
    if as_json:
        print_json(result)
    else:
        ident = result["identifier"]
        console.print(
            f"blocklisted {ident['type']} {ident['value']!r}: profile {result['profile_before']} "
            f"is now {len(result['profiles_after'])} profile(s) {result['profiles_after']}"
        )
