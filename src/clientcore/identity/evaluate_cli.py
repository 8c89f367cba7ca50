"""`clientcore identity evaluate --truth DIR`: score the identity graph against a ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from clientcore.clisupport import DbOption, JsonOption, console, fail, local_store, print_json
from clientcore.identity.evaluate import TruthFileError, evaluate

identity_eval = typer.Typer(help="Score identity resolution against a ground truth.")

TruthOption = Annotated[
    Path,
    typer.Option(
        "--truth",
        help="Directory with identifiers.csv (type,value,person_id), or with truth/ holding it "
        "(as `clientcore generate` writes); shared_identifiers.csv next to it is optional",
    ),
]


@identity_eval.command("evaluate")
def evaluate_command(
    truth: TruthOption, db: str | None = DbOption, as_json: bool = JsonOption
) -> None:
    """Pairwise precision, recall and F1 of the profiles, with collapsed and split people."""
    if not truth.is_dir():
        fail(f"--truth: no such directory: {truth}")
    with local_store(db) as store:
        try:
            result = evaluate(store, truth).to_dict()
        except TruthFileError as error:
            fail(f"--truth: {error}")
    if as_json:
        print_json(result)
        return
    console.print(
        f"[bold]precision {result['precision']:.4f}  recall {result['recall']:.4f}  "
        f"F1 {result['f1']:.4f}[/]  over {result['identifiers_evaluated']:,} identifiers of "
        f"{result['people']:,} people in {result['profiles']:,} profiles"
    )
    table = Table("measure", "count", title_justify="left")
    for name in (
        "collapsed_clusters",
        "split_people",
        "true_pairs",
        "predicted_pairs",
        "correct_pairs",
        "identifiers_unseen",
        "identifiers_quarantined",
        "identifiers_unknown",
        "shared_identifiers",
        "shared_quarantined",
        "shared_linked",
        "shared_unseen",
    ):
        table.add_row(name.replace("_", " "), f"{result[name]:,}")
    console.print(table)
    if result["collapsed"]:
        console.print(_collapsed_table(result))


def _collapsed_table(result: dict[str, Any]) -> Table:
    """Who each collapsed profile joins, and through which shared identifier."""
    shown = len(result["collapsed"])
    title = f"collapsed profiles ({shown} of {result['collapsed_clusters']:,} shown"
    if result["collapsed_namesakes"] is not None:
        title += f"; {result['collapsed_namesakes']:,} join people of one first name"
    table = Table("profile", "people", "shared identifiers", title=title + ")")
    for cluster in result["collapsed"]:
        people = "\n".join(
            " ".join(
                part
                for part in (
                    person["person_id"],
                    person.get("first_name", ""),
                    person.get("last_name", ""),
                    f"({person['birth_date']})" if person.get("birth_date") else "",
                )
                if part
            )
            for person in cluster["people"]
        )
        shared = "\n".join(f"{i['type']} {i['value']}" for i in cluster["shared"]) or "—"
        table.add_row(str(cluster["profile_id"]), people, shared)
    return table
