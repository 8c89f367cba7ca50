"""Readouts of stored experiments: metrics from events, then the statistics of readout.py.

An A/B readout has three parts: the decision metrics (the configured method — always-valid
sequential by default, so it can be read every day — with Holm correction across variants x
metrics), the guardrails (frequentist, flagged when a variant is significantly *worse*), and
the Bayesian chance to beat control and expected loss of the primary metric. A sample-ratio
mismatch blocks all of it. A bandit readout shows decisions, rewards, the posterior and an
off-policy estimate of "always play the leader" from the logged propensities.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from clientcore.experiments.errors import ExperimentsError
from clientcore.experiments.metrics import (
    daily_exposures,
    observation_end,
    unit_table,
    variant_stats,
)
from clientcore.experiments.ope import evaluate_policy
from clientcore.experiments.readout import readout
from clientcore.experiments.registry import Experiment
from clientcore.experiments.service import Policy, bandit_summary
from clientcore.store import Store

#: guardrail metrics where a rise is bad
HARMFUL_WHEN_UP = ("returns", "complaints", "unsubscribes")
MIN_UNITS = 2


def status(store: Store, experiment: Experiment, policy: Policy | None) -> dict[str, Any]:
    """Definition, exposures and units per variant, and a bandit's posterior (``policy``)."""
    rows = store.query(
        "SELECT variant, COUNT(*), COUNT(DISTINCT unit) FROM experiment_exposures "
        "WHERE experiment_id = ? GROUP BY variant",
        [experiment.id],
    )
    doc = experiment.to_dict()
    doc["exposures"] = {str(v): {"exposures": int(n), "units": int(u)} for v, n, u in rows}
    if policy is not None:
        doc["bandit"] = bandit_summary(policy)
    return doc


def analyze(store: Store, experiment: Experiment, method: str | None = None) -> dict[str, Any]:
    """The readout document (what the CLI prints, the API returns and the HTML draws)."""
    units = unit_table(store, experiment)
    names = [v.name for v in experiment.variants]
    weights = [v.weight for v in experiment.variants]
    labels = units.variants
    counts = [int((labels == n).sum()) for n in names]
    unknown = sorted(set(labels.tolist()) - set(names))
    doc: dict[str, Any] = {
        "experiment": experiment.to_dict(),
        "units": dict(zip(names, counts, strict=True)),
        "crossed_over": units.crossovers,
        "unknown_variants": unknown,
        "observed_until": observation_end(units, experiment),
        "exposures_by_day": daily_exposures(units, experiment),
    }
    if min(counts) < MIN_UNITS:
        doc["status"] = "collecting"
        doc["message"] = f"waiting for at least {MIN_UNITS} units in every variant ({counts})"
        return doc
    chosen = method or experiment.method
    stats = {m: variant_stats(units, experiment, m) for m in experiment.metrics}
    main = readout(
        stats,
        weights,
        variants=names,
        units=counts,
        method=chosen,  # type: ignore[arg-type]
        alpha=experiment.alpha,
        tuning_n=float(experiment.planned_units) if experiment.planned_units else None,
    )
    doc["status"] = main.status
    doc["readout"] = main.to_dict()
    doc["means"] = {
        m: {n: _mean(s) for n, s in zip(names, stats[m], strict=True)} for m in experiment.metrics
    }
    if main.status == "blocked":
        doc["message"] = main.blocked_reason
        return doc
    primary = experiment.metrics[0]
    doc["primary_metric"] = primary
    doc["bayesian"] = readout(
        {primary: stats[primary]}, weights, variants=names, units=counts, method="bayesian"
    ).to_dict()["comparisons"]
    if experiment.guardrails:
        guard_stats = {g: variant_stats(units, experiment, g) for g in experiment.guardrails}
        guard = readout(
            guard_stats, weights, variants=names, units=counts, method="frequentist"
        ).to_dict()
        breaches = [
            c
            for c in guard["comparisons"]
            if c.get("significant") and _worse(c["metric"], c["absolute"]["value"])
        ]
        doc["guardrails"] = {"comparisons": guard["comparisons"], "breached": breaches}
        doc["means"].update(
            {
                g: {n: _mean(s) for n, s in zip(names, guard_stats[g], strict=True)}
                for g in experiment.guardrails
            }
        )
    doc["verdict"] = verdict(doc)
    return doc


