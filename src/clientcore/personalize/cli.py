"""`clientcore recommend …`: train, evaluate, export, and one person's list. Thin: parse, call,
format. While `clientcore serve` owns the DuckDB file, `train` and `for` go through it (the
server trains and swaps the new version in); `evaluate` and `export` say what to do."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import typer
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
from clientcore.personalize.errors import RecommendError
from clientcore.store import database_url

recommend_app = typer.Typer(
    help="The personal shopper: recommendations from history and the current visit.",
    no_args_is_help=True,
)

CatalogOption = typer.Option(
    None, "--catalog", help="Catalog CSV (product_id, in_stock, repeatable, launched_at, …)"
)
WindowOption = typer.Option(60.0, "--window-days", help="Label window of the ranker, in days")
CasesOption = typer.Option(3000, "--max-cases", help="Training cases per kind (known, visits)")
ModelsOption = typer.Option(None, "--models", help="Models directory [env CLIENTCORE_MODELS]")


def _root(db: str | None, models: Path | None) -> Path:
    from clientcore.personalize.model import models_dir

    return models or models_dir(database_url(db))


def _check_catalog(catalog: Path | None) -> None:
    if catalog is not None and not catalog.is_file():
        fail(f"--catalog: no such file {catalog}")


def _positive(value: float, option: str) -> None:
    if value <= 0:
        fail(f"{option}: must be positive")


@recommend_app.command("train")
def train_command(
    catalog: Path | None = CatalogOption,
    window_days: float = WindowOption,
    max_cases: int = CasesOption,
    as_json: bool = JsonOption,
    models: Path | None = ModelsOption,
    db: str | None = DbOption,
) -> None:
    """Train a new model version from the event log (a progress bar; versioned, swapped in
    by a running server)."""
    _check_catalog(catalog)
    _positive(window_days, "--window-days")
    if max_cases < 10:
        fail("--max-cases: must be at least 10")
    with store_or_server(db) as target:
        if isinstance(target, RemoteServer):
            body = {"window_days": window_days, "max_cases": max_cases}
            if catalog is not None:
                body["catalog"] = str(catalog.resolve())  # type: ignore[assignment]
            report = target.call("POST", "/v1/admin/recommendations/train", json=body)
        else:
            from clientcore.personalize.train import train

            root = _root(db, models)
            try:
                report = with_progress(
                    "training recommendations",
                    as_json,
                    lambda progress: train(
                        target, root, catalog, window_days, max_cases, progress=progress
                    ).to_dict(),
                )
            except RecommendError as error:
                fail(_message(error))
    if as_json:
        print_json(report)
        return
    console.print(
        f"trained [bold]{report['version']}[/] on {report['interactions']:,} product "
        f"interactions, {report['products']:,} products, {report['profiles']:,} profiles "
        f"(log up to {report['data_end']}) in {report['seconds']:.1f}s → {report['path']}"
    )


@recommend_app.command("evaluate")
def evaluate_command(
    split_date: str | None = typer.Option(
        None,
        "--split-date",
        help="Start of the held-out period, YYYY-MM-DD (default: 60 days before the log's end)",
    ),
    k: int = typer.Option(20, "--k", help="List length the metrics look at"),
    catalog: Path | None = CatalogOption,
    window_days: float = WindowOption,
    max_cases: int = typer.Option(3000, "--max-cases", help="Cases per kind"),
    as_json: bool = JsonOption,
    db: str | None = DbOption,
) -> None:
    """Temporal-split evaluation: recall, NDCG, MRR at k and coverage, ours against the
    popularity, co-occurrence and ALS baselines, for known customers and anonymous visits."""
    from clientcore.personalize.data import read_interactions
    from clientcore.personalize.evaluate import Plan, evaluate
    from clientcore.personalize.train import load_catalog

    if not 1 <= k <= 100:
        fail("--k: must be between 1 and 100")
    _check_catalog(catalog)
    _positive(window_days, "--window-days")
    if max_cases < 10:
        fail("--max-cases: must be at least 10")
    split: float | None = None
    if split_date is not None:
        try:
            split = datetime.strptime(split_date, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
        except ValueError:
            fail(f"--split-date: expected YYYY-MM-DD, got {split_date!r}")
    with local_store(db) as store:
        try:
            cat = load_catalog(store, catalog)
            data = read_interactions(store, cat)
            if len(data) == 0:
                fail("the event log holds no product interactions to evaluate on")
            if split is None:
                split = float(data.t.max()) + 1.0 - window_days * 86400
            plan = Plan(split=split, window_days=window_days, max_cases=max_cases)
            result = with_progress(
                "evaluating", as_json, lambda progress: evaluate(data, cat, plan, k, None, progress)
            )
        except RecommendError as error:
            fail(_message(error))
    if as_json:
        print_json(result)
        return
    _render_evaluation(result)


def _render_evaluation(result: dict[str, Any]) -> None:
    k = result["k"]
    groups = list(result["models"][result["ours"]]["by_group"])
    for group in groups:
        table = Table(
            "model",
            f"recall@{k}",
            f"NDCG@{k}",
            f"MRR@{k}",
            "coverage",
            "cases",
            title=f"{group.replace('_', ' + ')}: held out from {result['split_date']}",
            title_justify="left",
        )
        for name, metrics in result["models"].items():
            row = metrics["by_group"][group]
            style = "bold" if name == result["ours"] else None
            table.add_row(
                name,
                f"{row[f'recall@{k}']:.4f}",
                f"{row[f'ndcg@{k}']:.4f}",
                f"{row[f'mrr@{k}']:.4f}",
                f"{row['coverage']:.3f}",
                str(row["cases"]),
                style=style,
            )
        console.print(table)
        lift = result["lift_over_best_baseline"][group]
        console.print(
            f"  ours vs the best baseline: recall@{k} {lift[f'recall@{k}']:+.1%}, "
            f"NDCG@{k} {lift[f'ndcg@{k}']:+.1%}"
        )


@recommend_app.command("export")
def export_command(
    channel: str = typer.Option(..., "--channel", help="web|email|ads|direct_mail|pickup"),
    out: Path = typer.Option(..., "--out", help="Output file: .ndjson (default) or .csv"),
    max_items: int | None = typer.Option(None, "--max-items", help="Products per recipient"),
    limit: int | None = typer.Option(None, "--limit", help="At most this many recipients"),
    days: float = typer.Option(7.0, "--days", help="pickup: orders of the log's last N days"),
    as_json: bool = JsonOption,
    models: Path | None = ModelsOption,
    db: str | None = DbOption,
) -> None:
    """Batch lists for a channel, with the channel's rules (per household for direct mail,
    nothing already in the order for pickup, at most N per mail)."""
    from clientcore.personalize.export import EXPORT_CHANNELS, export
    from clientcore.personalize.model import Recommender

    if channel not in EXPORT_CHANNELS:
        fail(f"--channel: must be one of {', '.join(EXPORT_CHANNELS)}; got {channel!r}")
    if max_items is not None and not 1 <= max_items <= 100:
        fail("--max-items: must be between 1 and 100")
    if limit is not None and limit < 1:
        fail("--limit: must be at least 1")
    _positive(days, "--days")
    with local_store(db) as store:
        try:
            model = Recommender.load(_root(db, models))
            report = with_progress(
                f"exporting {channel}",
                as_json,
                lambda progress: export(
                    store, model, channel, out, max_items, limit, days, progress
                ),
            )
        except RecommendError as error:
            fail(_message(error))
    if as_json:
        print_json(report.to_dict())
        return
    console.print(
        f"{channel}: {report.recipients:,} recipients, {report.rows:,} rows → {out} "
        f"(model {report.model_version})"
    )


@recommend_app.command("for")
def for_command(
    identifier: str = typer.Argument(..., help="Any identifier of the person"),
    session: str | None = typer.Option(None, "--session", help="The visit's anonymousId"),
    channel: str | None = typer.Option(None, "--channel", help="web, mobile, store, …"),
    k: int = typer.Option(10, "--k", help="How many products"),
    at: str | None = typer.Option(None, "--at", help="As of this ISO time (default now)"),
    as_json: bool = JsonOption,
    models: Path | None = ModelsOption,
    db: str | None = DbOption,
) -> None:
    """One person's recommendations, with the reason for each."""
    from clientcore.personalize.data import CHANNELS

    if not 1 <= k <= 100:
        fail("--k: must be between 1 and 100")
    if channel is not None and channel not in CHANNELS:
        fail(f"--channel: must be one of {', '.join(CHANNELS)}")
    when: datetime | None = None
    if at is not None:
        try:
            when = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            fail(f"--at: expected an ISO-8601 time, got {at!r}")
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    with store_or_server(db) as target:
        if isinstance(target, RemoteServer):
            query = {"profile": identifier, "k": k}
            query.update(
                {
                    k2: v
                    for k2, v in (
                        ("session", session),
                        ("channel", channel),
                        ("at", when.isoformat() if when else None),
                    )
                    if v
                }
            )
            document = target.call("GET", "/v1/admin/recommendations?" + urlencode(query))
        else:
            from clientcore.personalize.service import RecommendationService

            service = RecommendationService(target, _root(db, models))
            try:
                service.load_current()
                document = service.recommend(identifier, session, channel, k, None, when)
            except RecommendError as error:
                fail(_message(error))
            finally:
                service.close()
    if as_json:
        print_json(document)
        return
    render_list(document)


def render_list(document: dict[str, Any], title: str | None = None) -> None:
    ctx = document["context"]
    table = Table(
        "#",
        "product",
        "category",
        "price",
        "why",
        title=title
        or (
            f"profile {document['profile_id']} · {ctx['history_events']} past product events, "
            f"{ctx['session_events']} in this visit · model {document['model_version']}"
        ),
        title_justify="left",
    )
    for item in document["items"]:
        price = f"${item['price']:,.2f}" if item["price"] is not None else ""
        table.add_row(
            str(item["rank"]), item["name"], item["category"], price, item["reason"]["text"]
        )
    console.print(table)


def _message(error: RecommendError) -> str:
    return f"--{error.field}: {error.message}" if error.field else error.message
