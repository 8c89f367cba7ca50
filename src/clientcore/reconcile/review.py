"""The review queue: pairs in the grey zone, a person's decision, and decisions as labels.

A pair waits when its probability is between the review and auto-merge thresholds (and it is
no household conflict). A decision is recorded (who, when, why, what the model said), applied
at once to the published clusters, honoured by every later run, and exported as a pairwise
label in Splink's format, so that the model can be checked against people's judgement.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import orjson
import pyarrow as pa

from clientcore.reconcile import ReconcileError, ReviewError
from clientcore.reconcile.clustering import ClusterRules, cluster
from clientcore.reconcile.linkage import ACCEPTED, REJECTED, REVIEW, _state
from clientcore.reconcile.policy import LinkagePolicy, load_policy, weight
from clientcore.reconcile.records import record_key
from clientcore.store import Store

Decision = Literal["accepted", "rejected"]
_SHOWN = ("given_name", "surname", "birth_date", "email", "phone", "address_1", "postcode")


def _describe(store: Store, keys: list[int]) -> dict[int, dict[str, Any]]:
    if not keys:
        return {}
    marks = ", ".join("?" * len(keys))
    rows = store.query(
        f"SELECT record_key, source, record_id, {', '.join(_SHOWN)} FROM customer_records "
        f"WHERE record_key IN ({marks})",
        keys,
    )
    return {
        int(row[0]): {
            "record": f"{row[1]}:{row[2]}",
            **{name: value for name, value in zip(_SHOWN, row[3:], strict=True)},
        }
        for row in rows
    }


def queue(store: Store, limit: int = 20, offset: int = 0, status: str = REVIEW) -> dict[str, Any]:
    """Pairs waiting for a decision (or, with `status`, e.g. the household conflicts),
    the most likely first, with per-field evidence."""
    total = int(store.query("SELECT count(*) FROM record_links WHERE status = ?", [status])[0][0])
    rows = store.query(
        "SELECT a, b, match_probability, match_weight, evidence, model_version "
        "FROM record_links WHERE status = ? "
        "ORDER BY match_probability DESC, a, b LIMIT ? OFFSET ?",
        [status, limit, offset],
    )
    described = _describe(store, sorted({int(r[0]) for r in rows} | {int(r[1]) for r in rows}))
    pairs = [
        {
            "a": described[int(a)]["record"],
            "b": described[int(b)]["record"],
            "match_probability": round(float(p), 6),
            "match_weight": round(float(w), 3),
            "model_version": int(version),
            "records": [described[int(a)], described[int(b)]],
            "evidence": orjson.loads(ev) if ev else [],
        }
        for a, b, p, w, ev, version in rows
    ]
    return {"status": status, "total": total, "offset": offset, "pairs": pairs}


def decide(
    store: Store,
    first: str,
    second: str,
    decision: Decision,
    decided_by: str | None = None,
    note: str | None = None,
    policy: LinkagePolicy | None = None,
) -> dict[str, Any]:
    """Record a decision on a pair and apply it to the published clusters now."""
    if decision not in (ACCEPTED, REJECTED):
        raise ReconcileError("a decision is accepted or rejected", "decision")
    ka, kb = record_key(store, first), record_key(store, second)
    if ka == kb:
        raise ReconcileError("a record is always the same person as itself", "record")
    a, b = min(ka, kb), max(ka, kb)
    link = store.query(
        "SELECT match_probability, model_version, status FROM record_links WHERE a = ? AND b = ?",
        [a, b],
    )
    if not link and not store.query("SELECT 1 FROM record_clusters LIMIT 1"):
        raise ReviewError("nothing is clustered yet; run `clientcore reconcile run` first")
    probability, version = (float(link[0][0]), int(link[0][1])) if link else (None, None)
    with store.transaction():
        store.execute("DELETE FROM record_decisions WHERE a = ? AND b = ?", [a, b])
        store.execute(
            "INSERT INTO record_decisions (a, b, decision, match_probability, model_version, "
            "decided_by, note) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [a, b, decision, probability, version, decided_by, note],
        )
        if link:
            store.execute(
                "UPDATE record_links SET status = ? WHERE a = ? AND b = ?", [decision, a, b]
            )
        else:
            store.execute(
                "INSERT INTO record_links (a, b, match_weight, match_probability, status, "
                "model_version) VALUES (?, ?, 0, 0, ?, ?)",
                [a, b, decision, _state(store, "reconcile_model_version") or 0],
            )
        clusters = _apply(store, a, b, decision, policy or load_policy())
    return {
        "a": first,
        "b": second,
        "decision": decision,
        "match_probability": probability,
        "same_person_now": clusters[0] == clusters[1],
        "clusters": list(clusters),
    }


def _cluster_of(store: Store, key: int) -> int:
    rows = store.query("SELECT cluster_id FROM record_clusters WHERE record_key = ?", [key])
    return int(rows[0][0]) if rows else key


def _apply(store: Store, a: int, b: int, decision: str, policy: LinkagePolicy) -> tuple[int, int]:
    """Re-cluster the records of the pair's clusters from their stored links and decisions;
    the part holding a cluster's old id keeps it."""
    ca, cb = _cluster_of(store, a), _cluster_of(store, b)
    members = [
        int(r[0])
        for r in store.query(
            "SELECT record_key FROM record_clusters WHERE cluster_id IN (?, ?)", [ca, cb]
        )
    ]
    keys = np.array(sorted(set(members) | {a, b}), dtype=np.int64)
    marks = ", ".join("?" * keys.size)
    links = store.query(
        f"SELECT a, b, match_weight, status, match_probability FROM record_links "
        f"WHERE a IN ({marks}) AND b IN ({marks})",
        keys.tolist() * 2,
    )
    sources = [
        r[0]
        for r in store.query(
            f"SELECT source FROM customer_records WHERE record_key IN ({marks}) "
            "ORDER BY record_key",
            keys.tolist(),
        )
    ]
    node = {int(k): i for i, k in enumerate(keys.tolist())}
    a_idx = np.array([node[int(r[0])] for r in links], dtype=np.int64)
    b_idx = np.array([node[int(r[1])] for r in links], dtype=np.int64)
    w = np.array([float(r[2]) for r in links], dtype=np.float64)
    status = [r[3] for r in links]
    rules = ClusterRules(
        merge_weight=weight(policy.auto_merge),
        min_average_weight=weight(policy.min_average),
        cannot_link_weight=weight(policy.cannot_link),
        max_per_source=policy.max_records_per_source,
    )
    result = cluster(
        np.unique(np.asarray(sources), return_inverse=True)[1],
        a_idx,
        b_idx,
        w,
        rules,
        forced=np.array([s == ACCEPTED for s in status], dtype=bool),
        forbidden=np.array([s in (REJECTED, "conflict") for s in status], dtype=bool),
    )
    old_ids = {ca, cb}
    assigned: dict[int, int] = {}
    for label in set(result.labels.tolist()):
        group = [int(keys[i]) for i in np.flatnonzero(result.labels == label)]
        kept = sorted(old_ids & set(group))
        cluster_id = kept[0] if kept else min(group)
        old_ids.discard(cluster_id)
        for key in group:
            assigned[key] = cluster_id
    probability: dict[int, float | None] = {key: None for key in assigned}
    for x, y, _w, s, p in links:
        # A reviewer's acceptance makes a pair certain; otherwise the model's probability.
        p_row = 1.0 if s == ACCEPTED else float(p)
        if assigned[int(x)] == assigned[int(y)] and s != REJECTED:
            for key in (int(x), int(y)):
                current = probability[key]
                probability[key] = p_row if current is None else max(current, p_row)
    store.execute(f"DELETE FROM record_clusters WHERE record_key IN ({marks})", keys.tolist())
    store.write_table(
        "record_clusters",
        pa.table(
            {
                "record_key": pa.array(list(assigned), pa.int64()),
                "cluster_id": pa.array(list(assigned.values()), pa.int64()),
                "match_probability": pa.array([probability[k] for k in assigned], pa.float64()),
            }
        ),
    )
    return assigned[a], assigned[b]


