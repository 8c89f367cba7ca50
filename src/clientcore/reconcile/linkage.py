"""`clientcore reconcile run`: train once, score candidate pairs, cluster them, publish.

Records come out of the store as Arrow (DuckDB or PostgreSQL alike) into an in-memory DuckDB
connection of the run's own. Splink trains and scores on the engine asked for (`engine.py`:
that connection by default, or Spark), the scored pairs are clustered and published from that
connection, and results go back through `write_table`.

* **full** (first run, `--retrain`, `--full`): every record against every candidate;
* **incremental** (records imported since the last run): new records against all the others
  and among themselves, with the published clusters frozen, so existing people keep their ids
  and new records join them; two existing people are never merged by an incremental run
  (a full run may, with all the evidence in hand).

Reviewers' decisions are honoured in both: an accepted pair is merged (vetoes aside), a
rejected one vetoes any merge that would join its two records.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa

from clientcore.reconcile import NoModelError, ReconcileError
from clientcore.reconcile import model as fs
from clientcore.reconcile.clustering import ClusterRules, cluster
from clientcore.reconcile.engine import EngineName, LinkageEngine, engine_for
from clientcore.reconcile.fields import RECORD_FIELDS
from clientcore.reconcile.policy import LinkagePolicy, weight
from clientcore.store import Store

MATCHED_BATCH = "reconcile_matched_batch"
MODEL_IN_USE = "reconcile_model_version"
RECORDS_SQL = (
    "SELECT record_key, source, " + ", ".join(RECORD_FIELDS) + ", import_batch "
    "FROM customer_records"
)
# Statuses of a stored pair.
MATCH, REVIEW, CONFLICT, ACCEPTED, REJECTED = "match", "review", "conflict", "accepted", "rejected"


@dataclass
class RunReport:
    mode: str = "nothing"
    engine: str = "duckdb"
    model_version: int = 0
    trained: bool = False
    records: int = 0
    new_records: int = 0
    pairs_scored: int = 0
    links: int = 0
    review: int = 0
    conflicts: int = 0
    clusters: int = 0
    largest_cluster: int = 0
    # Merges the constraints refused, by reason; and clusters that reached the per-source cap.
    refused_merges: dict[str, int] = field(default_factory=dict)
    cluster_size_alarm: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _state(store: Store, name: str) -> int | None:
    rows = store.query("SELECT value FROM reconcile_state WHERE name = ?", [name])
    return int(rows[0][0]) if rows else None


def _set_state(store: Store, name: str, value: int) -> None:
    store.execute("DELETE FROM reconcile_state WHERE name = ?", [name])
    store.execute("INSERT INTO reconcile_state (name, value) VALUES (?, ?)", [name, value])


def latest_model(store: Store) -> tuple[int, dict[str, Any]] | None:
    """The model in use (the last trained one), with its version."""
    version = _state(store, MODEL_IN_USE)
    sql = "SELECT version, model FROM reconcile_models "
    rows = (
        store.query(sql + "WHERE version = ?", [version])
        if version is not None
        else store.query(sql + "ORDER BY version DESC LIMIT 1")
    )
    if not rows:
        return None
    return int(rows[0][0]), orjson.loads(rows[0][1])


def save_model(store: Store, model: dict[str, Any], summary: dict[str, Any]) -> int:
    version = int(store.query("SELECT coalesce(max(version), 0) + 1 FROM reconcile_models")[0][0])
    store.execute(
        "INSERT INTO reconcile_models (version, model, summary) VALUES (?, ?, ?)",
        [version, orjson.dumps(model).decode(), orjson.dumps(summary).decode()],
    )
    return version


def use_model(store: Store, version: int) -> None:
    """Make `version` the model in use; the next run scores every record with it."""
    with store.transaction():
        _set_state(store, MODEL_IN_USE, version)
        store.execute("DELETE FROM reconcile_state WHERE name = ?", [MATCHED_BATCH])


def stored_records(store: Store) -> pa.Table:
    """Every imported record, by key, with its import batch."""
    records = store.arrow(RECORDS_SQL + " ORDER BY record_key")
    if not records.num_rows:
        raise ReconcileError(
            "there are no customer records; import some with `clientcore import customers`"
        )
    return records


def linkage_records(
    store: Store, compute: duckdb.DuckDBPyConnection, records: pa.Table | None = None
) -> pa.Table:
    """Splink's input from the stored records (placeholders blanked, nickname roots)."""
    records = records if records is not None else stored_records(store)
    shared = store.arrow(fs.shared_values_sql())
    return fs.linkage_input(records.drop_columns(["import_batch"]), compute, shared)