def _mean(stats: Any) -> float:
    post = stats.post if hasattr(stats, "post") else stats
    return float(post.mean) if post.n else float("nan")


def _worse(metric: str, delta: float) -> bool:
    return delta > 0 if metric in HARMFUL_WHEN_UP else delta < 0


def verdict(doc: dict[str, Any]) -> str:
    """One sentence a marketer can act on, from the primary metric and the guardrails."""
    primary = doc["primary_metric"]
    cells = [c for c in doc["readout"]["comparisons"] if c["metric"] == primary]
    winners = [c for c in cells if c.get("significant") and c["absolute"]["value"] > 0]
    losers = [c for c in cells if c.get("significant") and c["absolute"]["value"] < 0]
    breached = doc.get("guardrails", {}).get("breached", [])
    if breached:
        names = ", ".join(sorted({f"{b['variant']} ({b['metric']})" for b in breached}))
        return f"guardrail breached by {names}: do not ship without a look"
    if winners:
        best = max(winners, key=lambda c: c["absolute"]["value"])
        rel = best["relative"]["value"]
        return (
            f"{best['variant']} beats control on {primary} "
            f"({rel:+.1%} relative, adjusted p = {best['adjusted_p_value']:.3g})"
        )
    if losers and len(losers) == len(cells):
        return f"every variant does worse than control on {primary}: keep the control"
    return f"no significant difference on {primary} yet: keep collecting"


def analyze_bandit(store: Store, experiment: Experiment, policy: Policy) -> dict[str, Any]:
    """Decisions and rewards per arm from the logs, the posterior, and OPE of the leader."""
    if experiment.kind != "bandit":
        raise ExperimentsError(f"{experiment.id!r} is not a bandit")
    rows = store.query(
        "SELECT x.variant, COUNT(*), COUNT(r.reward), SUM(r.reward), AVG(x.probability) "
        "FROM experiment_exposures x LEFT JOIN bandit_rewards r ON r.decision_id = x.decision_id "
        "WHERE x.experiment_id = ? AND x.decision_id IS NOT NULL GROUP BY x.variant",
        [experiment.id],
    )
    per_arm = {
        str(arm): {
            "decisions": int(n),
            "rewarded": int(nr),
            "mean_reward": float(s) / int(nr) if nr else None,
            "mean_propensity": float(p),
        }
        for arm, n, nr, s, p in rows
    }
    total = sum(a["decisions"] for a in per_arm.values())
    doc: dict[str, Any] = {
        "experiment": experiment.to_dict(),
        "decisions": total,
        "arms": {
            v.name: per_arm.get(
                v.name,
                {"decisions": 0, "rewarded": 0, "mean_reward": None, "mean_propensity": None},
            )
            for v in experiment.variants
        },
        "posterior": bandit_summary(policy),
    }
    leader = doc["posterior"].get("leader")
    if leader is not None:
        doc["leader_share_of_decisions"] = (
            doc["arms"][leader]["decisions"] / total if total else None
        )
        ope = leader_value(store, experiment, leader)
        if ope is not None:
            doc["ope_always_leader"] = ope
    return doc


def leader_value(store: Store, experiment: Experiment, leader: str) -> dict[str, Any] | None:
    """What "always play ``leader``" would have earned, from the logged decisions (OPE)."""
    table = store.arrow(
        "SELECT x.decision_id AS round_id, x.variant AS action, r.reward, "
        "x.probability AS propensity FROM experiment_exposures x "
        "JOIN bandit_rewards r ON r.decision_id = x.decision_id WHERE x.experiment_id = ?",
        [experiment.id],
    )
    if table.num_rows < 10:
        return None
    rounds = table.column("round_id")
    policy = pa.table(
        {
            "round_id": rounds,
            "action": pa.array([leader] * table.num_rows),
            "probability": pa.array(np.ones(table.num_rows)),
        }
    )
    logs = table.set_column(2, "reward", table.column("reward").cast(pa.float64()))
    return evaluate_policy(logs, policy).to_dict()
