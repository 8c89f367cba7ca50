"""`clientcore value …`: the value report and one customer's P&L. Thin: parse, call, format."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import typer

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
from clientcore.store import StoreError
from clientcore.value.costs import CostModel, CostModelError, load_costs, read_catalog
from clientcore.value.customer import (
    UnknownCustomerError,
    customer_value,
    parse_when,
    resolve_profile,
)
from clientcore.value.render import render_customer, render_report
from clientcore.value.sql import Period

value_app = typer.Typer(
    help="Customer value: P&L per customer, whale curve, tiers, RFM, CLV.",
    no_args_is_help=True,
)

CostsOption = typer.Option(
    None, "--costs", help="Cost model YAML [env CLIENTCORE_COSTS; default: the shipped one]"
)
CatalogOption = typer.Option(None, "--catalog", help="Catalog CSV with unit costs")
StartOption = typer.Option(None, "--period-start", help="First day (ISO date), inclusive")
EndOption = typer.Option(None, "--period-end", help="End (ISO date), exclusive")


def _costs(path: Path | None, catalog: Path | None) -> CostModel:
    try:
        costs = load_costs(path).with_catalog(catalog)
        read_catalog(costs.catalog)  # a bad catalog fails here, before any query
    except CostModelError as error:
        fail(f"cost model: {error.field}: {error.message}")
    return costs


def _period(start: str | None, end: str | None) -> Period:
    try:
        period = Period(parse_when(start, "--period-start"), parse_when(end, "--period-end"))
    except ValueError as error:
        fail(str(error))
    if period.start and period.end and period.start >= period.end:
        fail("--period-end: must be after --period-start")
    return period


@value_app.command("report")
def report_command(
    as_json: bool = JsonOption,
    html: Path | None = typer.Option(None, "--html", help="Also write a self-contained HTML"),
    period_start: str | None = StartOption,
    period_end: str | None = EndOption,
    costs_file: Path | None = CostsOption,
    catalog: Path | None = CatalogOption,
    tiers_file: Path | None = typer.Option(None, "--tiers", help="Tier rules YAML"),
    db: str | None = DbOption,
) -> None:
    """Profit concentration, P&L, tiers and migrations, RFM, best and worst customers."""
    from clientcore.value.html import render_html
    from clientcore.value.report import build_report
    from clientcore.value.tiers import load_tiers

    costs = _costs(costs_file, catalog)
    period = _period(period_start, period_end)
    try:
        tier_spec = load_tiers(tiers_file)
    except (ValueError, OSError) as error:
        fail(f"tiers: {error}")
    with local_store(db) as store:
        try:
            report = with_progress(
                "computing customer value",
                as_json,
                lambda _progress: build_report(store, costs, period, tier_spec),
            )
        except StoreError as error:
            fail(str(error))
        except CostModelError as error:
            fail(f"cost model: {error.field}: {error.message}")
    doc = report.to_dict()
    if html is not None:
        try:
            html.write_text(render_html(report), encoding="utf-8")
        except OSError as error:
            fail(f"--html: cannot write {html}: {error.strerror}")
    if as_json:
        print_json(doc)
        return
    render_report(console, doc)
    if html is not None:
        console.print(f"HTML report written to {html}")


@value_app.command("customer")
def customer_command(
    identifier: str = typer.Argument(..., help="Any identifier: email, phone, user id, card…"),
    as_json: bool = JsonOption,
    period_start: str | None = StartOption,
    period_end: str | None = EndOption,
    costs_file: Path | None = CostsOption,
    catalog: Path | None = CatalogOption,
    no_clv: bool = typer.Option(False, "--no-clv", help="Skip the CLV fit (faster)"),
    db: str | None = DbOption,
) -> None:
    """One customer's P&L line by line, with the events behind each line, and their CLV."""
    period = _period(period_start, period_end)
    doc: dict[str, Any]
    with store_or_server(db) as target:
        if isinstance(target, RemoteServer):
            if costs_file is not None or catalog is not None:
                fail("the running server uses its own cost model (CLIENTCORE_COSTS)")
            params = {k: v for k, v in (("period_start", period_start),
                                        ("period_end", period_end)) if v}  # fmt: skip
            doc = target.call(
                "GET", f"/v1/admin/profiles/{quote(identifier, safe='')}/value", params=params
            )
        else:
            costs = _costs(costs_file, catalog)
            try:
                profile_id = resolve_profile(target, identifier)
                doc = customer_value(target, costs, profile_id, period, with_clv=not no_clv)
            except UnknownCustomerError as error:
                fail(str(error))
            except StoreError as error:
                fail(str(error))
    if as_json:
        print_json(doc)
    else:
        render_customer(console, doc)
