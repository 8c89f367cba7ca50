"""The incremental path: take the events that arrived since the watermark, update the graph.

The service loads the graph the store holds once, then keeps it in memory; the server calls
`sync` after each group commit, the CLI after an import.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from clientcore.identity.extract import extract, identify
from clientcore.identity.graph import NOT_LINKING, Changes, IncrementalGraph
from clientcore.identity.normalize import Normalizers
from clientcore.identity.service import (
    CHUNK_EVENTS,
    IdentityReport,
    _blocklist,
    _linked_code,
    _linked_name,
    _max_seq,
    _set_watermark,
    _watermark,
    check_rules,
    event_identifiers,
    first_sight_order,
    linking_mask,
    links_table,
    rebuild,
    rules_changed,
)
from clientcore.identity.spec import IdentitySpec
from clientcore.store import Store


class IdentityService:
    def __init__(self, store: Store, spec: IdentitySpec) -> None:
        self.store = store
        self.spec = spec
        self.normalizers = Normalizers(spec.default_region)
        self.limits = {spec.rank(kind): limit for kind, limit in spec.limits().items()}
        check_rules(store, spec)
        self._load()

    def _load(self) -> None:
        rows = self.store.query(
            "SELECT id, type, value, coalesce(profile_id, -1), first_seq FROM identifiers "
            "ORDER BY id"
        )
        self.ids: dict[tuple[str, str], int] = {}
        self.keys: list[tuple[str, str]] = []
        self.first_seq: list[int] = []
        types, profiles = [], []
        for node, kind, value, profile, first in rows:
            if node != len(self.keys):
                raise RuntimeError(
                    "identifier ids are not dense; run `clientcore identity rebuild`"
                )
            self.ids[(kind, value)] = node
            self.keys.append((kind, value))
            self.first_seq.append(int(first))
            types.append(self.spec.rank(kind))
            profiles.append(int(profile))
        reasons = {
            int(node): (_linked_code(self.spec, kind), int(seq))
            for node, kind, seq in self.store.query(
                "SELECT identifier_id, linked_type, since_seq FROM identity_quarantine"
            )
        }
        edges = [
            (int(s), int(a), int(b))
            for a, b, s in self.store.query("SELECT a, b, first_seq FROM identity_links")
        ]
        self.links: set[tuple[int, int]] = {(a, b) for _, a, b in edges}
        self.graph = IncrementalGraph.restore(
            types, self.limits, profiles, reasons, edges, self.spec.not_linking_codes()
        )
        self.blocklist = _blocklist(self.store)
        self.watermark = _watermark(self.store)

    def sync(self, progress: Callable[[int, int], None] | None = None) -> IdentityReport:
        """Bring the identity tables up to the newest stored event."""
        started = time.perf_counter()
        report = IdentityReport()
        upto = _max_seq(self.store)
        start = self.watermark
        while self.watermark < upto:
            end = min(upto, self.watermark + CHUNK_EVENTS)
            self._step(end, report)
            if progress:
                progress(self.watermark - start, upto - start)
        report.events = upto - start
        report.seconds = time.perf_counter() - started
        return report

    def _step(self, end: int, report: IdentityReport) -> None:
        found = identify(
            extract(self.store, self.spec, self.watermark, end), self.spec, self.normalizers
        )
        order = first_sight_order(found.identifiers)
        ids = found.identifiers.take(pa.array(order))
        changes = Changes()
        new_nodes: list[int] = []
        id_of = np.empty(found.identifiers.num_rows, dtype=np.int64)
        for ident, kind, value, first, rank in zip(
            order.tolist(),
            ids.column("type").to_pylist(),
            ids.column("value").to_pylist(),
            ids.column("first_seq").to_pylist(),
            ids.column("type_rank").to_pylist(),
            strict=True,
        ):
            node = self.ids.get((kind, value))
            if node is None:
                node = self.graph.add_identifier(int(rank))
                self.ids[(kind, value)] = node
                self.keys.append((kind, value))
                self.first_seq.append(int(first))
                new_nodes.append(node)
                if (kind, value) in self.blocklist:
                    _absorb(changes, self.graph.block(node, int(first)))
            id_of[ident] = node
        event_ids = event_identifiers(found, id_of, linking_mask(found, self.spec))
        pairs = links_table(found, id_of, len(self.keys))
        found_edges = sorted(
            zip(
                pairs.column("first_seq").to_pylist(),
                pairs.column("a").to_pylist(),
                pairs.column("b").to_pylist(),
                strict=True,
            )
        )
        new_edges = [(s, a, b) for s, a, b in found_edges if (a, b) not in self.links]
        self.links.update((a, b) for _, a, b in new_edges)
        _absorb(changes, self.graph.add_edges(new_edges))
        self._persist(changes, new_nodes, new_edges, event_ids, end)
        silent = self.graph.not_linking
        report.identifiers += sum(1 for n in new_nodes if self.graph.types[n] not in silent)
        report.merges += len(changes.merges)
        report.quarantined += sum(1 for n in changes.touched if _guarded(self.graph.reason(n)))

    def _persist(
        self,
        changes: Changes,
        new_nodes: list[int],
        new_edges: list[tuple[int, int, int]],
        event_ids: pa.Table,
        end: int,
    ) -> None:
        store, graph = self.store, self.graph
        touched = sorted(set(new_nodes) | changes.touched)
        new_set = set(new_nodes)
        profiles = np.array([graph.profile(n) for n in touched], dtype=np.int64)
        reasons = [(n, graph.reason(n)) for n in touched]
        rows = pa.table(
            {
                "id": pa.array(touched, pa.int64()),
                "type": pa.array([self.keys[n][0] for n in touched], pa.string()),
                "value": pa.array([self.keys[n][1] for n in touched], pa.string()),
                "profile_id": pa.array(np.where(profiles < 0, 0, profiles), mask=profiles < 0),
                "first_seq": pa.array([self.first_seq[n] for n in touched], pa.int64()),
                "quarantined": pa.array([reason is not None for _, reason in reasons]),
            }
        )
        quarantine = [(n, r) for n, r in reasons if r is not None and r[0] != NOT_LINKING]
        old = [n for n in touched if n not in new_set]
        with store.transaction():
            for chunk in _chunks(old):
                marks = ", ".join("?" for _ in chunk)
                store.execute(f"DELETE FROM identifiers WHERE id IN ({marks})", chunk)
                store.execute(
                    f"DELETE FROM identity_quarantine WHERE identifier_id IN ({marks})", chunk
                )
            if rows.num_rows:
                store.write_table("identifiers", rows)
            if event_ids.num_rows:
                store.write_table("event_identifiers", event_ids)
            if new_edges:
                store.write_table(
                    "identity_links",
                    pa.table(
                        {
                            "a": pa.array([a for _, a, _ in new_edges], pa.int64()),
                            "b": pa.array([b for _, _, b in new_edges], pa.int64()),
                            "first_seq": pa.array([s for s, _, _ in new_edges], pa.int64()),
                        }
                    ),
                )
            for chunk in _chunks(sorted(changes.dropped_merges)):
                marks = ", ".join("?" for _ in chunk)
                store.execute(
                    f"DELETE FROM identity_merges WHERE identifier_id IN ({marks}) "
                    f"OR linked_identifier_id IN ({marks})",
                    chunk + chunk,
                )
            if changes.merges:
                store.write_table(
                    "identity_merges",
                    pa.table(
                        {
                            "seq": pa.array([m[0] for m in changes.merges], pa.int64()),
                            "identifier_id": pa.array([m[1] for m in changes.merges], pa.int64()),
                            "linked_identifier_id": pa.array(
                                [m[2] for m in changes.merges], pa.int64()
                            ),
                        }
                    ),
                )
            if quarantine:
                store.write_table(
                    "identity_quarantine",
                    pa.table(
                        {
                            "identifier_id": pa.array([n for n, _ in quarantine], pa.int64()),
                            "linked_type": pa.array(
                                [_linked_name(self.spec, r[0]) for _, r in quarantine]
                            ),
                            "since_seq": pa.array([r[1] for _, r in quarantine], pa.int64()),
                        }
                    ),
                )
            _set_watermark(store, end)
        self.watermark = end


def _guarded(reason: tuple[int, int] | None) -> bool:
    """Quarantined by a guardrail (a value that never links is not: no row, not counted)."""
    return reason is not None and reason[0] != NOT_LINKING


def _absorb(total: Changes, step: Changes) -> None:
    total.touched |= step.touched
    total.drop(step.dropped_merges)
    total.merges.extend(step.merges)


def _chunks(items: list[int], size: int = 1000) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def stitch(
    store: Store, spec: IdentitySpec, progress: Callable[[int, int], None] | None = None
) -> IdentityReport:
    """Bring profiles up to date after an import: the batch path for a first load (faster on
    millions of events), the incremental path afterwards. Both give the same tables. Under
    rules changed since the last build, only a rebuild gives the tables those rules define."""
    if _watermark(store) == 0 or rules_changed(store, spec):
        return rebuild(store, spec, progress)
    return IdentityService(store, spec).sync(progress)
