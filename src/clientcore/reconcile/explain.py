"""`clientcore reconcile explain A B`: why two records were, or were not, linked.

The pair is scored again with the model in use (same term frequencies, same placeholder
blanking as a run; on DuckDB, whichever engine trained the model), field by field: what each
record held, the level its comparison reached, and the match weight that level carries. The
verdict then says what happened to the pair: merged directly or through other records, waiting
for review, vetoed as a household, kept apart by a cluster constraint (naming it), below the
threshold, or never compared at all.
"""

from __future__ import annotations

import math
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from clientcore.reconcile import model as fs
from clientcore.reconcile.engine import DuckDBEngine
from clientcore.reconcile.linkage import (
    ACCEPTED,
    CONFLICT,
    MATCH,
    RECORDS_SQL,
    REJECTED,
    REVIEW,
    require_model,
    tf_columns,
)
from clientcore.reconcile.policy import LinkagePolicy, load_policy, weight
from clientcore.reconcile.records import record_key
from clientcore.store import Store


def explain(
    store: Store, first: str, second: str, policy: LinkagePolicy | None = None
) -> dict[str, Any]:
    policy = policy or load_policy()
    ka, kb = record_key(store, first), record_key(store, second)
    version, model = require_model(store)
    scored = _score(store, model, ka, kb)
    prior = model["probability_two_random_records_match"]
    evidence = fs.evidence(scored, model)
    a, b = min(ka, kb), max(ka, kb)
    link = store.query(
        "SELECT status, match_probability, model_version FROM record_links WHERE a = ? AND b = ?",
        [a, b],
    )
    decision = store.query(
        "SELECT decision, decided_by, note, decided_at FROM record_decisions WHERE a = ? AND b = ?",
        [a, b],
    )
    clusters = dict(
        store.query(
            "SELECT record_key, cluster_id FROM record_clusters WHERE record_key IN (?, ?)",
            [ka, kb],
        )
    )
    probability = float(scored["match_probability"])
    found = bool(scored.get("found_by_blocking_rules"))
    status = link[0][0] if link else None
    verdict = _verdict(store, policy, ka, kb, clusters, status, probability, found, decision)
    return {
        "a": first,
        "b": second,
        "model_version": version,
        "match_probability": round(probability, 6),
        "match_weight": round(float(scored["match_weight"]), 3),
        "prior_match_weight": round(math.log2(prior / (1 - prior)), 3),
        "found_by_blocking": found,
        "status": status,
        "decision": (
            {
                "decision": decision[0][0],
                "decided_by": decision[0][1],
                "note": decision[0][2],
                "decided_at": decision[0][3].isoformat() if decision[0][3] else None,
            }
            if decision
            else None
        ),
        "same_person": ka in clusters and clusters.get(ka) == clusters.get(kb),
        "clusters": [clusters.get(ka), clusters.get(kb)],
        "verdict": verdict,
        "thresholds": {"review": policy.review, "auto_merge": policy.auto_merge},
        "evidence": evidence,
    }


def _score(store: Store, model: dict[str, Any], ka: int, kb: int) -> dict[str, Any]:
    """The pair scored as a run would score it."""
    records = store.arrow(RECORDS_SQL + " WHERE record_key IN (?, ?)", [ka, kb]).drop_columns(
        ["import_batch"]
    )
    shared = store.arrow(
        f"SELECT kind, value FROM ({fs.shared_values_sql()}) AS s "
        "WHERE value IN (SELECT email FROM customer_records WHERE record_key IN (?, ?) "
        "UNION SELECT phone FROM customer_records WHERE record_key IN (?, ?))",
        [ka, kb, ka, kb],
    )
    compute = duckdb.connect(":memory:")
    try:
        inputs = fs.linkage_input(records, compute, shared)
        for column in tf_columns(model):
            inputs = inputs.append_column(
                f"tf_{column}", pa.array(_frequencies(store, column, inputs), pa.float64())
            )
        by_key = {int(k): i for i, k in enumerate(inputs.column("unique_id").to_pylist())}
        left = inputs.take(pa.array([by_key[ka]]))
        right = inputs.take(pa.array([by_key[kb]]))
        linker = fs.new_linker(DuckDBEngine(compute).database_api(), inputs, model)
        db_api = linker._db_api
        result = linker.inference.score_pair(
            db_api.register(left), db_api.register(right), include_found_by_blocking_rules=True
        )
        row: dict[str, Any] = (
            compute.sql(f"SELECT * FROM {result.physical_name}").to_arrow_table().to_pylist()[0]
        )
        return row
    finally:
        compute.close()


