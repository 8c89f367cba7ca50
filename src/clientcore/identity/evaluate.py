"""How good is the identity graph? Pairwise precision and recall against a ground truth.

Exceptions::

    TruthFileError      the truth directory has no identifiers.csv, or it lacks columns

Over the identifiers that are in the truth and in the store: a predicted pair is two of them in
the same profile, a true pair two of them owned by the same person. Pair counts come from the
profile x person contingency table (sum of n choose 2 over its cells, rows and columns), never
from listing pairs, so a million profiles cost one hash join and a few group-bys in Arrow.

Shared "trap" identifiers (a family e-mail, a store's phone at the till, `shared_identifiers.csv`)
belong to nobody: they are left out of the pairs and reported as quarantined or not. A truth
identifier the graph quarantined stands alone (its own cluster), which costs recall; it does
not make its owner a split person, which counts people spread over more than one profile.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from clientcore.identity.service import linking_only
from clientcore.identity.spec import IdentitySpec, load_spec
from clientcore.store import Store

_SEP = "\x1f"
LISTED = 20  # collapsed profiles listed in full
_PERSON_COLUMNS = ("person_id", "first_name", "last_name", "birth_date")
_TEXT = {c: pa.string() for c in ("type", "value", *_PERSON_COLUMNS)}


class TruthFileError(ValueError):
    """The truth directory cannot be read as type,value,person_id rows."""


@dataclass(frozen=True)
class CollapsedCluster:
    """One profile holding identifiers of several people, and what joined them."""

    profile_id: int
    people: list[dict[str, str]]  # person_id (+ first_name, last_name, birth_date if known)
    shared: list[dict[str, str]]  # trap identifiers in the profile: {type, value}
    namesakes: bool | None  # all its people share a first name (None: names unknown)


@dataclass(frozen=True)
class IdentityEvaluation:
    precision: float
    recall: float
    f1: float
    recall_all_pairs: float  # against every pair of a person's identifiers, linkable or not
    linkable_pairs: int  # pairs the event log shows together (the recall's denominator)
    collapsed_clusters: int  # profiles holding identifiers of more than one person
    split_people: int  # people whose linkable identifiers are in more than one profile
    split_people_all: int  # people whose identifiers, linkable or not, are in several
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    identifiers_evaluated: int  # in the truth and in the store (traps excluded)
    identifiers_unseen: int  # in the truth, never seen by the store
    identifiers_quarantined: int  # in the truth, quarantined by the graph
    identifiers_unknown: int  # in the store, in no truth file
    profiles: int
    people: int
    shared_identifiers: int
    shared_quarantined: int
    shared_linked: int  # traps the graph used to link (not quarantined)
    shared_unseen: int
    collapsed_namesakes: int | None  # collapsed profiles of people of one first name
    collapsed: list[CollapsedCluster]  # the largest collapsed profiles, up to LISTED

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def truth_files(truth_dir: Path) -> tuple[Path, Path | None]:
    """identifiers.csv (and shared_identifiers.csv) in `truth_dir/truth/` or `truth_dir/`."""
    for folder in (truth_dir / "truth", truth_dir):
        path = folder / "identifiers.csv"
        if path.is_file():
            shared = folder / "shared_identifiers.csv"
            return path, shared if shared.is_file() else None
    raise TruthFileError(f"no identifiers.csv in {truth_dir} or {truth_dir / 'truth'}")


def _people(identifiers_path: Path, wanted: set[str]) -> dict[str, dict[str, str]]:
    """Names and birth dates of some people, from customers.csv beside identifiers.csv.

    Optional: a retailer's own truth may have no such file, or not these columns."""
    path = identifiers_path.parent / "customers.csv"
    if not wanted or not path.is_file():
        return {}
    try:
        table = _read(path, _PERSON_COLUMNS)
    except TruthFileError:
        return {}
    table = table.filter(pc.is_in(table["person_id"], value_set=pa.array(sorted(wanted))))
    return {row["person_id"]: {k: v or "" for k, v in row.items()} for row in table.to_pylist()}


def _read(path: Path, columns: tuple[str, ...]) -> pa.Table:
    try:
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types={c: _TEXT[c] for c in columns}, include_columns=list(columns)
            ),
        )
    except (pa.ArrowInvalid, KeyError) as error:
        raise TruthFileError(f"{path}: needs columns {', '.join(columns)} ({error})") from None
    return table


def _key(table: pa.Table) -> pa.Array:
    """type and value as one string, for set membership."""
    joined = pc.binary_join_element_wise(table["type"], table["value"], _SEP)
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


