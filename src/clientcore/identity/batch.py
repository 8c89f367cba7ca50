"""The rebuild's half of the identity graph: every profile from the whole log at once, in
NumPy and SciPy (definitions in graph.py; the incremental path there must agree).

Three vectorized steps, each costing a few passes over the edges:

* the pairwise quarantine counts, per identifier, its links to each limited type in one table;
* the merges and the components come from `forest.spanning_forest` (Borůvka, no sorting);
* components over a per-profile limit are cut (split.py, in Python, on those few only) and
  only their forest is recomputed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from clientcore.identity.forest import smallest_member, spanning_forest
from clientcore.identity.split import split_component

IntArray = np.ndarray


@dataclass(frozen=True)
class BatchResult:
    profile_of: IntArray  # profile id of each identifier, -1 when quarantined
    quarantined: IntArray  # bool per identifier
    quarantine_type: IntArray  # the type code whose limit was crossed first (-1 when not)
    quarantine_seq: IntArray  # the event at which it was crossed (0 when blocklisted)
    merge_a: IntArray  # merges: the edges that joined two profiles, in input order
    merge_b: IntArray
    merge_seq: IntArray


_SLOTS = 8  # limited types counted at once in one table; more go one type at a time


@dataclass(frozen=True)
class _Slots:
    """Limited types as columns of a count table: a row of _SLOTS counts reads as one uint64
    once compared with the limits, and the last column collects the unlimited types."""

    codes: IntArray  # limited type codes, ascending
    caps: IntArray  # their limits
    node: IntArray  # column of each identifier's type
    row_limit: IntArray  # limit per column (no limit for the last)

    @classmethod
    def of(cls, types: IntArray, limits: dict[int, int]) -> _Slots | None:
        """None when there are too many limited types for one table."""
        codes = np.array(sorted(limits), dtype=np.int64)
        if codes.size >= _SLOTS:
            return None
        caps = np.array([limits[int(code)] for code in codes], dtype=np.int64)
        top = max(int(types.max()) if types.size else 0, int(codes.max()) if codes.size else 0)
        column = np.full(top + 1, _SLOTS - 1, dtype=np.int8)  # small: gathers stay in cache
        column[codes] = np.arange(codes.size)
        row_limit = np.full(_SLOTS, np.iinfo(np.int64).max, dtype=np.int64)
        row_limit[: caps.size] = caps
        return cls(codes, caps, column[types], row_limit)

    def over(self, rows: IntArray, columns: IntArray, n_rows: int) -> IntArray:
        """(n_rows, _SLOTS) bool: which (row, column) counts exceed the column's limit."""
        cells = rows * _SLOTS
        cells += columns
        counts = np.bincount(cells, minlength=n_rows * _SLOTS)
        return counts.reshape(n_rows, _SLOTS) > self.row_limit


def _any_per_row(over: IntArray) -> IntArray:
    return over.view(np.uint64).ravel() != 0


def quarantine(
    n: int,
    types: IntArray,
    a: IntArray,
    b: IntArray,
    first_seq: IntArray,
    limits: dict[int, int],
    exempt: IntArray | None = None,
) -> tuple[IntArray, IntArray, IntArray]:
    """Identifiers linked to more distinct identifiers of a limited type than its limit.

    Returns (flagged, the type whose limit was crossed first, the event where it was crossed):
    the crossing is the (limit + 1)-th link of that type in first-seen order, earliest first,
    ties broken by type — the order the incremental path meets them in. `exempt` identifiers
    (first names, quarantined anyway) are never flagged: their many links are not sorted."""
    flagged = np.zeros(n, dtype=bool)
    crossed_type = np.full(n, -1, dtype=np.int64)
    crossed_seq = np.zeros(n, dtype=np.int64)
    if not limits or a.size == 0:
        return flagged, crossed_type, crossed_seq
    slots = _Slots.of(types, limits)
    if slots is None:
        codes = np.array(sorted(limits), dtype=np.int64)
        caps = np.array([limits[int(code)] for code in codes], dtype=np.int64)
        return _quarantine_by_type(n, types, a, b, first_seq, codes, caps, exempt)
    # One count per (identifier, limited type) over both ends of every edge.
    m = a.size
    src = np.concatenate([a, b])
    column = np.concatenate([slots.node[b], slots.node[a]])
    over = slots.over(src, column, n)
    if exempt is not None:
        over[exempt] = False
    flagged = _any_per_row(over)
    if not flagged.any():
        return flagged, crossed_type, crossed_seq
    # Only the flagged identifiers' links are sorted, to find when each limit was crossed.
    mine = np.flatnonzero(flagged[src])
    mine = mine[over[src[mine], column[mine]]]
    seq = first_seq[np.where(mine < m, mine, mine - m)]
    _crossings(src[mine], column[mine], seq, slots.codes, slots.caps, crossed_type, crossed_seq)
    return flagged, crossed_type, crossed_seq