def _frequencies(store: Store, column: str, inputs: pa.Table) -> list[float | None]:
    """Term frequency of each record's value over all records (as a run computes it)."""
    total = int(store.query(f"SELECT count({column}) FROM customer_records")[0][0])
    out: list[float | None] = []
    for value in inputs.column(column).to_pylist():
        if value is None or not total:
            out.append(None)
            continue
        count = int(
            store.query(f"SELECT count(*) FROM customer_records WHERE {column} = ?", [value])[0][0]
        )
        out.append(count / total)
    return out


def _verdict(
    store: Store,
    policy: LinkagePolicy,
    ka: int,
    kb: int,
    clusters: dict[int, int],
    status: str | None,
    probability: float,
    found: bool,
    decision: list[tuple[Any, ...]],
) -> str:
    same = ka in clusters and clusters.get(ka) == clusters.get(kb)
    if same:
        if status == ACCEPTED:
            return "linked: a reviewer accepted this pair"
        if status == MATCH:
            return f"linked: probability {probability:.4f} is above the auto-merge threshold"
        return "linked through other records of the same person (not directly by this pair)"
    if status == REJECTED or (decision and decision[0][0] == REJECTED):
        return "not linked: a reviewer rejected this pair"
    if not found and status is None:
        return (
            "not linked: never compared; no blocking rule brings them together (they share "
            "no e-mail, phone, card or login, no name with a birth date or a town, no house)"
        )
    if status == CONFLICT:
        return (
            "not linked: household conflict; their first names disagree and their birth "
            "dates do not agree, so a shared mailbox or house is not taken as one person "
            "(a reviewer may still accept the pair)"
        )
    if status == REVIEW:
        return (
            f"not linked yet: probability {probability:.4f} is in the grey zone "
            f"[{policy.review}, {policy.auto_merge}); the pair waits in the review queue"
        )
    if status in (MATCH, ACCEPTED):
        return "not linked: " + _refusal(store, policy, clusters.get(ka, ka), clusters.get(kb, kb))
    return (
        f"not linked: probability {probability:.4f} is below the review threshold {policy.review}"
    )


def _refusal(store: Store, policy: LinkagePolicy, ca: int, cb: int) -> str:
    """Which cluster constraint kept the two people apart."""
    rows = store.query(
        "SELECT c.record_key, c.cluster_id, r.source, r.record_id FROM record_clusters c "
        "JOIN customer_records r USING (record_key) WHERE c.cluster_id IN (?, ?)",
        [ca, cb],
    )
    side = {int(k): int(c) for k, c, _, _ in rows}
    name = {int(k): f"{s}:{r}" for k, _, s, r in rows}
    per_source: dict[str, int] = {}
    for _, _, source, _ in rows:
        per_source[source] = per_source.get(source, 0) + 1
    full = [s for s, n in per_source.items() if n > policy.max_records_per_source]
    if full:
        return (
            f"together they would hold more than {policy.max_records_per_source} records of "
            f"{full[0]}: a person is not kept that many times in one source"
        )
    keys = list(side)
    marks = ", ".join("?" * len(keys))
    cross = [
        (int(a), int(b), float(w), s)
        for a, b, w, s in store.query(
            f"SELECT a, b, match_weight, status FROM record_links "
            f"WHERE a IN ({marks}) AND b IN ({marks})",
            keys * 2,
        )
        if side[int(a)] != side[int(b)]
    ]
    for a, b, w, s in cross:
        if s in (REJECTED, CONFLICT) or w < weight(policy.cannot_link):
            return f"the pair {name[a]} and {name[b]} across the two people vetoes it ({s})"
    if cross:
        mean = float(np.mean([w for _, _, w, _ in cross]))
        if mean < weight(policy.min_average):
            return (
                f"the pairs across the two people average a match weight of {mean:.2f}, "
                f"below {weight(policy.min_average):.2f}: the evidence does not hold together"
            )
    return (
        "kept apart by the clustering: a pair across the two people scored below the "
        f"cannot-link floor (p < {policy.cannot_link}; such pairs are not stored), or an "
        "incremental run met two published people, which it never merges (`--full` may)"
    )
