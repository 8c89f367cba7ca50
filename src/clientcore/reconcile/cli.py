"""`clientcore import customers` and `clientcore reconcile …`: thin, the work is elsewhere.

When `clientcore serve` owns the database file, every command goes through its admin routes
(`/v1/admin/reconcile/…`), as the other command groups do: `_ask` puts each question either
to the store or to that server.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, cast

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
from clientcore.reconcile import ReconcileError
from clientcore.reconcile.engine import ENGINES, EngineName
from clientcore.reconcile.fields import TARGETS
from clientcore.store import Store

ROUTES = "/v1/admin/reconcile"
EngineOption = typer.Option(
    "duckdb",
    "--engine",
    help="Where Splink trains and scores: duckdb (in process) or spark (local-mode Spark, "
    "CLIENTCORE_SPARK_MASTER; needs clientcore[spark] and Java)",
)

reconcile_app = typer.Typer(
    help="Reconcile customer records of several CRMs: link, review, explain, evaluate.",
    no_args_is_help=True,
)
review_app = typer.Typer(
    help="The review queue: pairs between the review and auto-merge thresholds.",
    invoke_without_command=True,
)
reconcile_app.add_typer(review_app, name="review")
labels_app = typer.Typer(
    help="Review decisions as labels: check the model against them, tune it with them.",
    no_args_is_help=True,
)
reconcile_app.add_typer(labels_app, name="labels")


def _refuse(error: ReconcileError) -> NoReturn:
    fail(f"--{error.field}: {error.message}" if error.field else error.message)


def _ask(
    db: str | None,
    local: Callable[[Store], dict[str, Any]],
    method: str,
    path: str,
    **request: Any,
) -> dict[str, Any]:
    """`local(store)`, or the same question to the running server that owns the database
    (`method` on `ROUTES + path`, with httpx's `json=`/`params=`); a refusal of either is one
    line on stderr and exit code 2."""
    with store_or_server(db) as target:
        if isinstance(target, RemoteServer):
            answer: dict[str, Any] = target.call(method, ROUTES + path, **request)
            return answer
        try:
            return local(target)
        except ReconcileError as error:
            _refuse(error)


def _engine(name: str) -> EngineName:
    if name not in ENGINES:
        fail(f"--engine must be one of {', '.join(ENGINES)}; got {name!r}")
    return cast(EngineName, name)


def import_customers_command(
    file: Path = typer.Argument(..., help="A CSV export of customer records"),
    source: str = typer.Option(..., "--source", help="The system it comes from (e.g. sales)"),
    maps: list[str] = typer.Option(
        None,
        "--map",
        help=f"SRC_COLUMN=FIELD, once per column (FIELD: {', '.join(TARGETS)})",
    ),
    mapping: Path | None = typer.Option(
        None, "--mapping", help="A YAML column mapping (see docs/reconcile.md)"
    ),
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """Import customer records: mapped, standardized, idempotent on (source, record_id)."""
    if not file.is_file():
        fail(f"FILE: no such file: {file}")
    if mapping is not None and not mapping.is_file():
        fail(f"--mapping: no such file: {mapping}")
    from clientcore.reconcile.records import import_customers

    body = {
        "path": str(file.resolve()),
        "source": source,
        "map": maps or [],
        "mapping": str(mapping.resolve()) if mapping else None,
    }
    report = _ask(
        db,
        lambda store: with_progress(
            f"importing {file.name}",
            as_json,
            lambda p: import_customers(store, file, source, mapping, maps or [], p),
        ).to_dict(),
        "POST",
        "/import",
        json=body,
    )
    if as_json:
        print_json(report)
        return
    console.print(
        f"[bold]{file.name}[/] ({source}): {report['rows']:,} rows, "
        f"[green]{report['inserted']:,} new[/], {report['updated']:,} updated, "
        f"{report['unchanged']:,} unchanged, [red]{report['rejected']:,} rejected[/] "
        f"({report['seconds']:.1f}s)"
    )
    for name, count in report["unparsed"].items():
        console.print(f"  {count:,} {name} values did not standardize and were left empty")
    for problem in report["errors"][:10]:
        console.print(
            f"  row {problem['row']}: {problem['field']} {problem['reason']}", markup=False
        )


@reconcile_app.command("run")
def run_command(
    retrain: bool = typer.Option(False, "--retrain", help="Train a new model version first"),
    full: bool = typer.Option(False, "--full", help="Score every record again, not only new"),
    engine: str = EngineOption,
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """Link the imported records: train once (EM, no labels), score, cluster, publish."""
    from clientcore.reconcile.linkage import run
    from clientcore.reconcile.policy import load_policy

    chosen = _engine(engine)

    def local(store: Store) -> dict[str, Any]:
        policy = load_policy()
        return with_progress(
            "reconciling",
            as_json,
            lambda p: run(store, policy, retrain, full, p, chosen),
        ).to_dict()

    body = {"retrain": retrain, "full": full, "engine": chosen}
    report = _ask(db, local, "POST", "/run", json=body)
    if as_json:
        print_json(report)
        return
    trained = ", trained a new model" if report["trained"] else ""
    console.print(
        f"[bold]{report['mode']}[/] run on {report['engine']} with model "
        f"v{report['model_version']}{trained}: "
        f"{report['records']:,} records ({report['new_records']:,} matched now), "
        f"{report['pairs_scored']:,} pairs scored → [green]{report['links']:,} links[/], "
        f"[yellow]{report['review']:,} to review[/], {report['conflicts']:,} household "
        f"conflicts; {report['clusters']:,} people, largest {report['largest_cluster']} records "
        f"({report['seconds']:.1f}s)"
    )
    alarm = report["cluster_size_alarm"]
    if alarm.get("alarm"):
        console.print(
            f"[bold red]cluster-size alarm:[/] {alarm['merges_refused_by_cap']:,} merges would "
            f"have put more than {alarm['max_records_per_source']} records of one source in a "
            "person; they were refused (see `clientcore reconcile explain`)"
        )


@reconcile_app.command("evaluate")
def evaluate_command(
    labels: Path = typer.Option(
        ..., "--labels", help="CSV with columns source, record_id, person_id"
    ),
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """Precision, recall and F1 of pairwise links and of clusters against labels."""
    from clientcore.reconcile.evaluate import evaluate_store, read_labels

    if not labels.is_file():
        fail(f"--labels: no such file: {labels}")
    result = _ask(
        db,
        lambda store: evaluate_store(store, read_labels(labels)),
        "POST",
        "/evaluate",
        json={"labels": str(labels.resolve())},
    )
    if as_json:
        print_json(result)
        return
    table = Table("", "precision", "recall", "F1", title_justify="left")
    for name in ("pairwise", "cluster"):
        s = result[name]
        table.add_row(name, f"{s['precision']:.4f}", f"{s['recall']:.4f}", f"{s['f1']:.4f}")
    console.print(table)
    console.print(
        f"{result['records']:,} records of {result['people']:,} people in "
        f"{result['clusters']:,} clusters; largest {result['largest_cluster']} "
        f"(largest true {result['largest_true_cluster']})"
    )


@reconcile_app.command("explain")
def explain_command(
    first: str = typer.Argument(..., help="SOURCE:RECORD_ID"),
    second: str = typer.Argument(..., help="SOURCE:RECORD_ID"),
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """Why two records were, or were not, linked: field by field."""
    from clientcore.reconcile.explain import explain

    result = _ask(
        db,
        lambda store: explain(store, first, second),
        "GET",
        "/explain",
        params={"a": first, "b": second},
    )
    if as_json:
        print_json(result)
        return
    console.print(f"[bold]{first}[/] vs [bold]{second}[/]: {result['verdict']}", highlight=False)
    _print_evidence(result["evidence"])
    console.print(
        f"prior {result['prior_match_weight']:+.2f} + fields = match weight "
        f"{result['match_weight']:+.2f} → probability {result['match_probability']:.4f}"
    )


def _print_evidence(evidence: list[dict[str, Any]]) -> None:
    table = Table("field", "left", "right", "level", "weight", title_justify="left")
    colour = {"exact": "green", "partial": "yellow", "disagree": "red", "missing": "dim"}
    for item in evidence:
        left = " ".join(str(v) for v in item["left"].values() if v is not None) or "-"
        right = " ".join(str(v) for v in item["right"].values() if v is not None) or "-"
        style = colour.get(item["agreement"], "")
        table.add_row(
            item["field"],
            left,
            right,
            f"[{style}]{item['level']}[/]",
            f"{item['match_weight']:+.2f}",
        )
    console.print(table)


@reconcile_app.command("person")
def person_command(
    record: str = typer.Argument(..., help="SOURCE:RECORD_ID"),
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """The reconciled person of a record: all their records and the profiles they join."""
    from clientcore.reconcile.people import person

    result = _ask(db, lambda store: person(store, record), "GET", f"/records/{record}")
    if as_json:
        print_json(result)
        return
    console.print(
        f"person {result['person']}: {len(result['records'])} records; profiles "
        f"{', '.join(str(p) for p in result['profiles']) or '-'}"
    )
    table = Table("record", "name", "born", "email", "phone", "address", "probability")
    for r in result["records"]:
        p = r["match_probability"]
        table.add_row(
            r["record"],
            f"{r['given_name'] or ''} {r['surname'] or ''}",
            r["birth_date"] or "",
            r["email"] or "",
            r["phone"] or "",
            " ".join(x for x in (r["street_number"], r["address_1"], r["postcode"]) if x),
            "-" if p is None else f"{p:.4f}",
        )
    console.print(table)


@review_app.callback()
def review_default(ctx: typer.Context, db: str | None = DbOption) -> None:
    """Without a subcommand: the first pairs waiting for a decision."""
    if ctx.invoked_subcommand is None:
        review_list(status="review", limit=20, offset=0, db=db, as_json=False)


@review_app.command("list")
def review_list(
    status: str = typer.Option(
        "review", "--status", help="review (the grey zone) or conflict (households)"
    ),
    limit: int = typer.Option(20, "--limit", min=1, max=1000),
    offset: int = typer.Option(0, "--offset", min=0),
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """Pairs waiting for a decision, most likely first, with per-field evidence."""
    from clientcore.reconcile.review import queue

    if status not in ("review", "conflict"):
        fail("--status must be review or conflict")
    result = _ask(
        db,
        lambda store: queue(store, limit, offset, status),
        "GET",
        "/review",
        params={"status": status, "limit": limit, "offset": offset},
    )
    if as_json:
        print_json(result)
        return
    console.print(f"{result['total']:,} pairs with status {status}")
    for pair in result["pairs"]:
        console.print(
            f"\n[bold]{pair['a']}[/] vs [bold]{pair['b']}[/]  probability "
            f"{pair['match_probability']:.4f}",
            highlight=False,
        )
        _print_evidence(pair["evidence"])
    if result["pairs"]:
        first = result["pairs"][0]
        console.print(
            f"\ndecide with `clientcore reconcile review accept {first['a']} {first['b']}` "
            "(or `reject`)",
            markup=False,
        )


def _decide(first: str, second: str, decision: str, note: str | None, by: str | None,
            db: str | None, as_json: bool) -> None:  # fmt: skip
    from clientcore.reconcile.review import decide

    body = {"a": first, "b": second, "decision": decision, "note": note, "decided_by": by}
    result = _ask(
        db,
        lambda store: decide(store, first, second, decision, by, note),  # type: ignore[arg-type]
        "POST",
        "/review/decisions",
        json=body,
    )
    if as_json:
        print_json(result)
        return
    same = "the same person now" if result["same_person_now"] else "two people"
    console.print(f"{decision} {first} / {second}: {same}", highlight=False)


@review_app.command("accept")
def review_accept(
    first: str = typer.Argument(..., help="SOURCE:RECORD_ID"),
    second: str = typer.Argument(..., help="SOURCE:RECORD_ID"),
    note: str | None = typer.Option(None, "--note"),
    by: str | None = typer.Option(None, "--by", help="Who decided"),
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """The two records are one person: merge them (recorded as a label)."""
    _decide(first, second, "accepted", note, by, db, as_json)


@review_app.command("reject")
def review_reject(
    first: str = typer.Argument(..., help="SOURCE:RECORD_ID"),
    second: str = typer.Argument(..., help="SOURCE:RECORD_ID"),
    note: str | None = typer.Option(None, "--note"),
    by: str | None = typer.Option(None, "--by", help="Who decided"),
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """The two records are two people: never merge them (recorded as a label)."""
    _decide(first, second, "rejected", note, by, db, as_json)


@review_app.command("labels")
def review_labels(db: str | None = DbOption, as_json: bool = JsonOption) -> None:
    """Decisions as pairwise labels, and how often the model's own call agrees with them."""
    from clientcore.reconcile.review import labels

    result = _ask(db, labels, "GET", "/review/labels")
    if as_json:
        print_json(result)
        return
    agreement = result["model_agreement"]
    console.print(
        f"{result['decisions']:,} decisions; the model's automatic call agrees with "
        f"{'-' if agreement is None else f'{agreement:.1%}'} of those it scored"
    )
    table = Table("a", "b", "decision", "model p", "by", "note")
    for label in result["labels"]:
        table.add_row(
            f"{label['source_dataset_l']}:{label['unique_id_l']}",
            f"{label['source_dataset_r']}:{label['unique_id_r']}",
            "match" if label["clerical_match_score"] else "non-match",
            "-" if label["match_probability"] is None else f"{label['match_probability']:.4f}",
            label["decided_by"] or "",
            label["note"] or "",
        )
    console.print(table)


def _scores_row(table: Table, name: str, scores: dict[str, Any]) -> None:
    table.add_row(
        name,
        f"{scores['precision']:.4f}",
        f"{scores['recall']:.4f}",
        f"{scores['f1']:.4f}",
        f"{scores['true_positives']:,} / {scores['predicted']:,} / {scores['actual']:,}",
    )


def _scores_table() -> Table:
    return Table("", "precision", "recall", "F1", "agreed / merged / accepted")


@labels_app.command("check")
def labels_check(
    engine: str = EngineOption,
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """The model in use against the review decisions: its automatic calls, scored again."""
    from clientcore.reconcile.labels import check

    chosen = _engine(engine)
    result = _ask(
        db,
        lambda store: check(store, engine=chosen),
        "GET",
        "/labels/check",
        params={"engine": chosen},
    )
    if as_json:
        print_json(result)
        return
    console.print(
        f"model v{result['model_version']} against {result['labels']:,} decisions "
        f"({result['accepted']:,} accepted, {result['rejected']:,} rejected); a merge is "
        f"p ≥ {result['auto_merge']} outside household conflicts"
    )
    table = _scores_table()
    _scores_row(table, "auto merges", result["pairwise"])
    console.print(table)
    calibration = result["calibration"]
    console.print(
        f"outside conflicts its probabilities expect {calibration['expected_accepted']:.1f} "
        f"acceptances; reviewers accepted {calibration['accepted']:,}"
    )
    for item in result["disagreements"][:10]:
        console.print(
            f"  {item['a']} / {item['b']}: {item['decision']}, model p "
            f"{item['match_probability']:.4f} ({item['model_call']})",
            markup=False,
            highlight=False,
        )


@labels_app.command("tune")
def labels_tune(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Report the fit without saving a model version"
    ),
    engine: str = EngineOption,
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """Re-fit the model's calibration to the review decisions; save it as a new version."""
    from clientcore.reconcile.labels import tune

    chosen = _engine(engine)
    result = _ask(
        db,
        lambda store: tune(store, engine=chosen, dry_run=dry_run),
        "POST",
        "/labels/tune",
        json={"engine": chosen, "dry_run": dry_run},
    )
    if as_json:
        print_json(result)
        return
    thresholds = result["equivalent_thresholds"]
    console.print(
        f"{result['fitted_on']:,} decisions move model v{result['model_version']}'s match "
        f"weights by {result['shift_bits']:+.2f} bits (the old model's thresholds would be "
        f"auto_merge {thresholds['auto_merge']:.4f}, review {thresholds['review']:.4f})"
    )
    table = _scores_table()
    _scores_row(table, "before", result["before"]["pairwise"])
    _scores_row(table, "after", result["after"]["pairwise"])
    _scores_row(table, "after (cross-validated)", result["after_cross_validated"]["pairwise"])
    console.print(table)
    if result["new_version"] is None:
        console.print("dry run: no model saved")
    else:
        console.print(
            f"saved as model v{result['new_version']}, now in use; `clientcore reconcile run` "
            "scores every record with it",
            markup=False,
        )
