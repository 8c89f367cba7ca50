"""Precision, recall and F1 of a record clustering against labels: of pairs and of clusters.

* **pairwise**: every two records put in one cluster is a predicted link (what a user of the
  profiles sees); it is right when the labels give both records the same person.
* **cluster**: a predicted cluster is right when it holds exactly the records of one person;
  recall is the share of people whose records came out exactly as one cluster. Singletons
  count: a person with one record is found when that record stays alone.
* **edges**: the scored links the clustering took as merges (before transitivity), when given.

Pure: takes arrays of labels, so it serves the CLI, the benchmarks and the tests alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from clientcore.reconcile import ReconcileError
from clientcore.store import Store


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    true_positives: int
    predicted: int
    actual: int

    @classmethod
    def of(cls, tp: int, predicted: int, actual: int) -> Scores:
        precision = tp / predicted if predicted else 1.0
        recall = tp / actual if actual else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return cls(round(precision, 6), round(recall, 6), round(f1, 6), tp, predicted, actual)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _dense(labels: Sequence[Any] | np.ndarray) -> np.ndarray:
    return np.unique(np.asarray(labels), return_inverse=True)[1].astype(np.int64)


def _pairs_within(sizes: np.ndarray) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def pairwise_scores(
    predicted: Sequence[Any] | np.ndarray, truth: Sequence[Any] | np.ndarray
) -> Scores:
    """Pairs in one predicted cluster vs pairs of one person, counted without listing pairs."""
    p, t = _dense(predicted), _dense(truth)
    both = p * (int(t.max()) + 1 if t.size else 1) + t
    tp = _pairs_within(np.unique(both, return_counts=True)[1])
    return Scores.of(
        tp,
        _pairs_within(np.unique(p, return_counts=True)[1]),
        _pairs_within(np.unique(t, return_counts=True)[1]),
    )


def cluster_scores(
    predicted: Sequence[Any] | np.ndarray, truth: Sequence[Any] | np.ndarray
) -> Scores:
    """Clusters that are exactly one person's records."""
    p, t = _dense(predicted), _dense(truth)
    n_pred = int(p.max()) + 1 if p.size else 0
    n_true = int(t.max()) + 1 if t.size else 0
    if not p.size:
        return Scores.of(0, 0, 0)
    # A predicted cluster is exact when all its records share one person and that person has
    # no record elsewhere: both label sets then induce the same group.
    p_size = np.bincount(p)
    t_size = np.bincount(t)
    combo, combo_size = np.unique(p * (n_true or 1) + t, return_counts=True)
    pc, tc = combo // (n_true or 1), combo % (n_true or 1)
    exact = (combo_size == p_size[pc]) & (combo_size == t_size[tc])
    return Scores.of(int(exact.sum()), n_pred, n_true)


def edge_scores(a: np.ndarray, b: np.ndarray, truth: np.ndarray) -> Scores:
    """Links (record index pairs) against the pairs of one person."""
    t = _dense(truth)
    tp = int((t[a] == t[b]).sum())
    return Scores.of(tp, int(a.size), _pairs_within(np.unique(t, return_counts=True)[1]))


@dataclass(frozen=True)
class Evaluation:
    pairwise: Scores
    cluster: Scores
    records: int
    people: int
    clusters: int
    largest_cluster: int
    largest_true_cluster: int
    edges: Scores | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "pairwise": self.pairwise.to_dict(),
            "cluster": self.cluster.to_dict(),
            "records": self.records,
            "people": self.people,
            "clusters": self.clusters,
            "largest_cluster": self.largest_cluster,
            "largest_true_cluster": self.largest_true_cluster,
        }
        if self.edges is not None:
            out["edges"] = self.edges.to_dict()
        return out


def evaluate_labels(
    predicted: Sequence[Any] | np.ndarray,
    truth: Sequence[Any] | np.ndarray,
    edges: tuple[np.ndarray, np.ndarray] | None = None,
) -> Evaluation:
    """Everything above for one clustering; `edges` are index pairs into the same arrays."""
    p, t = _dense(predicted), _dense(truth)
    return Evaluation(
        pairwise=pairwise_scores(p, t),
        cluster=cluster_scores(p, t),
        records=int(p.size),
        people=int(t.max()) + 1 if t.size else 0,
        clusters=int(p.max()) + 1 if p.size else 0,
        largest_cluster=int(np.bincount(p).max()) if p.size else 0,
        largest_true_cluster=int(np.bincount(t).max()) if t.size else 0,
        edges=edge_scores(edges[0], edges[1], t) if edges is not None else None,
    )


def read_labels(path: Path) -> pa.Table:
    """A labels CSV with columns source, record_id, person_id (the generator's truth file)."""
    try:
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in ("source", "record_id", "person_id")}
            ),
        )
    except (pa.ArrowInvalid, OSError) as error:
        raise ReconcileError(f"cannot read the labels {path}: {error}", "labels") from error
    missing = {"source", "record_id", "person_id"} - set(table.column_names)
    if missing:
        raise ReconcileError(
            f"the labels need columns source, record_id, person_id; {path.name} lacks "
            f"{', '.join(sorted(missing))}",
            "labels",
        )
    return table.select(["source", "record_id", "person_id"])


def evaluate_store(store: Store, labels: pa.Table) -> dict[str, Any]:
    """The published clusters against labels, on the records both know."""
    published = store.arrow(
        "SELECT r.source, r.record_id, r.record_key, c.cluster_id FROM customer_records r "
        "JOIN record_clusters c USING (record_key)"
    )
    if not published.num_rows:
        raise ReconcileError("nothing is clustered yet; run `clientcore reconcile run` first")
    compute = duckdb.connect(":memory:")
    compute.register("published", published)
    compute.register("labels", labels)
    joined = compute.sql(
        """SELECT p.cluster_id, l.person_id FROM published p
           JOIN labels l ON l.source = p.source AND l.record_id = p.record_id
           ORDER BY p.record_key"""
    ).fetchnumpy()
    unlabeled = compute.sql(
        "SELECT count(*) FROM published p ANTI JOIN labels l "
        "ON l.source = p.source AND l.record_id = p.record_id"
    ).fetchall()[0][0]
    missing = compute.sql(
        "SELECT count(*) FROM labels l ANTI JOIN published p "
        "ON l.source = p.source AND l.record_id = p.record_id"
    ).fetchall()[0][0]
    compute.close()
    if not joined["cluster_id"].size:
        raise ReconcileError("no labelled record is among the imported records", "labels")
    result = evaluate_labels(joined["cluster_id"], joined["person_id"]).to_dict()
    result["records_without_label"] = int(unlabeled)
    result["labels_without_record"] = int(missing)
    return result