def term_frequencies(
    inputs: pa.Table, compute: duckdb.DuckDBPyConnection, columns: list[str]
) -> dict[str, pa.Table]:
    """Share of records holding each value, over ALL records: new records are scored with the
    same frequencies as a full run would use."""
    compute.register("tf_input", inputs)
    try:
        return {
            column: compute.sql(
                f"""SELECT {column}, count(*)::DOUBLE / sum(count(*)) OVER () AS tf_{column}
                    FROM tf_input WHERE {column} IS NOT NULL GROUP BY {column}"""
            ).to_arrow_table()
            for column in columns
        }
    finally:
        compute.unregister("tf_input")


def tf_columns(model: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for spec in model["comparisons"]:
        for level in spec["comparison_levels"]:
            column = level.get("tf_adjustment_column")
            if column and column not in found:
                found.append(column)
    return found


def register_term_frequencies(linker: Any, tables: dict[str, pa.Table]) -> None:
    db_api = linker._db_api
    for column, table in tables.items():
        frame = db_api.register(table)
        linker.table_management.register_term_frequency_lookup(frame, column)


def run(
    store: Store,
    policy: LinkagePolicy | None = None,
    retrain: bool = False,
    full: bool = False,
    progress: Callable[[int, int], None] | None = None,
    engine: EngineName | LinkageEngine = "duckdb",
) -> RunReport:
    """Bring links and clusters up to date with the imported records; Splink trains and
    scores on `engine` ("duckdb", "spark" for local-mode Spark, or a `SparkEngine` over your
    own session)."""
    policy = policy or LinkagePolicy()
    started = time.perf_counter()
    report = RunReport()
    last = [started]

    def tick(name: str, step: int) -> None:
        now = time.perf_counter()
        report.timings[name] = round(now - last[0], 3)
        last[0] = now
        if progress:
            progress(step, 5)

    records = stored_records(store)
    report.records = records.num_rows
    compute = duckdb.connect(":memory:")
    try:
        with engine_for(engine, compute) as splink:
            _link(store, splink, compute, records, policy, retrain, full, report, tick)
    finally:
        compute.close()
    _summarize(store, report, policy)
    report.seconds = round(time.perf_counter() - started, 3)
    if progress:
        progress(5, 5)
    return report


def _link(
    store: Store,
    splink: LinkageEngine,
    compute: duckdb.DuckDBPyConnection,
    records: pa.Table,
    policy: LinkagePolicy,
    retrain: bool,
    full: bool,
    report: RunReport,
    tick: Callable[[str, int], None],
) -> None:
    """Train if needed, then score all records or the new ones, cluster and publish."""
    report.engine = splink.name
    inputs = linkage_records(store, compute, records)
    columns = fs.present_columns(inputs)
    tick("prepare", 1)
    found = None if retrain else latest_model(store)
    if found is None:
        version, model = _train(store, splink, inputs, columns, policy)
        report.trained = True
        tick("train", 2)
    else:
        version, model = found
    report.model_version = version
    matched = _state(store, MATCHED_BATCH)
    batches = records.column("import_batch").to_numpy()
    newest = int(batches.max())
    in_use = _state(store, MODEL_IN_USE)
    if full or report.trained or matched is None or in_use != version:
        report.mode = "full"
        report.new_records = records.num_rows
        _full(store, splink, compute, inputs, model, version, policy, report, tick)
    elif newest > matched:
        report.mode = "incremental"
        fresh = batches > matched
        report.new_records = int(fresh.sum())
        _incremental(store, splink, compute, inputs, fresh, model, version, policy, report, tick)
    with store.transaction():
        _set_state(store, MATCHED_BATCH, newest)
        _set_state(store, MODEL_IN_USE, version)


def _train(
    store: Store,
    splink: LinkageEngine,
    inputs: pa.Table,
    columns: set[str],
    policy: LinkagePolicy,
) -> tuple[int, dict[str, Any]]:
    if inputs.num_rows < 50:
        raise ReconcileError(
            f"{inputs.num_rows} records are too few to estimate a model without labels; "
            "import more records first"
        )
    linker = fs.new_linker(splink.database_api(), inputs, fs.settings(columns))
    fs.train(linker, columns, policy.u_max_pairs, policy.seed, policy.em_max_pairs)
    model = linker.misc.save_model_to_json()
    summary = {
        "engine": splink.name,
        "records": inputs.num_rows,
        "columns": sorted(columns),
        "probability_two_random_records_match": model["probability_two_random_records_match"],
        "policy": policy.model_dump(),
    }
    return save_model(store, model, summary), model


def _pairs_sql(table: str, model: dict[str, Any]) -> str:
    return f"""SELECT *, {fs.conflict_sql(model)} AS conflict FROM {table}"""


def _full(
    store: Store,
    splink: LinkageEngine,
    compute: duckdb.DuckDBPyConnection,
    inputs: pa.Table,
    model: dict[str, Any],
    version: int,
    policy: LinkagePolicy,
    report: RunReport,
    tick: Callable[[str, int], None],
) -> None:
    linker = fs.new_linker(splink.database_api(), inputs, model)
    register_term_frequencies(linker, term_frequencies(inputs, compute, tf_columns(model)))
    predictions = linker.inference.predict(warning_mode="never")
    table = splink.readable(predictions, compute)
    compute.execute(f"CREATE OR REPLACE TABLE scored AS {_pairs_sql(table, model)}")
    splink.release(predictions, compute)
    tick("score", 3)
    keys = inputs.column("unique_id").to_numpy()
    sources = inputs.column("source").to_pylist()
    labels = _cluster(store, compute, keys, sources, None, policy, report)
    tick("cluster", 4)
    with store.transaction():
        store.execute("DELETE FROM record_links")
        _write_links(store, compute, model, version, policy)
        store.write_table(
            "record_clusters", _cluster_rows(compute, keys, keys[labels]), replace=True
        )
    tick("write", 5)


def _incremental(
    store: Store,
    splink: LinkageEngine,
    compute: duckdb.DuckDBPyConnection,
    inputs: pa.Table,
    fresh: np.ndarray,
    model: dict[str, Any],
    version: int,
    policy: LinkagePolicy,
    report: RunReport,
    tick: Callable[[str, int], None],
) -> None:
    new_inputs = inputs.filter(pa.array(fresh))
    old_inputs = inputs.filter(pa.array(~fresh))
    linker = fs.new_linker(splink.database_api(), inputs, model)
    register_term_frequencies(linker, term_frequencies(inputs, compute, tf_columns(model)))
    db_api = linker._db_api
    new_frame = db_api.register(new_inputs)
    parts = [linker.inference.predict_within(new_frame, warning_mode="never")]
    if old_inputs.num_rows:
        old_frame = db_api.register(old_inputs)
        parts.append(linker.inference.predict_between(new_frame, old_frame, warning_mode="never"))
    union = " UNION ALL BY NAME ".join(
        f"SELECT * FROM {splink.readable(p, compute)}" for p in parts
    )
    compute.execute(f"CREATE OR REPLACE TABLE scored AS {_pairs_sql(f'({union})', model)}")
    for part in parts:
        splink.release(part, compute)
    # Pairs between sides keep the lower key on the left, as a full run stores them.
    compute.execute(
        """UPDATE scored SET unique_id_l = unique_id_r, unique_id_r = unique_id_l
           WHERE unique_id_l > unique_id_r"""
    )
    tick("score", 3)
    new_keys = new_inputs.column("unique_id").to_numpy()
    # The nodes: new records, and every member of the clusters their pairs reach.
    compute.register("new_keys", pa.table({"key": new_keys}))
    existing = store.arrow("SELECT record_key, cluster_id, match_probability FROM record_clusters")
    compute.register("existing", existing)
    touched = compute.sql(
        """WITH ends AS (SELECT unique_id_l AS key FROM scored
                         UNION SELECT unique_id_r FROM scored),
                reached AS (SELECT DISTINCT x.cluster_id FROM existing x
                            JOIN ends ON ends.key = x.record_key)
           SELECT e.record_key AS key, e.cluster_id FROM existing e
           JOIN reached USING (cluster_id)
           ANTI JOIN new_keys n ON n.key = e.record_key
           ORDER BY e.record_key"""
    ).fetchnumpy()
    keys = np.concatenate([new_keys, touched["key"].astype(np.int64)])
    frozen = np.concatenate(
        [np.full(new_keys.size, -1, dtype=np.int64), touched["cluster_id"].astype(np.int64)]
    )
    source_of = dict(
        zip(
            inputs.column("unique_id").to_pylist(), inputs.column("source").to_pylist(), strict=True
        )
    )
    sources = [source_of[int(k)] for k in keys.tolist()]
    labels = _cluster(store, compute, keys, sources, frozen, policy, report)
    tick("cluster", 4)
    # A new record that joined an existing person takes that person's id.
    cluster_id = _frozen_ids(keys, labels, frozen)
    with store.transaction():
        _delete_keys(store, "record_links", ("a", "b"), new_keys)
        _delete_keys(store, "record_clusters", ("record_key",), keys)
        _write_links(store, compute, model, version, policy)
        store.write_table("record_clusters", _cluster_rows(compute, keys, cluster_id, existing))
    tick("write", 5)


def _frozen_ids(keys: np.ndarray, labels: np.ndarray, frozen: np.ndarray) -> np.ndarray:
    """Cluster ids for the clustered nodes: an existing person's id where there is one."""
    out = keys[labels].copy()
    by_label: dict[int, int] = {}
    for label, kept in zip(labels.tolist(), frozen.tolist(), strict=True):
        if kept >= 0:
            by_label[label] = kept
    for i, label in enumerate(labels.tolist()):
        if label in by_label:
            out[i] = by_label[label]
    return out


def _delete_keys(store: Store, table: str, columns: tuple[str, ...], keys: np.ndarray) -> None:
    values = keys.tolist()
    for start in range(0, len(values), 1000):
        chunk = values[start : start + 1000]
        marks = ", ".join("?" * len(chunk))
        where = " OR ".join(f"{c} IN ({marks})" for c in columns)
        store.execute(f"DELETE FROM {table} WHERE {where}", chunk * len(columns))


def _cluster(
    store: Store,
    compute: duckdb.DuckDBPyConnection,
    keys: np.ndarray,
    sources: list[str],
    frozen: np.ndarray | None,
    policy: LinkagePolicy,
    report: RunReport,
) -> np.ndarray:
    """Cluster the nodes `keys` from the scored pairs among them and the decisions; the label
    of each node is the index of the smallest node of its cluster."""
    compute.register("nodes", pa.table({"key": keys, "node": np.arange(keys.size)}))
    compute.register("decisions", store.arrow("SELECT a, b, decision FROM record_decisions"))
    pairs = compute.sql(
        f"""SELECT na.node AS a, nb.node AS b, s.match_weight AS w,
                  coalesce(s.conflict, FALSE) AS conflict,
                  coalesce(d.decision = '{ACCEPTED}', FALSE) AS accepted,
                  coalesce(d.decision = '{REJECTED}', FALSE) AS rejected
           FROM scored s JOIN nodes na ON na.key = s.unique_id_l
                         JOIN nodes nb ON nb.key = s.unique_id_r
                         LEFT JOIN decisions d ON d.a = s.unique_id_l AND d.b = s.unique_id_r
           UNION ALL
           SELECT na.node, nb.node, 0.0, FALSE, d.decision = '{ACCEPTED}',
                  d.decision = '{REJECTED}'
           FROM decisions d JOIN nodes na ON na.key = d.a JOIN nodes nb ON nb.key = d.b
           WHERE NOT EXISTS (SELECT 1 FROM scored s
                             WHERE s.unique_id_l = d.a AND s.unique_id_r = d.b)"""
    ).fetchnumpy()
    report.pairs_scored = int(compute.sql("SELECT count(*) FROM scored").fetchall()[0][0])
    codes = np.unique(np.asarray(sources), return_inverse=True)[1]
    accepted = np.asarray(pairs["accepted"], dtype=bool)
    rejected = np.asarray(pairs["rejected"], dtype=bool)
    conflict = np.asarray(pairs["conflict"], dtype=bool)
    rules = ClusterRules(
        merge_weight=weight(policy.auto_merge),
        min_average_weight=weight(policy.min_average),
        cannot_link_weight=weight(policy.cannot_link),
        max_per_source=policy.max_records_per_source,
    )
    result = cluster(
        codes,
        pairs["a"].astype(np.int64),
        pairs["b"].astype(np.int64),
        pairs["w"].astype(np.float64),
        rules,
        forced=accepted,
        forbidden=rejected | (conflict & ~accepted),
        frozen=frozen,
    )
    report.refused_merges = result.blocked
    compute.unregister("nodes")
    compute.unregister("decisions")
    return result.labels


def _write_links(
    store: Store,
    compute: duckdb.DuckDBPyConnection,
    model: dict[str, Any],
    version: int,
    policy: LinkagePolicy,
) -> None:
    """Pairs worth keeping: above the review threshold, or decided. Evidence is stored for
    the pairs people look at (review and conflict); explain recomputes it for the others."""
    compute.register("decided", store.arrow("SELECT a, b, decision FROM record_decisions"))
    kept = compute.sql(
        f"""SELECT s.*, d.decision,
                   CASE WHEN d.decision = '{ACCEPTED}' THEN '{ACCEPTED}'
                        WHEN d.decision = '{REJECTED}' THEN '{REJECTED}'
                        WHEN s.conflict THEN '{CONFLICT}'
                        WHEN s.match_probability >= {policy.auto_merge} THEN '{MATCH}'
                        ELSE '{REVIEW}' END AS status
            FROM scored s
            LEFT JOIN decided d ON d.a = s.unique_id_l AND d.b = s.unique_id_r
            WHERE s.match_probability >= {policy.review} OR d.decision IS NOT NULL"""
    )
    table = kept.to_arrow_table()
    compute.unregister("decided")
    status = table.column("status").to_pylist()
    needs = [i for i, s in enumerate(status) if s in (REVIEW, CONFLICT)]
    evidence: list[str | None] = [None] * table.num_rows
    if needs:
        rows = table.take(pa.array(needs, pa.int64())).to_pylist()
        levels = fs.level_labels(model)
        for i, row in zip(needs, rows, strict=True):
            evidence[i] = orjson.dumps(fs.evidence(row, model, levels)).decode()
    links = pa.table(
        {
            "a": table.column("unique_id_l").cast(pa.int64()),
            "b": table.column("unique_id_r").cast(pa.int64()),
            "match_weight": table.column("match_weight").cast(pa.float64()),
            "match_probability": table.column("match_probability").cast(pa.float64()),
            "status": table.column("status"),
            "model_version": pa.array([version] * table.num_rows, pa.int32()),
            "evidence": pa.array(evidence, pa.string()),
        }
    )
    store.write_table("record_links", links)
    # Decided pairs that blocking never scored keep a row, so explanations can find them.
    store.execute(
        """INSERT INTO record_links (a, b, match_weight, match_probability, status, model_version)
           SELECT d.a, d.b, 0, 0, d.decision, ? FROM record_decisions d
           WHERE NOT EXISTS (SELECT 1 FROM record_links l WHERE l.a = d.a AND l.b = d.b)""",
        [version],
    )


def _cluster_rows(
    compute: duckdb.DuckDBPyConnection,
    keys: np.ndarray,
    cluster_id: np.ndarray,
    previous: pa.Table | None = None,
) -> pa.Table:
    """(record_key, cluster_id, match_probability): a record's probability is that of the
    strongest scored pair holding it inside its cluster (empty for a record alone); records
    already published keep theirs unless a new pair is stronger."""
    if previous is None:
        previous = pa.table(
            {
                "record_key": pa.array([], pa.int64()),
                "cluster_id": pa.array([], pa.int64()),
                "match_probability": pa.array([], pa.float64()),
            }
        )
    compute.register("previous", previous)
    compute.register(
        "assigned", pa.table({"record_key": keys.astype(np.int64), "cluster_id": cluster_id})
    )
    table = compute.sql(
        """WITH inside AS (
               SELECT s.unique_id_l AS k, s.unique_id_r AS o, s.match_probability AS p
               FROM scored s
               UNION ALL
               SELECT s.unique_id_r, s.unique_id_l, s.match_probability FROM scored s),
           best AS (
               SELECT i.k, max(i.p) AS p FROM inside i
               JOIN assigned x ON x.record_key = i.k
               JOIN assigned y ON y.record_key = i.o AND x.cluster_id = y.cluster_id
               GROUP BY i.k)
           SELECT a.record_key, a.cluster_id,
                  CASE WHEN v.match_probability IS NULL OR b.p >= v.match_probability THEN b.p
                       ELSE v.match_probability END AS match_probability
           FROM assigned a LEFT JOIN best b ON b.k = a.record_key
           LEFT JOIN previous v ON v.record_key = a.record_key AND v.cluster_id = a.cluster_id
           ORDER BY a.record_key"""
    ).to_arrow_table()
    compute.unregister("assigned")
    compute.unregister("previous")
    return table


def _summarize(store: Store, report: RunReport, policy: LinkagePolicy) -> None:
    counts = dict(store.query("SELECT status, count(*) FROM record_links GROUP BY status"))
    report.links = int(counts.get(MATCH, 0)) + int(counts.get(ACCEPTED, 0))
    report.review = int(counts.get(REVIEW, 0))
    report.conflicts = int(counts.get(CONFLICT, 0))
    clusters, largest = store.query(
        "SELECT count(*), coalesce(max(n), 0) FROM "
        "(SELECT cluster_id, count(*) AS n FROM record_clusters GROUP BY cluster_id) AS c"
    )[0]
    report.clusters, report.largest_cluster = int(clusters), int(largest)
    capped = store.query(
        """SELECT count(DISTINCT c.cluster_id) FROM record_clusters c
           JOIN customer_records r USING (record_key)
           GROUP BY c.cluster_id, r.source HAVING count(*) >= ?""",
        [policy.max_records_per_source],
    )
    report.cluster_size_alarm = {
        "max_records_per_source": policy.max_records_per_source,
        "clusters_at_cap": len(capped),
        "merges_refused_by_cap": report.refused_merges.get("per_source", 0),
        "alarm": report.refused_merges.get("per_source", 0) > 0,
    }


def require_model(store: Store) -> tuple[int, dict[str, Any]]:
    found = latest_model(store)
    if found is None:
        raise NoModelError("no linkage model yet; run `clientcore reconcile run` first")
    return found
