"""Reviewers' decisions as labels: check the model in use against them, and tune it with them.

* **check**: every decided pair is scored again with the model in use (as a run scores it,
  whether or not blocking would find it). The model's own call on a pair is a merge when its
  probability reaches `auto_merge` and it is no household conflict; precision, recall and F1
  of those calls against the decisions (accepted = one person).
* **tune**: the labels re-fit the model's calibration and save it as a new model version.

Why calibration and not m probabilities from the labels (Splink's
`estimate_m_from_pairwise_labels`): the review queue picks pairs *by their score*, so the
accepted pairs are no sample of all matches, and m estimated from them would learn that
matches disagree more than they do. The chance of a match *given* the score is not biased by
a selection on the score, so the labels can measure it: p = σ(ln 2 · (w + δ)), one shift δ (in
bits) of every pair's match weight w, fitted by maximum a posteriori with a normal prior
N(0, `label_shift_sd`²): a few labels move it a little, many labels as far as they agree. The
slope stays 1 (match weights are log-likelihood ratios). The shift goes into the new version's
prior (`probability_two_random_records_match`), the least certain parameter of training
without labels (it assumes the deterministic rules find 70% of matches); for the old model's
scores it is the same as moving the thresholds by −δ, reported as `equivalent_thresholds`.
Household conflicts are left out of the fit: the conflict rule, not the threshold, decides them.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa
from scipy.optimize import brentq
from scipy.special import expit
from splink.internals.accuracy import predictions_from_sample_of_pairwise_labels_sql
from splink.internals.pipeline import CTEPipeline
from splink.internals.vertically_concatenate import enqueue_df_concat_with_tf

from clientcore.reconcile import ReconcileError
from clientcore.reconcile import model as fs
from clientcore.reconcile.engine import EngineName, LinkageEngine, engine_for
from clientcore.reconcile.evaluate import Scores
from clientcore.reconcile.linkage import (
    ACCEPTED,
    linkage_records,
    register_term_frequencies,
    require_model,
    save_model,
    term_frequencies,
    tf_columns,
    use_model,
)
from clientcore.reconcile.policy import LinkagePolicy, load_policy, weight
from clientcore.store import Store

# Labels a tuning needs at least (outside household conflicts).
MIN_LABELS = 5
# Folds of the cross-validated "after" figures.
FOLDS = 10
_LN2 = math.log(2.0)


@dataclass(frozen=True)
class LabelledPairs:
    """The decided pairs scored by one model version, in decision order."""

    version: int
    model: dict[str, Any]
    names: list[tuple[str, str]]  # SOURCE:RECORD_ID of each side
    accepted: np.ndarray  # bool: the reviewer's call
    weight: np.ndarray  # match weight in bits, prior included
    conflict: np.ndarray  # bool: a household conflict, never merged automatically


def _decisions(store: Store) -> list[tuple[Any, ...]]:
    return store.query(
        """SELECT d.a, d.b, d.decision, ra.source || ':' || ra.record_id,
                  rb.source || ':' || rb.record_id
           FROM record_decisions d
           JOIN customer_records ra ON ra.record_key = d.a
           JOIN customer_records rb ON rb.record_key = d.b
           ORDER BY d.decided_at, d.a, d.b"""
    )


def scored_labels(store: Store, engine: EngineName | LinkageEngine = "duckdb") -> LabelledPairs:
    """Every decision, scored again with the model in use on `engine`."""
    version, model = require_model(store)
    rows = _decisions(store)
    if not rows:
        raise ReconcileError(
            "no review decisions yet; decide pairs with `clientcore reconcile review accept` "
            "or `reject` first",
            "labels",
        )
    pairs = pa.table(
        {
            "unique_id_l": pa.array([int(r[0]) for r in rows], pa.int64()),
            "unique_id_r": pa.array([int(r[1]) for r in rows], pa.int64()),
            "clerical_match_score": pa.array(
                [1.0 if r[2] == ACCEPTED else 0.0 for r in rows], pa.float64()
            ),
        }
    )
    compute = duckdb.connect(":memory:")
    try:
        inputs = linkage_records(store, compute)
        with engine_for(engine, compute) as splink:
            linker = fs.new_linker(splink.database_api(), inputs, model)
            register_term_frequencies(linker, term_frequencies(inputs, compute, tf_columns(model)))
            labels = linker._db_api.register(pairs)
            pipeline = CTEPipeline()
            enqueue_df_concat_with_tf(linker, pipeline)
            pipeline.enqueue_list_of_sqls(
                predictions_from_sample_of_pairwise_labels_sql(linker, labels.physical_name)
            )
            frame = linker._db_api.sql_pipeline_to_splink_dataframe(pipeline)
            name = splink.readable(frame, compute)
            scored = compute.sql(
                f"""SELECT unique_id_l AS a, unique_id_r AS b, match_weight,
                           coalesce({fs.conflict_sql(model)}, FALSE) AS conflict
                    FROM {name}"""
            ).fetchall()
            splink.release(frame, compute)
    finally:
        compute.close()
    by_pair = {(int(a), int(b)): (float(w), bool(c)) for a, b, w, c in scored}
    found = [by_pair[(min(r[0], r[1]), max(r[0], r[1]))] for r in rows]
    return LabelledPairs(
        version=version,
        model=model,
        names=[(str(r[3]), str(r[4])) for r in rows],
        accepted=np.array([r[2] == ACCEPTED for r in rows], dtype=bool),
        weight=np.array([w for w, _ in found], dtype=np.float64),
        conflict=np.array([c for _, c in found], dtype=bool),
    )


def probability(weight_bits: np.ndarray) -> np.ndarray:
    """Match probability of match weights (bits): σ(ln 2 · w)."""
    return np.asarray(expit(_LN2 * np.asarray(weight_bits, dtype=np.float64)))


def fit_shift(weights: np.ndarray, accepted: np.ndarray, sd: float) -> float:
    """The shift δ (bits) maximising Σ log-likelihood of the labels under σ(ln 2 (w + δ)) plus
    a normal log-prior N(0, sd²). The objective is strictly concave: one root of its slope."""
    y = accepted.astype(np.float64)

    def slope(delta: float) -> float:
        return float(_LN2 * np.sum(y - probability(weights + delta)) - delta / sd**2)

    # The labels' part of the slope is at most ln 2 · n in size: the root is within this.
    bound = _LN2 * y.size * sd**2 + 1.0
    return float(brentq(slope, -bound, bound, xtol=1e-9))


def _scores(merge: np.ndarray, accepted: np.ndarray) -> Scores:
    return Scores.of(int((merge & accepted).sum()), int(merge.sum()), int(accepted.sum()))


def _calls(weights: np.ndarray, conflict: np.ndarray, policy: LinkagePolicy) -> np.ndarray:
    """The model's automatic call: merge at or above auto_merge, never a conflict."""
    return (weights >= weight(policy.auto_merge)) & ~conflict


