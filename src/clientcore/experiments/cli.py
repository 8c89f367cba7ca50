"""``clientcore experiments ...`` and ``clientcore kpi ...``: thin Typer wrappers.

Management and readouts go to the store, or through the running server when it owns the
DuckDB file. Bad input exits with code 2 and one line on stderr naming the field or column and
the problem, so scripts can tell "your input is wrong" (2) from "we crashed" (1).
"""

from __future__ import annotations

import math
import sys
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import typer
import yaml
from rich.table import Table

from clientcore.clisupport import (
    DbOption,
    JsonOption,
    RemoteServer,
    console,
    fail,
    print_json,
    store_or_server,
)
from clientcore.experiments import registry
from clientcore.experiments.analysis import analyze, analyze_bandit, status
from clientcore.experiments.errors import ExperimentsError, OpeInputError
from clientcore.experiments.html import render_ab, render_bandit
from clientcore.experiments.kpi_data import DIMENSIONS, kpi_alerts
from clientcore.experiments.ope import evaluate_policy
from clientcore.experiments.registry import UnknownExperimentError
from clientcore.experiments.service import policy_of
from clientcore.store import Store

experiments_app = typer.Typer(
    name="experiments",
    help="A/B/n tests and bandits: create, read out, stop; off-policy evaluation.",
    no_args_is_help=True,
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
    """A/B/n tests and bandits: create, read out, stop; off-policy evaluation."""


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


# -- management and readouts ------------------------------------------------------------


def _split(text: str | None) -> list[str] | None:
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


def _definition(experiment_id: str, file: Path | None, options: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    if file is not None:
        if not file.is_file():
            fail(f"--file: file not found: {file}")
        try:
            loaded = yaml.safe_load(file.read_text())
        except yaml.YAMLError as error:
            fail(f"--file: not valid YAML or JSON ({str(error).splitlines()[0]})")
        if not isinstance(loaded, dict):
            fail("--file: must hold one experiment definition (a mapping)")
        doc.update(loaded)
    doc["id"] = experiment_id
    doc.update({k: v for k, v in options.items() if v is not None})
    return doc


@experiments_app.command("create")
def create_command(
    experiment_id: str = typer.Argument(..., help="Short id: a-z, 0-9, '_', '-', '.'"),
    variants: str = typer.Option(None, "--variants", help="Comma list; the first is the control"),
    weights: str = typer.Option(None, "--weights", help="Comma list of weights (default equal)"),
    traffic: float = typer.Option(None, "--traffic", help="Share of the layer's traffic (0-1]"),
    layer: str = typer.Option(None, "--layer", help="Experiments of one layer never overlap"),
    kind: str = typer.Option(None, "--kind", help="ab (default) or bandit"),
    policy: str = typer.Option(None, "--policy", help="thompson, top_two, linear_thompson"),
    reward: str = typer.Option(None, "--reward", help="bandit reward: bernoulli or gaussian"),
    features: str = typer.Option(None, "--features", help="contextual: channel,tier=a|b|c"),
    metrics: str = typer.Option(None, "--metrics", help="Comma list; the first is primary"),
    guardrails: str = typer.Option(None, "--guardrails", help="Comma list of guardrail metrics"),
    window_days: int = typer.Option(None, "--window-days", help="Outcome window after exposure"),
    pre_days: int = typer.Option(None, "--pre-days", help="CUPED pre-period (0 = none)"),
    method: str = typer.Option(None, "--method", help="sequential, frequentist or bayesian"),
    planned_units: int = typer.Option(None, "--planned-units", help="Sequential tuning size"),
    exposure_event: str = typer.Option(
        None, "--exposure-event", help="Also read exposures from this tracked event"
    ),
    started_at: str = typer.Option(None, "--started-at", help="ISO time (for past experiments)"),
    name: str = typer.Option(None, "--name", help="Human name"),
    file: Path = typer.Option(None, "--file", help="YAML/JSON definition (options override it)"),
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """Create and start an experiment: A/B/n (sticky per person) or a bandit."""
    names = _split(variants)
    arms: list[Any] | None = names
    if names and weights:
        try:
            values = [float(w) for w in _split(weights) or []]
        except ValueError:
            fail(f"--weights: not a comma list of numbers: {weights!r}")
        if len(values) != len(names):
            fail(f"--weights: {len(values)} weights for {len(names)} variants")
        arms = [{"name": n, "weight": w} for n, w in zip(names, values, strict=True)]
    elif weights:
        fail("--weights: give --variants too")
    doc = _definition(
        experiment_id,
        file,
        {
            "variants": arms,
            "traffic": traffic,
            "layer": layer,
            "kind": kind,
            "policy": policy,
            "reward": reward,
            "features": _split(features),
            "metrics": _split(metrics),
            "guardrails": _split(guardrails),
            "window_days": window_days,
            "pre_days": pre_days,
            "method": method,
            "planned_units": planned_units,
            "exposure_event": exposure_event,
            "started_at": started_at,
            "name": name,
        },
    )
    with store_or_server(db) as target:
        if isinstance(target, RemoteServer):
            created = target.call("POST", "/v1/experiments", json=doc)
        else:
            try:
                created = registry.create(target, doc).to_dict()
            except ExperimentsError as error:
                fail(str(error))
    if as_json:
        print_json(created)
        return
    console.print(
        f"created [bold]{created['id']}[/] ({created['kind']}): "
        + ", ".join(v["name"] for v in created["variants"])
        + f" · {created['traffic']:.0%} of layer {created['layer']} "
        f"(buckets {created['buckets'][0]}-{created['buckets'][1]})"
    )


@experiments_app.command("list")
def list_command(
    status: str = typer.Option(None, "--status", help="running or stopped"),
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """Every experiment with its kind, layer, traffic and status."""
    if status not in (None, "running", "stopped"):
        fail(f"--status: must be running or stopped, got {status!r}")
    with store_or_server(db) as target:
        if isinstance(target, RemoteServer):
            doc = target.call("GET", "/v1/experiments", params={"status": status} if status else {})
        else:
            doc = {
                "experiments": [e.to_dict() for e in registry.list_all(target, status)],
                "global_holdout": registry.holdout_share(target),
            }
    if as_json:
        print_json(doc)
        return
    table = Table(title=f"Experiments (global holdout {doc['global_holdout']:.0%})")
    for column in ("id", "kind", "status", "layer", "traffic", "variants", "started"):
        table.add_column(column)
    for e in doc["experiments"]:
        table.add_row(
            e["id"],
            e["policy"] or e["kind"],
            e["status"],
            e["layer"],
            f"{e['traffic']:.0%}",
            ", ".join(v["name"] for v in e["variants"]),
            str(e["started_at"])[:10],
        )
    console.print(table)


def _get(target: Store, experiment_id: str) -> registry.Experiment:
    try:
        return registry.get(target, experiment_id)
    except UnknownExperimentError as error:
        fail(str(error))


@experiments_app.command("status")
def status_command(
    experiment_id: str = typer.Argument(...),
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """One experiment: definition, exposures so far, and a bandit's posterior."""
    with store_or_server(db) as target:
        if isinstance(target, RemoteServer):
            doc = target.call("GET", f"/v1/experiments/{experiment_id}")
        else:
            experiment = _get(target, experiment_id)
            policy = policy_of(experiment) if experiment.kind == "bandit" else None
            doc = status(target, experiment, policy)
    if as_json:
        print_json(doc)
        return
    console.print(
        f"[bold]{doc['id']}[/] {doc['name']} · {doc['status']} · {doc['policy'] or doc['kind']}"
        f" · layer {doc['layer']} · {doc['traffic']:.0%} of traffic · since "
        f"{str(doc['started_at'])[:19]}"
    )
    for variant in doc["variants"]:
        seen = doc["exposures"].get(variant["name"], {"exposures": 0, "units": 0})
        console.print(
            f"  {variant['name']:<20} weight {variant['weight']:<6g} "
            f"{seen['units']:>8,} units {seen['exposures']:>9,} exposures"
        )
    if "bandit" in doc and "leader" in doc["bandit"]:
        console.print(f"  leader: {doc['bandit']['leader']}")


@experiments_app.command("analyze")
def analyze_command(
    experiment_id: str = typer.Argument(...),
    method: str = typer.Option(
        None, "--method", help="Override: frequentist, sequential, bayesian"
    ),
    html: Path = typer.Option(None, "--html", help="Also write the readout as an HTML page"),
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """The readout: SRM gate, effects with intervals, guardrails, chance to beat control."""
    if method not in (None, "frequentist", "sequential", "bayesian"):
        fail(f"--method: must be frequentist, sequential or bayesian, got {method!r}")
    with store_or_server(db) as target:
        if isinstance(target, RemoteServer):
            params = {"method": method} if method else {}
            doc = target.call("GET", f"/v1/experiments/{experiment_id}/analysis", params=params)
        else:
            experiment = _get(target, experiment_id)
            try:
                if experiment.kind == "bandit":
                    doc = analyze_bandit(target, experiment, policy_of(experiment))
                else:
                    doc = analyze(target, experiment, method)
            except ExperimentsError as error:
                fail(str(error))
    if html is not None:
        page = render_bandit(doc) if doc["experiment"]["kind"] == "bandit" else render_ab(doc)
        html.write_text(page)
    if as_json:
        print_json(doc)
        return
    print_readout(doc)
    if html is not None:
        console.print(f"readout written to {html}")


def print_readout(doc: dict[str, Any]) -> None:
    """The terminal readout (also used by the demo)."""
    exp = doc["experiment"]
    if exp["kind"] == "bandit":
        _print_bandit(doc)
        return
    units = ", ".join(f"{k} {v:,}" for k, v in doc["units"].items())
    console.print(f"[bold]{exp['name']}[/] ({exp['id']}) · units: {units}")
    if doc.get("status") != "ok":
        console.print(f"[red]{doc.get('status')}[/]: {doc.get('message')}")
        return
    table = Table(title=f"Effects vs {exp['variants'][0]['name']} ({doc['readout']['method']})")
    for column in ("metric", "variant", "control", "variant mean", "relative", "interval", "p adj"):
        table.add_column(column, justify="left" if column in ("metric", "variant") else "right")
    for c in doc["readout"]["comparisons"] + doc.get("guardrails", {}).get("comparisons", []):
        rel = c["relative"]
        mark = "[bold]" if c.get("significant") else ""
        table.add_row(
            c["metric"],
            c["variant"],
            f"{c['control_mean']:.4g}",
            f"{c['treatment_mean']:.4g}",
            f"{mark}{rel['value']:+.1%}" if math.isfinite(rel["value"]) else "–",
            f"[{rel['ci_low']:+.1%}, {rel['ci_high']:+.1%}]"
            if math.isfinite(rel["ci_low"])
            else "–",
            f"{c['adjusted_p_value']:.3g}" if c.get("adjusted_p_value") is not None else "–",
        )
    console.print(table)
    for c in doc.get("bayesian", []):
        console.print(
            f"P({c['variant']} beats control on {doc['primary_metric']}) = "
            f"{c['chance_to_beat_control']:.1%}"
        )
    console.print(f"[bold]verdict:[/] {doc['verdict']}")


def _print_bandit(doc: dict[str, Any]) -> None:
    exp = doc["experiment"]
    console.print(
        f"[bold]{exp['name']}[/] ({exp['id']}) · {exp['policy']} · {doc['decisions']:,} decisions"
    )
    posterior = {a["arm"]: a for a in doc["posterior"].get("arms", [])}
    table = Table()
    for column in ("arm", "decisions", "rewarded", "mean reward", "P(best)"):
        table.add_column(column, justify="left" if column == "arm" else "right")
    for arm, stats in doc["arms"].items():
        best = posterior.get(arm, {}).get("prob_best")
        table.add_row(
            arm,
            f"{stats['decisions']:,}",
            f"{stats['rewarded']:,}",
            f"{stats['mean_reward']:.4f}" if stats["mean_reward"] is not None else "–",
            f"{best:.1%}" if best is not None else "–",
        )
    console.print(table)
    if doc["posterior"].get("leader"):
        console.print(
            f"leader: [bold]{doc['posterior']['leader']}[/] with "
            f"{doc.get('leader_share_of_decisions') or 0:.0%} of decisions"
        )
    ope = doc.get("ope_always_leader")
    if ope:
        dr = ope["estimators"].get("dr") or next(iter(ope["estimators"].values()))
        console.print(
            f"always playing it would have earned {dr['value']:.4f} per decision "
            f"(DR, 95% CI [{dr['ci_low']:.4f}, {dr['ci_high']:.4f}])"
        )


@experiments_app.command("stop")
def stop_command(
    experiment_id: str = typer.Argument(...),
    reason: str = typer.Option("", "--reason", help="Kept with the experiment"),
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """Stop assigning people (they get the default); the data stays for readouts."""
    with store_or_server(db) as target:
        if isinstance(target, RemoteServer):
            doc = target.call(
                "POST", f"/v1/experiments/{experiment_id}/stop", params={"reason": reason}
            )
        else:
            try:
                doc = registry.stop(target, experiment_id, reason).to_dict()
            except (UnknownExperimentError, ExperimentsError) as error:
                fail(str(error))
    if as_json:
        print_json(doc)
        return
    console.print(f"stopped {doc['id']} at {doc['stopped_at']}")


@experiments_app.command("holdout")
def holdout_command(
    share: float = typer.Argument(..., help="Share of people kept out of every experiment"),
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """Set the global holdout (set it before experiments start: it re-shuffles who is out)."""
    with store_or_server(db) as target:
        if isinstance(target, RemoteServer):
            doc = target.call("PUT", "/v1/experiments-holdout", json={"share": share})
        else:
            try:
                doc = {"global_holdout": registry.set_holdout(target, share)}
            except ExperimentsError as error:
                fail(str(error))
    if as_json:
        print_json(doc)
        return
    console.print(f"global holdout: {doc['global_holdout']:.1%} of people")


# -- KPI alerts ---------------------------------------------------------------------------

kpi_app = typer.Typer(
    name="kpi", help="KPI under-performance alerts with drill-down.", no_args_is_help=True
)


@kpi_app.callback()
def _kpi_main() -> None:
    """KPI under-performance alerts with drill-down."""


@kpi_app.command("alerts")
def alerts_command(
    kpi: str = typer.Option("revenue", "--kpi", help="revenue or orders"),
    days: int = typer.Option(120, "--days", help="Days to scan, baseline included"),
    until: str = typer.Option(None, "--until", help="Last day (YYYY-MM-DD); default last event"),
    threshold: float = typer.Option(3.5, "--threshold", help="Robust z-score that alerts"),
    weeks: int = typer.Option(6, "--weeks", help="Weeks of history in the baseline"),
    top: int = typer.Option(3, "--top", help="Values shown per dimension"),
    dimension: list[str] = typer.Option(None, "--dimension", help="channel/store/category/segment"),
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """Days a KPI fell below its seasonal expectation, and what explains each drop."""
    last = None
    if until:
        try:
            last = date.fromisoformat(until)
        except ValueError:
            fail(f"--until: not a date (YYYY-MM-DD): {until!r}")
    with store_or_server(db) as target:
        if isinstance(target, RemoteServer):
            params: dict[str, Any] = {"kpi": kpi, "days": days, "threshold": threshold}
            params.update({"weeks": weeks, "top": top})
            if dimension:
                params["dimension"] = dimension
            if until:
                fail("--until: not available through a running server yet; omit it")
            doc = target.call("GET", "/v1/kpi/alerts", params=params)
        else:
            try:
                doc = kpi_alerts(
                    target,
                    kpi=kpi,  # type: ignore[arg-type]
                    days=days,
                    until=last,
                    threshold=threshold,
                    weeks=weeks,
                    top=top,
                    dimensions=dimension or DIMENSIONS,
                )
            except ExperimentsError as error:
                fail(str(error))
    if as_json:
        print_json(doc)
        return
    print_alerts(doc)


def print_alerts(doc: dict[str, Any]) -> None:
    if not doc.get("alerts"):
        console.print(
            f"{doc['kpi']}: no under-performance from {doc.get('from', '–')} to "
            f"{doc.get('until', '–')} {doc.get('message', '')}".rstrip()
        )
        return
    for alert in doc["alerts"]:
        drop = alert["value"] - alert["expected"]
        console.print(
            f"[bold red]{alert['label']}[/] {doc['kpi']} {alert['value']:,.2f} vs expected "
            f"{alert['expected']:,.2f} ({drop:+,.2f}, z = {alert['score']:.1f})"
        )
        for dim, rows in alert["drill_down"].items():
            parts = [f"{r['value']} {r['delta']:+,.2f} ({r['share']:.0%})" for r in rows]
            console.print(f"  by {dim}: " + "; ".join(parts))