def _quarantine_by_type(
    n: int,
    types: IntArray,
    a: IntArray,
    b: IntArray,
    first_seq: IntArray,
    codes: IntArray,
    caps: IntArray,
    exempt: IntArray | None = None,
) -> tuple[IntArray, IntArray, IntArray]:
    """`quarantine` one limited type at a time, for specs with many limited types."""
    flagged = np.zeros(n, dtype=bool)
    crossed_type = np.full(n, -1, dtype=np.int64)
    crossed_seq = np.zeros(n, dtype=np.int64)
    src = np.concatenate([a, b])
    dst_type = types[np.concatenate([b, a])]
    seq = np.concatenate([first_seq, first_seq])
    parts: list[tuple[IntArray, IntArray, IntArray]] = []
    for slot, (code, cap) in enumerate(zip(codes.tolist(), caps.tolist(), strict=True)):
        mask = dst_type == code
        over = np.bincount(src[mask], minlength=n) > cap
        if exempt is not None:
            over &= ~exempt
        flagged |= over
        keep = mask & over[src]
        parts.append((src[keep], np.full(int(keep.sum()), slot), seq[keep]))
    if flagged.any():
        nodes, slots, seqs = (np.concatenate(column) for column in zip(*parts, strict=True))
        _crossings(nodes, slots, seqs, codes, caps, crossed_type, crossed_seq)
    return flagged, crossed_type, crossed_seq


def _crossings(
    src: IntArray,
    slot: IntArray,
    seq: IntArray,
    codes: IntArray,
    caps: IntArray,
    crossed_type: IntArray,
    crossed_seq: IntArray,
) -> None:
    """From the links (src, type slot, seq) of identifiers over a limit of that type, record
    per identifier the earliest crossing — the (limit + 1)-th link — ties to the smaller type."""
    span = int(seq.max()) + 1
    if (int(src.max()) + 1) * codes.size * span < 1 << 62:  # one int64 key sorts faster
        order = np.argsort((src * codes.size + slot) * span + seq)
    else:
        order = np.lexsort((seq, slot, src))
    src, slot, seq = src[order], slot[order], seq[order]
    group = src * codes.size + slot
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    when = seq[starts + caps[slot[starts]]]
    nodes, slots = src[starts], slot[starts]
    pick = np.lexsort((slots, when, nodes))
    nodes, slots, when = nodes[pick], slots[pick], when[pick]
    head = np.r_[True, nodes[1:] != nodes[:-1]]
    crossed_type[nodes[head]] = codes[slots[head]]
    crossed_seq[nodes[head]] = when[head]


BLOCKED = -2  # quarantine_type of an identifier a person blocklisted (unmerge)
SPLIT = -3  # quarantine_type of an identifier cut to keep a profile within its limits
NOT_LINKING = -4  # quarantine_type of a value of a rule that never links (a first name)


def batch_profiles(
    types: IntArray,
    a: IntArray,
    b: IntArray,
    first_seq: IntArray,
    limits: dict[int, int],
    blocked: IntArray | None = None,
    not_linking: Collection[int] = (),
) -> BatchResult:
    """Profiles of every identifier from the distinct edges (a < b) of the whole log.

    `blocked` marks identifiers a person blocklisted: quarantined whatever their counts.
    Values of the `not_linking` types are quarantined by construction; their edges count
    for the others' limits all the same. Merges come in the order of the input edges."""
    n = int(types.size)
    silent = np.isin(types, np.fromiter(not_linking, dtype=np.int64)) if not_linking else None
    flagged, qtype, qseq = quarantine(n, types, a, b, first_seq, limits, silent)
    if blocked is not None and blocked.any():
        qtype[blocked] = BLOCKED
        qseq[blocked] = 0
        flagged |= blocked
    tags = _NO_TAGS
    if silent is not None:
        qtype[silent] = NOT_LINKING
        qseq[silent] = 0
        flagged |= silent
        tags = _tags(silent, flagged, a, b)
    live_edge = ~(flagged[a] | flagged[b]) if a.size else np.zeros(0, dtype=bool)
    live = np.flatnonzero(live_edge)
    ka, kb, ks = a[live], b[live], first_seq[live]
    labels, kept = spanning_forest(n, ka, kb, ks)
    cut = _split_over_limits(types, ka, kb, ks, labels, kept, flagged, limits, tags)
    if cut.size:
        qtype[cut] = SPLIT
        qseq[cut] = 0
        flagged[cut] = True
    profile_of = smallest_member(labels)
    profile_of[flagged] = -1
    merged = live[kept]
    return BatchResult(profile_of, flagged, qtype, qseq, a[merged], b[merged], first_seq[merged])


_NO_TAGS = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))