def _summary(pairs: LabelledPairs, weights: np.ndarray, policy: LinkagePolicy) -> dict[str, Any]:
    merge = _calls(weights, pairs.conflict, policy)
    p = probability(weights)
    fitted = ~pairs.conflict
    return {
        "pairwise": _scores(merge, pairs.accepted).to_dict(),
        # Outside conflicts, a calibrated model expects as many acceptances as its
        # probabilities add up to.
        "calibration": {
            "expected_accepted": round(float(p[fitted].sum()), 3),
            "accepted": int(pairs.accepted[fitted].sum()),
        },
    }


def check(
    store: Store, policy: LinkagePolicy | None = None, engine: EngineName | LinkageEngine = "duckdb"
) -> dict[str, Any]:
    """The model in use against the reviewers' decisions."""
    policy = policy or load_policy()
    pairs = scored_labels(store, engine)
    merge = _calls(pairs.weight, pairs.conflict, policy)
    p = probability(pairs.weight)
    disagreements = [
        {
            "a": a,
            "b": b,
            "decision": "accepted" if accepted else "rejected",
            "match_probability": round(float(pi), 6),
            "model_call": "merge" if call else "conflict" if conflict else "no merge",
        }
        for (a, b), accepted, pi, call, conflict in zip(
            pairs.names, pairs.accepted, p, merge, pairs.conflict, strict=True
        )
        if bool(call) != bool(accepted)
    ]
    return {
        "model_version": pairs.version,
        "labels": int(pairs.accepted.size),
        "accepted": int(pairs.accepted.sum()),
        "rejected": int((~pairs.accepted).sum()),
        "conflicts": int(pairs.conflict.sum()),
        "auto_merge": policy.auto_merge,
        **_summary(pairs, pairs.weight, policy),
        "disagreements": disagreements,
    }


