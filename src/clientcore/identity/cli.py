"""`clientcore identity …`: rebuild, sync, quarantine, unmerge, evaluate."""

from __future__ import annotations

import typer
import yaml
from rich.table import Table

from clientcore.clisupport import (
    DbOption,
    JsonOption,
    RemoteServer,
    console,
    fail,
    local_store,
    print_json,
    store_or_server,
    with_progress,
)
from clientcore.identity.manage import IdentityError, quarantined, unmerge
from clientcore.identity.service import RulesChangedError, built_under, rebuild
from clientcore.identity.spec import load_spec, rules_path
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
        try:
            service = IdentityService(store, spec)
        except RulesChangedError as error:
            fail(str(error))
        report = with_progress("stitching", as_json, service.sync).to_dict()
    if as_json:
        print_json(report)
    else:
        console.print(
            f"synced {report['events']:,} new events: {report['identifiers']:,} new identifiers, "
            f"{report['merges']:,} merges, {report['quarantined']:,} quarantined"
        )


@identity_app.command("rules")
def rules_command(
    db: str | None = typer.Option(
        None, "--db", help="Also say whether this store's profiles were built under the rules"
    ),
    as_json: bool = JsonOption,
) -> None:
    """The identity rules in effect (default or CLIENTCORE_IDENTITY), as YAML to start a file
    of your own from."""
    spec = load_spec()
    current: bool | None = None
    if db is not None:
        with local_store(db) as store:
            built = built_under(store)
        current = None if built is None else built == spec.fingerprint()  # None: unknown
    source = str(rules_path()) if rules_path() else "default"
    rules = spec.model_dump(mode="json")
    if as_json:
        fingerprint = f"{spec.fingerprint() & (2**64 - 1):016x}"
        print_json(
            {
                "source": source,
                "fingerprint": fingerprint,
                "profiles_built_under_these_rules": current,
                "rules": rules,
            }
        )
        return
    print(f"# identity rules: {source}")
    if current is False:
        print("# the store's profiles were built under other rules: run `identity rebuild`")
    print(yaml.safe_dump(rules, sort_keys=False), end="")


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
