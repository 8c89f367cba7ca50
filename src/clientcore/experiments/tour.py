"""The demo's experiments chapter: the generator's win-back test read out from its events, then
a bandit that finds the best offer while it runs, each checked against the known truth.

Idempotent like the rest of the demo: a second run reads out what is already stored.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.rule import Rule

from clientcore.experiments import registry
from clientcore.experiments.analysis import analyze, analyze_bandit
from clientcore.experiments.cli import print_readout
from clientcore.experiments.registry import UnknownExperimentError
from clientcore.experiments.service import ExperimentService
from clientcore.store import Store

BANDIT_ID = "demo_winback_offer"
#: the simulated truth: chance that a lapsed customer orders after each e-mail offer
OFFER_TRUTH = {"no_offer": 0.020, "free_shipping": 0.045, "ten_percent": 0.035, "bundle": 0.030}
BANDIT_DECISIONS = 6_000
REWARD_BATCH = 50


def experiments_chapter(store: Store, data_dir: Path, console: Console) -> None:
    console.print(Rule("6. Experiments: the win-back e-mail test, read out from events"))
    params = json.loads((data_dir / "truth" / "params.json").read_text())["experiment"]
    experiment_id = params["experiment_id"]
    try:
        experiment = registry.get(store, experiment_id)
    except UnknownExperimentError:
        experiment = registry.create(
            store,
            {
                "id": experiment_id,
                "name": params.get("experiment_name", experiment_id),
                "variants": ["control", "treatment"],
                "exposure_event": "Experiment Viewed",
                "window_days": int(params.get("response_days", 21)),
                "metrics": ["conversion", "orders", "revenue", "contribution"],
                "method": "frequentist",  # a finished test, read once
                "layer": "winback",
                "started_at": params["start"],
            },
        )
    doc = analyze(store, experiment)
    print_readout(doc)
    truth = _true_lift(data_dir / "truth" / "customers.csv")
    if truth is not None:
        console.print(
            f"generator's truth: {truth:.1%} of treated people made an extra order because of the "
            "e-mail; the estimate's interval should hold it (at 2,000 customers it is wide)"
        )
    console.print(Rule("7. A bandit that finds the best win-back offer while it runs"))
    bandit_chapter(store, console)
    console.print(
        f"More: clientcore experiments analyze {experiment_id} --html experiment.html · "
        f"clientcore experiments analyze {BANDIT_ID} --html bandit.html · clientcore kpi alerts"
    )


def _true_lift(path: Path) -> float | None:
    if not path.is_file():
        return None
    with path.open(newline="") as handle:
        treated = [r for r in csv.DictReader(handle) if r["experiment_variant"] == "treatment"]
    if not treated:
        return None
    return sum(r["experiment_incremental_order"] == "true" for r in treated) / len(treated)


def bandit_chapter(store: Store, console: Console) -> dict[str, Any]:
    """Thompson sampling over four offers, rewards drawn from OFFER_TRUTH (seeded)."""
    try:
        registry.get(store, BANDIT_ID)
    except UnknownExperimentError:
        registry.create(
            store,
            {
                "id": BANDIT_ID,
                "name": "Win-back offer (bandit)",
                "kind": "bandit",
                "policy": "thompson",
                "variants": list(OFFER_TRUTH),
                "layer": "winback_offers",
            },
        )
    service = ExperimentService(store, background=False)
    try:
        (done,) = store.query(
            "SELECT COUNT(*) FROM experiment_exposures WHERE experiment_id = ?", [BANDIT_ID]
        )[0]
        if int(done) == 0:
            people = [
                str(v)
                for (v,) in store.query(
                    "SELECT value FROM identifiers WHERE type = 'user_id' ORDER BY id"
                )
            ] or [f"visitor-{i}" for i in range(1000)]
            rng = np.random.default_rng(7)
            batch: list[tuple[str, float]] = []
            for k in range(BANDIT_DECISIONS):
                person = people[k % len(people)]
                decision = service.decide(BANDIT_ID, person, channel="email")
                won = rng.random() < OFFER_TRUTH[decision["variant"]]
                batch.append((decision["decision_id"], 1.0 if won else 0.0))
                if len(batch) == REWARD_BATCH:  # conversions are reported in batches
                    service.exposures.flush()
                    service.reward_many(BANDIT_ID, batch)
                    batch = []
            service.exposures.flush()
            if batch:
                service.reward_many(BANDIT_ID, batch)
        doc = analyze_bandit(store, registry.get(store, BANDIT_ID), service.policy(BANDIT_ID))
    finally:
        service.close()
    print_readout(doc)
    best = max(OFFER_TRUTH, key=OFFER_TRUTH.__getitem__)
    uniform = float(np.mean(list(OFFER_TRUTH.values())))
    earned = sum((a["mean_reward"] or 0.0) * a["rewarded"] for a in doc["arms"].values()) / max(
        doc["decisions"], 1
    )
    console.print(
        f"truth: the best offer is {best} ({OFFER_TRUTH[best]:.1%}); the bandit earned "
        f"{earned:.2%} per e-mail vs {uniform:.2%} for an even split"
    )
    return doc