def _cross_validated(pairs: LabelledPairs, sd: float, policy: LinkagePolicy) -> Scores:
    """Each label called with the shift fitted on the other folds: the "after" figure not
    flattered by fitting and scoring on the same labels."""
    fitted = np.flatnonzero(~pairs.conflict)
    shifted = pairs.weight.copy()
    folds = min(FOLDS, fitted.size)
    for fold in range(folds):
        held = fitted[fold::folds]
        kept = np.setdiff1d(fitted, held)
        delta = fit_shift(pairs.weight[kept], pairs.accepted[kept], sd)
        shifted[held] = pairs.weight[held] + delta
    return _scores(_calls(shifted, pairs.conflict, policy), pairs.accepted)


def _shifted_prior(prior: float, delta: float) -> float:
    odds = math.log2(prior / (1.0 - prior)) + delta
    return 1.0 / (1.0 + 2.0 ** (-odds))


def tune(
    store: Store,
    policy: LinkagePolicy | None = None,
    engine: EngineName | LinkageEngine = "duckdb",
    dry_run: bool = False,
) -> dict[str, Any]:
    """Re-fit the calibration to the decisions; save it as a new model version and put it in
    use (unless `dry_run`): the next `reconcile run` scores every record with it."""
    policy = policy or load_policy()
    pairs = scored_labels(store, engine)
    fitted = ~pairs.conflict
    if int(fitted.sum()) < MIN_LABELS:
        raise ReconcileError(
            f"{int(fitted.sum())} decisions outside household conflicts; tuning needs at least "
            f"{MIN_LABELS}",
            "labels",
        )
    sd = policy.label_shift_sd
    delta = fit_shift(pairs.weight[fitted], pairs.accepted[fitted], sd)
    prior = float(pairs.model["probability_two_random_records_match"])
    tuned = copy.deepcopy(pairs.model)
    tuned["probability_two_random_records_match"] = _shifted_prior(prior, delta)
    report: dict[str, Any] = {
        "model_version": pairs.version,
        "labels": int(pairs.accepted.size),
        "fitted_on": int(fitted.sum()),
        "shift_bits": round(delta, 4),
        "prior": {"before": prior, "after": tuned["probability_two_random_records_match"]},
        "equivalent_thresholds": {
            name: round(float(probability(np.array(weight(value) - delta))), 6)
            for name, value in (("auto_merge", policy.auto_merge), ("review", policy.review))
        },
        "before": _summary(pairs, pairs.weight, policy),
        "after": _summary(pairs, pairs.weight + delta, policy),
        "after_cross_validated": {
            "pairwise": _cross_validated(pairs, sd, policy).to_dict(),
            "folds": min(FOLDS, int(fitted.sum())),
        },
        "dry_run": dry_run,
        "new_version": None,
    }
    if not dry_run:
        summary = _model_summary(store, pairs.version)
        summary["tuned"] = {
            "from_version": pairs.version,
            "labels": report["fitted_on"],
            "shift_bits": report["shift_bits"],
            "label_shift_sd": sd,
        }
        version = save_model(store, tuned, summary)
        use_model(store, version)
        report["new_version"] = version
    return report


def _model_summary(store: Store, version: int) -> dict[str, Any]:
    rows = store.query("SELECT summary FROM reconcile_models WHERE version = ?", [version])
    found: dict[str, Any] = orjson.loads(rows[0][0]) if rows else {}
    return found
