"""The one step every door goes through: judge raw events, then commit good and bad together."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from clientcore.events.validate import Judgement, Rejection, judge
from clientcore.store import AppendOutcome, ImportCheckpoint, RejectedEvent, Store


@dataclass(frozen=True)
class Prepared:
    """A judged batch, ready for the store: events with their source, and what was refused."""

    events: pa.Table
    rejected: tuple[RejectedEvent, ...]
    rejections: tuple[Rejection, ...] = field(default_factory=tuple)

    @property
    def n_valid(self) -> int:
        return self.events.num_rows


def prepare(
    raws: list[bytes | None],
    source: str,
    origin: str,
    received_at: datetime | None = None,
    trust_payload_received_at: bool = False,
    default_sent_at: str | None = None,
    start_index: int = 0,
) -> Prepared:
    judgement: Judgement = judge(
        raws,
        received_at=received_at,
        trust_payload_received_at=trust_payload_received_at,
        default_sent_at=default_sent_at,
        start_index=start_index,
    )
    return prepared_from(judgement, source, origin)


def prepared_from(judgement: Judgement, source: str, origin: str) -> Prepared:
    """A judged batch with its source attached, as the store appends it."""
    table = judgement.table()
    table = table.add_column(0, "source", pa.array([source] * table.num_rows, pa.string()))
    rejected = tuple(
        RejectedEvent(source, origin, r.index, r.field, r.reason, r.raw) for r in judgement.rejected
    )
    return Prepared(table, rejected, tuple(judgement.rejected))


def commit(
    store: Store, batches: list[Prepared], checkpoint: ImportCheckpoint | None = None
) -> AppendOutcome:
    """Commit several prepared batches as one transaction (group commit)."""
    events = pa.concat_tables([b.events for b in batches]) if batches else None
    rejected = [r for b in batches for r in b.rejected]
    if events is None:
        raise ValueError("nothing to commit")
    return store.append_events(events, rejected, checkpoint)
