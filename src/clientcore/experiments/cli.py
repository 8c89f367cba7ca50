"""``clientcore experiments ...``: thin Typer wrapper; all logic lives in :mod:`.ope`.

Bad input exits with code 2 and one line on stderr naming the column and the problem, so
scripts can tell "your file is wrong" (2) from "we crashed" (1).
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import typer

from clientcore.experiments.errors import ExperimentsError, OpeInputError
from clientcore.experiments.ope import evaluate_policy

experiments_app = typer.Typer(
    name="experiments", help="Experiment statistics: off-policy evaluation.", no_args_is_help=True
)


def _fail(message: str) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(code=2)


def _read(path: Path, option: str) -> pa.Table:
    if not path.is_file():
        raise _fail(f"{option}: file not found: {path}")
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _fail(f"{option}: not a readable parquet file ({first})") from exc


@experiments_app.callback()
def _main() -> None:
    """Experiment statistics."""


@experiments_app.command("ope")
def ope_command(
    logs: Path = typer.Option(..., "--logs", help="Parquet: round_id, action, reward, propensity"),
    policy: Path = typer.Option(..., "--policy", help="Parquet: round_id, action, probability"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    alpha: float = typer.Option(0.05, "--alpha", help="1 - confidence level of the intervals."),
    ridge: float = typer.Option(1.0, "--ridge", help="Ridge penalty of the DM reward model."),
) -> None:
    """Estimate the value of POLICY from LOGS with IPS, SNIPS, DM and DR."""
    if not 0 < alpha < 1:
        raise _fail(f"--alpha must be in (0, 1), got {alpha}")
    log_table, policy_table = _read(logs, "--logs"), _read(policy, "--policy")
    try:
        result = evaluate_policy(log_table, policy_table, alpha=alpha, ridge=ridge)
    except OpeInputError as exc:
        raise _fail(str(exc)) from exc
    except ExperimentsError as exc:
        raise _fail(str(exc)) from exc
    doc = result.to_dict()
    if as_json:
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    level = round(100 * (1 - alpha))
    typer.echo(f"{result.n_rows} logged decisions, {result.n_rounds} rounds")
    for name, est in result.estimators.items():
        typer.echo(
            f"{name:>6}: {est.value:.6g}  [{est.ci_low:.6g}, {est.ci_high:.6g}] ({level}% CI)"
        )
    typer.echo(f"   ESS: {result.ess:.1f} ({100 * result.ess / result.n_rows:.1f}% of rows)")
    for w in result.warnings:
        typer.echo(f"warning: {w}", err=True)