def labels(store: Store) -> dict[str, Any]:
    """Decisions as pairwise labels (Splink's `clerical_match_score`), and how the model in use
    scored the same pairs: agreement of its automatic call with people's calls."""
    rows = store.query(
        """SELECT ra.source, ra.record_id, rb.source, rb.record_id, d.decision,
                  d.match_probability, d.decided_by, d.note, d.decided_at
           FROM record_decisions d
           JOIN customer_records ra ON ra.record_key = d.a
           JOIN customer_records rb ON rb.record_key = d.b
           ORDER BY d.decided_at, d.a, d.b"""
    )
    policy = load_policy()
    pairs = []
    agree = 0
    scored = 0
    for sa, ia, sb, ib, decision, p, by, note, at in rows:
        pairs.append(
            {
                "source_dataset_l": sa,
                "unique_id_l": ia,
                "source_dataset_r": sb,
                "unique_id_r": ib,
                "clerical_match_score": 1.0 if decision == ACCEPTED else 0.0,
                "match_probability": p,
                "decided_by": by,
                "note": note,
                "decided_at": at.isoformat() if at else None,
            }
        )
        if p is not None:
            scored += 1
            agree += int((p >= policy.auto_merge) == (decision == ACCEPTED))
    return {
        "labels": pairs,
        "decisions": len(pairs),
        "model_agrees": agree,
        "model_agreement": round(agree / scored, 6) if scored else None,
    }