def _stored(store: Store, spec: IdentitySpec) -> pa.Table:
    """The identifiers of the rules that link (a first name is in nobody's truth)."""
    where, silent = linking_only(spec)
    table = store.arrow(
        f"SELECT id, type, value, profile_id, quarantined FROM identifiers{where}", silent
    )
    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("type", pa.string()),
            ("value", pa.string()),
            ("profile_id", pa.int64()),
            ("quarantined", pa.bool_()),
        ]
    )
    if table.num_rows == 0:
        return schema.empty_table()
    return pa.table({f.name: table[f.name].cast(f.type) for f in schema})


def _pairs(counts: np.ndarray) -> int:
    counts = counts.astype(np.int64)
    return int(np.sum(counts * (counts - 1) // 2))


def _codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Dense integer codes of a string column (one dictionary over all its chunks), and the
    dictionary."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = pc.dictionary_encode(column)
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return codes, encoded.dictionary


def evaluate(store: Store, truth_dir: Path, spec: IdentitySpec | None = None) -> IdentityEvaluation:
    """Pairwise precision, recall and F1 of the store's profiles against the truth."""
    identifiers_path, shared_path = truth_files(truth_dir)
    truth = _read(identifiers_path, ("type", "value", "person_id"))
    shared = _read(shared_path, ("type", "value")) if shared_path else None
    stored = _stored(store, spec or load_spec())
    traps = pc.unique(_key(shared)) if shared is not None else pa.array([], pa.string())
    named = pc.unique(pa.concat_arrays([_key(truth), traps]))
    truth = truth.filter(pc.invert(pc.is_in(_key(truth), value_set=traps)))

    joined = truth.join(stored, keys=["type", "value"], join_type="inner")
    in_profile = np.asarray(pc.is_valid(joined["profile_id"]).to_numpy(zero_copy_only=False))
    profile = np.asarray(pc.fill_null(joined["profile_id"], 0).to_numpy(), dtype=np.int64)
    # An identifier outside every profile (quarantined) is a cluster of its own; negative ids
    # never clash with profile ids.
    cluster = profile.copy()
    cluster[~in_profile] = -1 - np.arange(int((~in_profile).sum()), dtype=np.int64)
    person, person_ids = _codes(joined["person_id"])

    cells = _contingency(cluster, person)
    correct = _pairs(cells["n"].to_numpy())
    predicted = _pairs(np.unique(cluster, return_counts=True)[1])
    true = _pairs(np.unique(person, return_counts=True)[1])
    precision = correct / predicted if predicted else 1.0
    recall_all = correct / true if true else 1.0
    # Deterministic links: two identifiers of a person are linkable when the log shows them
    # together, directly or through that person's own identifiers. Recall is measured on
    # those pairs; an identifier the person never used alongside another cannot be linked by
    # any deterministic method, and is reported in `recall_all_pairs` instead.
    evidence = _evidence_components(store, joined["id"].to_numpy(), person)
    linkable = _pairs(np.unique(evidence, return_counts=True)[1])
    linked = _pairs(_contingency(cluster, evidence)["n"].to_numpy())
    recall = linked / linkable if linkable else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    real = cells.filter(pc.greater_equal(cells["cluster"], 0))  # cells of real profiles
    per_profile = real.group_by("cluster").aggregate([("person", "count")])
    per_person = real.group_by("person").aggregate([("cluster", "count")])
    collapsed = _collapsed(real, per_profile, person_ids, stored, traps, identifiers_path)

    return IdentityEvaluation(
        precision=precision,
        recall=recall,
        f1=f1,
        recall_all_pairs=recall_all,
        linkable_pairs=linkable,
        collapsed_clusters=_more_than_one(per_profile["person_count"]),
        split_people=_split_on_evidence(cluster, evidence, person),
        split_people_all=_more_than_one(per_person["cluster_count"]),
        true_pairs=true,
        predicted_pairs=predicted,
        correct_pairs=correct,
        identifiers_evaluated=joined.num_rows,
        identifiers_unseen=truth.num_rows - joined.num_rows,
        identifiers_quarantined=int((~in_profile).sum()),
        identifiers_unknown=stored.num_rows - _count(pc.is_in(_key(stored), value_set=named)),
        profiles=int(np.unique(cluster[in_profile]).size),
        people=int(np.unique(person).size),
        **_shared_counts(stored, traps if shared is not None else None),
        **collapsed,
    )


def _collapsed(
    cells: pa.Table,
    per_profile: pa.Table,
    person_ids: pa.Array,
    stored: pa.Table,
    traps: pa.Array,
    identifiers_path: Path,
) -> dict[str, Any]:
    """The collapsed profiles: how many join namesakes, and the largest in full."""
    many = per_profile.filter(pc.greater(per_profile["person_count"], 1))
    if many.num_rows == 0:
        return {"collapsed_namesakes": 0, "collapsed": []}
    held = cells.filter(pc.is_in(cells["cluster"], value_set=many["cluster"]))
    members: dict[int, list[str]] = {}
    for cluster, person in zip(
        held["cluster"].to_pylist(), held["person"].to_pylist(), strict=True
    ):
        members.setdefault(cluster, []).append(person_ids[person].as_py())
    people = _people(identifiers_path, {p for group in members.values() for p in group})

    def namesakes(group: list[str]) -> bool | None:
        if not all(people.get(p, {}).get("first_name") for p in group):
            return None
        return len({people[p]["first_name"].casefold() for p in group}) == 1

    listed = sorted(members, key=lambda c: (-len(members[c]), c))[:LISTED]
    inside = stored.filter(
        pc.and_(
            pc.is_in(stored["profile_id"], value_set=pa.array(listed, pa.int64())),
            pc.is_in(_key(stored), value_set=traps),
        )
    )
    shared: dict[int, list[dict[str, str]]] = {}
    for row in inside.sort_by([("type", "ascending"), ("value", "ascending")]).to_pylist():
        shared.setdefault(row["profile_id"], []).append(
            {"type": row["type"], "value": row["value"]}
        )
    kinds = [namesakes(group) for group in members.values()]
    return {
        "collapsed_namesakes": None if None in kinds else sum(kinds),
        "collapsed": [
            CollapsedCluster(
                profile_id=cluster,
                people=[people.get(p, {"person_id": p}) for p in sorted(members[cluster])],
                shared=shared.get(cluster, []),
                namesakes=namesakes(members[cluster]),
            )
            for cluster in listed
        ],
    }


def _split_on_evidence(cluster: np.ndarray, evidence: np.ndarray, person: np.ndarray) -> int:
    """People with an evidence component spread over more than one profile (quarantined
    identifiers are in no profile, so they split nobody)."""
    real = cluster >= 0
    if not real.any():
        return 0
    pairs = np.unique(np.stack([evidence[real], cluster[real]]), axis=1)
    components, spread = np.unique(pairs[0], return_counts=True)
    split = set(components[spread > 1].tolist())
    return len(
        {int(p) for e, p in zip(evidence.tolist(), person.tolist(), strict=True) if e in split}
    )


def _evidence_components(store: Store, ids: np.ndarray, person: np.ndarray) -> np.ndarray:
    """Per evaluated identifier, its component over links between identifiers of one person."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    ids = np.asarray(ids, dtype=np.int64)
    if ids.size == 0:
        return np.zeros(0, dtype=np.int64)
    links = store.arrow("SELECT a, b FROM identity_links")
    n = int(ids.max()) + 1
    owner = np.full(n, -1, dtype=np.int64)
    owner[ids] = person
    a = (
        np.asarray(links["a"].to_numpy(), dtype=np.int64)
        if links.num_rows
        else np.zeros(0, np.int64)
    )
    b = (
        np.asarray(links["b"].to_numpy(), dtype=np.int64)
        if links.num_rows
        else np.zeros(0, np.int64)
    )
    inside = (a < n) & (b < n)
    a, b = a[inside], b[inside]
    same = (owner[a] >= 0) & (owner[a] == owner[b])
    graph = coo_matrix((np.ones(int(same.sum())), (a[same], b[same])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels[ids], dtype=np.int64)


def _count(mask: pa.Array | pa.ChunkedArray) -> int:
    return int(pc.sum(mask).as_py() or 0)


def _more_than_one(counts: pa.ChunkedArray) -> int:
    return _count(pc.greater(counts, 1))


def _contingency(cluster: np.ndarray, person: np.ndarray) -> pa.Table:
    """The non-empty cells of the cluster x person table: (cluster, person, n)."""
    table = pa.table({"cluster": pa.array(cluster, pa.int64()), "person": pa.array(person)})
    cells = table.group_by(["cluster", "person"]).aggregate([([], "count_all")])
    return cells.rename_columns({"count_all": "n"})


def _shared_counts(stored: pa.Table, traps: pa.Array | None) -> dict[str, int]:
    """Trap identifiers: how many the graph quarantined, used to link, or never saw."""
    if traps is None or len(traps) == 0:
        return dict.fromkeys(
            ("shared_identifiers", "shared_quarantined", "shared_linked", "shared_unseen"), 0
        )
    held = stored.filter(pc.is_in(_key(stored), value_set=traps))
    linked = _count(pc.is_valid(held["profile_id"]))
    return {
        "shared_identifiers": len(traps),
        "shared_quarantined": held.num_rows - linked,
        "shared_linked": linked,
        "shared_unseen": len(traps) - held.num_rows,
    }
