"""The `clientcore` command line: one command group per capability, each thin."""

from __future__ import annotations

import importlib
import os
import secrets
import signal
import sys
import threading
from pathlib import Path

import typer

from clientcore import __version__
from clientcore.clisupport import DbOption, console, fail, print_json, running_server, with_progress
from clientcore.clisupport import write_server_file as advertise
from clientcore.collect.cli import events_app, import_app, keys_app
from clientcore.identity.cli import identity_app
from clientcore.identity.evaluate_cli import evaluate_command
from clientcore.profiles.cli import profile_command
from clientcore.store import database_url

app = typer.Typer(
    name="clientcore",
    help="Customer data and intelligence for omnichannel retailers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(keys_app, name="keys")
app.add_typer(import_app, name="import")
app.add_typer(events_app, name="events")
app.add_typer(identity_app, name="identity")
identity_app.command("evaluate")(evaluate_command)
app.command("profile")(profile_command)

# Capabilities register their command groups here when they are installed in the tree.
_OPTIONAL_GROUPS = (
    ("clientcore.value.clv.cli", "clv_app", "clv"),
    ("clientcore.value.cli", "value_app", "value"),
    ("clientcore.experiments.cli", "experiments_app", "experiments"),
    ("clientcore.experiments.cli", "kpi_app", "kpi"),
    ("clientcore.reconcile.cli", "reconcile_app", "reconcile"),
    ("clientcore.personalize.cli", "recommend_app", "recommend"),
)
for module_name, attribute, command in _OPTIONAL_GROUPS:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as missing:
        if missing.name != module_name:
            raise
        continue
    app.add_typer(getattr(module, attribute), name=command)


def _version(value: bool) -> None:
    if value:
        console.print(f"clientcore {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True),
) -> None:
    """Customer data and intelligence for omnichannel retailers."""


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


@app.command()
def serve(
    db: str | None = DbOption,
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    log_level: str = typer.Option("warning", "--log-level"),
    stitch: bool = typer.Option(
        True, "--stitch/--no-stitch", help="Stitch profiles as events arrive (default)"
    ),
) -> None:
    """Run the HTTP API: the Segment-compatible collector, profiles, and the rest."""
    import uvicorn

    from clientcore.api.app import create_app
    from clientcore.identity.service import RulesChangedError, check_rules
    from clientcore.identity.spec import load_spec
    from clientcore.store import StoreError, open_store

    url = database_url(db)
    try:
        store = open_store(url)  # fail early, with a clear message, on a bad or locked store
    except StoreError as error:
        fail(str(error))
    try:
        if stitch:
            check_rules(store, load_spec())
    except RulesChangedError as error:
        fail(str(error))
    finally:
        store.close()
    token = os.environ.get("CLIENTCORE_ADMIN_TOKEN") or secrets.token_urlsafe(32)
    advertised = advertise(url, f"http://{host}:{port}", token)
    console.print(f"clientcore {__version__} serving {url} on http://{host}:{port} (docs: /docs)")
    # uvicorn stops gracefully on SIGTERM, then raises the signal again: with the default
    # handler the process would die there, before the `finally` below removes the file.
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _exit_on_signal) if main_thread else None
    try:
        uvicorn.run(
            create_app(url, token, stitch),
            host=host,
            port=port,
            log_level=log_level,
            loop="uvloop",
            http="httptools",
            access_log=False,
        )
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if advertised is not None:
            advertised.unlink(missing_ok=True)


@app.command()
def generate(
    customers: int = typer.Option(..., "--customers", min=1, help="Number of people"),
    seed: int = typer.Option(1, "--seed"),
    out: Path = typer.Option(..., "--out", help="Directory to write the retailer into"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Generate a synthetic omnichannel retailer with its ground truth."""
    from clientcore.demo.generator import generate as run

    summary = with_progress(
        "generating",
        as_json,
        lambda progress: run(customers=customers, seed=seed, out=out, progress=progress),
    )
    if as_json:
        print_json(summary.to_dict())
    else:
        console.print(
            f"wrote {summary.customers:,} customers, {summary.events:,} events, "
            f"{summary.crm_records:,} CRM records and {summary.products:,} products to {out} "
            f"in {summary.seconds:.1f}s"
        )


@app.command()
def demo(
    customers: int = typer.Option(2000, "--customers", min=10),
    db: str | None = DbOption,
    seed: int = typer.Option(7, "--seed"),
    data_dir: Path = typer.Option(Path("demo-data"), "--data-dir"),
    no_serve: bool = typer.Option(False, "--no-serve", help="Stop after the report"),
    port: int = typer.Option(8000, "--port"),
) -> None:
    """Generate a demo retailer, ingest it, and show what clientcore makes of it."""
    from clientcore.demo.tour import run_tour

    url = database_url(db)
    if running_server(url) is not None:
        fail(f"a server is running on {url}; stop it or use another --db")
    run_tour(url, customers=customers, seed=seed, data_dir=data_dir)
    if not no_serve:
        serve(db=url, host="127.0.0.1", port=port, log_level="warning", stitch=True)


def main() -> None:
    from clientcore.identity.spec import RulesError

    try:
        app()
    except RulesError as error:  # raised wherever a command first reads the rules
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