def _tags(
    silent: IntArray, flagged: IntArray, a: IntArray, b: IntArray
) -> tuple[IntArray, IntArray]:
    """(identifier, never-linking value) for every edge between a value of a never-linking
    type (a first name) and an identifier that can still link."""
    a_silent, b_silent = silent[a], silent[b]
    one = np.flatnonzero(a_silent != b_silent)
    node = np.where(a_silent[one], b[one], a[one])
    tag = np.where(a_silent[one], a[one], b[one])
    live = ~flagged[node]
    return node[live], tag[live]


def _tag_counts(
    labels: IntArray, size: int, tags: tuple[IntArray, IntArray]
) -> tuple[IntArray, IntArray]:
    """The distinct (component, tag) pairs of the components carrying two tags or more (one
    tag is within any limit): each such tag once per component.

    Most components carry one name or none, so the smallest and largest tag per component
    find the few others without sorting every tag."""
    node, tag = tags
    if node.size == 0:
        return node, tag
    label = labels[node]
    low = np.full(size, np.iinfo(np.int64).max, dtype=np.int64)
    high = np.full(size, -1, dtype=np.int64)
    np.minimum.at(low, label, tag)
    np.maximum.at(high, label, tag)
    several = np.flatnonzero(high[label] > low[label])
    key = np.unique(label[several] * labels.size + tag[several])
    return key // labels.size, key % labels.size


def _split_over_limits(
    types: IntArray,
    a: IntArray,
    b: IntArray,
    seq: IntArray,
    labels: IntArray,
    kept: IntArray,
    flagged: IntArray,
    limits: dict[int, int],
    tags: tuple[IntArray, IntArray] = _NO_TAGS,
) -> IntArray:
    """Identifiers to quarantine so that no component holds more of a type than its limit,
    nor carries more distinct `tags` (identifier, never-linking value) of a type than its.

    Only the components over a limit are touched: their cut identifiers are returned, and
    `labels` and `kept` (the merges) are rewritten in place for what remains of them."""
    none = np.zeros(0, dtype=np.int64)
    if not limits or labels.size == 0:
        return none
    live = ~flagged
    size = int(labels.max()) + 1
    slots = _Slots.of(types, limits)
    tag_label, tag_value = _tag_counts(labels, size, tags)
    if slots is not None:
        column = np.where(live, slots.node, _SLOTS - 1)
        rows = np.concatenate([labels, tag_label])
        columns = np.concatenate([column, slots.node[tag_value]])
        violating = _any_per_row(slots.over(rows, columns, size))
    else:
        violating = np.zeros(size, dtype=bool)
        for code, limit in limits.items():
            held = np.concatenate(
                [labels[live & (types == code)], tag_label[types[tag_value] == code]]
            )
            violating |= np.bincount(held, minlength=size) > limit
    if not violating.any():
        return none
    in_bad = violating[labels] & live
    edges = np.flatnonzero(in_bad[a])
    edges = edges[np.argsort(labels[a[edges]], kind="stable")]
    nodes = np.flatnonzero(in_bad)
    nodes = nodes[np.argsort(labels[nodes], kind="stable")]
    edge_label, node_label = labels[a[edges]], labels[nodes]
    bad = np.flatnonzero(violating)
    e_lo, e_hi = np.searchsorted(edge_label, bad), np.searchsorted(edge_label, bad, "right")
    n_lo, n_hi = np.searchsorted(node_label, bad), np.searchsorted(node_label, bad, "right")
    type_of = dict(zip(nodes.tolist(), types[nodes].tolist(), strict=True))
    carried: dict[int, list[int]] = {}
    tag_node, tag = tags
    mine = np.flatnonzero(in_bad[tag_node])
    for node, value in zip(tag_node[mine].tolist(), tag[mine].tolist(), strict=True):
        carried.setdefault(node, []).append(value)
        type_of[value] = int(types[value])
    cut: list[int] = []
    for el, eh, nl, nh in zip(
        e_lo.tolist(), e_hi.tolist(), n_lo.tolist(), n_hi.tolist(), strict=True
    ):
        part = edges[el:eh]
        triples = list(zip(seq[part].tolist(), a[part].tolist(), b[part].tolist(), strict=True))
        cut.extend(split_component(nodes[nl:nh].tolist(), triples, type_of, limits, carried))
    cut_nodes = np.array(sorted(cut), dtype=np.int64)
    if cut_nodes.size == 0:
        return cut_nodes
    # What remains of the split components: their own forest, relabelled apart from the rest.
    gone = np.zeros(labels.size, dtype=bool)
    gone[cut_nodes] = True
    keep = edges[~(gone[a[edges]] | gone[b[edges]])]
    members = nodes[~gone[nodes]]
    local = np.full(labels.size, -1, dtype=np.int64)
    local[members] = np.arange(members.size)
    sub_labels, sub_kept = spanning_forest(
        int(members.size), local[a[keep]], local[b[keep]], seq[keep]
    )
    kept[edges] = False
    kept[keep[sub_kept]] = True
    labels[members] = size + sub_labels
    return cut_nodes
