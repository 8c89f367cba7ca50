"""The seam to the store: product interactions out of the event log, as numpy arrays.

One row per (event, product): `Product Viewed` and `Product Added` give one row, `Order
Completed` one row per line of `products[]`, `Product Returned` one row. Each row carries the
profile of its event (through the identity tables, the smallest profile when a guardrail left
an event touching two), its anonymousId (the session key) and its channel. The engine does the
JSON work and the joins; the models only see integer codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from clientcore.personalize.catalog import Catalog, ProductRow
from clientcore.store import Store

VIEW, ADD, BUY, RETURN = 0, 1, 2, 3
KIND_OF_EVENT = {
    "Product Viewed": VIEW,
    "Product Added": ADD,
    "Order Completed": BUY,
    "Product Returned": RETURN,
}
COMMERCE_EVENTS = tuple(KIND_OF_EVENT)
CHANNELS = ("web", "mobile", "store", "call_center", "email", "social", "marketplace", "other")
ANONYMOUS_TYPES = ("anonymous_id", "device_id")

_EVENT_LIST = ", ".join(f"'{name}'" for name in COMMERCE_EVENTS)

_DUCKDB_LINES = f"""
WITH ev AS (
    SELECT seq, timestamp, event, channel, anonymous_id, payload FROM events
    WHERE event IN ({_EVENT_LIST}) AND seq > ?
), single AS (
    SELECT seq, json_extract_string(payload, '$.properties.product_id') AS product_id,
           coalesce(TRY_CAST(json_extract_string(payload, '$.properties.quantity') AS DOUBLE),
                    1.0) AS quantity
    FROM ev WHERE event <> 'Order Completed'
), lines AS (
    SELECT seq, unnest(from_json(json_extract(payload, '$.properties.products'),
                       '[{{"product_id": "VARCHAR", "quantity": "DOUBLE"}}]'), recursive := true)
    FROM ev WHERE event = 'Order Completed'
), prof AS (
    SELECT ei.seq, min(i.profile_id) AS profile_id
    FROM event_identifiers ei JOIN identifiers i ON i.id = ei.identifier_id
    WHERE NOT i.quarantined AND i.profile_id IS NOT NULL AND ei.seq > ?
    GROUP BY ei.seq
)
SELECT ev.seq, epoch(ev.timestamp) AS t, ev.event, ev.channel, ev.anonymous_id,
       coalesce(p.profile_id, -1) AS profile_id, x.product_id,
       coalesce(x.quantity, 1.0) AS quantity
FROM ev JOIN (SELECT seq, product_id, quantity FROM single
              UNION ALL SELECT seq, product_id, quantity FROM lines) x USING (seq)
LEFT JOIN prof p USING (seq)
WHERE x.product_id IS NOT NULL
ORDER BY ev.seq
"""

_POSTGRES_LINES = f"""
WITH ev AS (
    SELECT seq, timestamp, event, channel, anonymous_id, payload FROM events
    WHERE event IN ({_EVENT_LIST}) AND seq > ?
), x AS (
    SELECT seq, payload->'properties'->>'product_id' AS product_id,
           CASE WHEN jsonb_typeof(payload->'properties'->'quantity') = 'number'
                THEN (payload->'properties'->>'quantity')::float8 ELSE 1.0 END AS quantity
    FROM ev WHERE event <> 'Order Completed'
    UNION ALL
    SELECT seq, line->>'product_id',
           CASE WHEN jsonb_typeof(line->'quantity') = 'number'
                THEN (line->>'quantity')::float8 ELSE 1.0 END
    FROM ev CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(payload->'properties'->'products') = 'array'
             THEN payload->'properties'->'products' ELSE '[]'::jsonb END) AS line
    WHERE event = 'Order Completed'
), prof AS (
    SELECT ei.seq, min(i.profile_id) AS profile_id
    FROM event_identifiers ei JOIN identifiers i ON i.id = ei.identifier_id
    WHERE NOT i.quarantined AND i.profile_id IS NOT NULL AND ei.seq > ?
    GROUP BY ei.seq
)
SELECT ev.seq, extract(epoch FROM ev.timestamp)::float8 AS t, ev.event, ev.channel,
       ev.anonymous_id, coalesce(p.profile_id, -1) AS profile_id, x.product_id, x.quantity
FROM ev JOIN x USING (seq) LEFT JOIN prof p USING (seq)
WHERE x.product_id IS NOT NULL
ORDER BY ev.seq
"""

# What the events say about each product: the latest name, category, brand and price, and
# when it was first seen (its launch, for a catalog that does not say).
_DUCKDB_PRODUCTS = f"""
WITH ev AS (
    SELECT seq, timestamp, event, payload FROM events WHERE event IN ({_EVENT_LIST})
), attrs AS (
    SELECT seq, timestamp, json_extract_string(payload, '$.properties.product_id') AS pid,
           json_extract_string(payload, '$.properties.name') AS name,
           json_extract_string(payload, '$.properties.category') AS category,
           json_extract_string(payload, '$.properties.brand') AS brand,
           TRY_CAST(json_extract_string(payload, '$.properties.price') AS DOUBLE) AS price
    FROM ev WHERE event IN ('Product Viewed', 'Product Added')
    UNION ALL
    SELECT seq, timestamp, l.product_id, l.name, l.category, l.brand, l.price
    FROM (SELECT seq, timestamp, unnest(from_json(json_extract(payload, '$.properties.products'),
            '[{{"product_id": "VARCHAR", "name": "VARCHAR", "category": "VARCHAR",
               "brand": "VARCHAR", "price": "DOUBLE"}}]')) AS l
          FROM ev WHERE event = 'Order Completed')
)
SELECT pid, arg_max(name, seq), arg_max(category, seq), arg_max(brand, seq),
       arg_max(price, seq), epoch(min(timestamp))
FROM attrs WHERE pid IS NOT NULL GROUP BY pid
"""

_POSTGRES_PRODUCTS = f"""
WITH ev AS (
    SELECT seq, timestamp, event, payload FROM events WHERE event IN ({_EVENT_LIST})
), attrs AS (
    SELECT seq, timestamp, payload->'properties' AS p FROM ev
    WHERE event IN ('Product Viewed', 'Product Added')
    UNION ALL
    SELECT seq, timestamp, line FROM ev CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(payload->'properties'->'products') = 'array'
             THEN payload->'properties'->'products' ELSE '[]'::jsonb END) AS line
    WHERE event = 'Order Completed'
)
SELECT DISTINCT ON (p->>'product_id') p->>'product_id', p->>'name', p->>'category',
       p->>'brand',
       CASE WHEN jsonb_typeof(p->'price') = 'number' THEN (p->>'price')::float8 END,
       extract(epoch FROM min(timestamp) OVER (PARTITION BY p->>'product_id'))::float8
FROM attrs WHERE p->>'product_id' IS NOT NULL
ORDER BY p->>'product_id', seq DESC
"""

_KNOWN = """SELECT DISTINCT profile_id FROM identifiers
    WHERE type NOT IN ('anonymous_id', 'device_id') AND NOT quarantined
      AND profile_id IS NOT NULL"""


@dataclass(frozen=True)
class Interactions:
    """Product interactions in seq order; `item` indexes the catalog, `anon` anon_ids."""

    seq: np.ndarray  # int64
    t: np.ndarray  # float64 epoch seconds
    kind: np.ndarray  # int8: VIEW, ADD, BUY, RETURN
    channel: np.ndarray  # int8 into CHANNELS (unknown channels are "other")
    profile: np.ndarray  # int64 profile id, -1 when the event has none
    anon: np.ndarray  # int64 into anon_ids, -1 without an anonymousId
    item: np.ndarray  # int32 into the catalog
    qty: np.ndarray  # float32
    anon_ids: np.ndarray  # str
    known_profiles: np.ndarray  # sorted int64: profiles with a non-anonymous identifier

    def __len__(self) -> int:
        return len(self.seq)

    def take(self, mask: np.ndarray) -> Interactions:
        """The rows where `mask` holds (vocabularies shared)."""
        return Interactions(
            self.seq[mask],
            self.t[mask],
            self.kind[mask],
            self.channel[mask],
            self.profile[mask],
            self.anon[mask],
            self.item[mask],
            self.qty[mask],
            self.anon_ids,
            self.known_profiles,
        )

    def before(self, t: float) -> Interactions:
        return self.take(self.t < t)

    @property
    def max_seq(self) -> int:
        return int(self.seq.max()) if len(self.seq) else 0

    def is_known(self, profiles: np.ndarray) -> np.ndarray:
        if not len(self.known_profiles):
            return np.zeros(len(profiles), dtype=bool)
        where = np.searchsorted(self.known_profiles, profiles).clip(0, len(self.known_profiles) - 1)
        return self.known_profiles[where] == profiles


def event_products(store: Store) -> dict[str, ProductRow]:
    """What the event payloads say about each product (latest wins)."""
    sql = _DUCKDB_PRODUCTS if store.backend == "duckdb" else _POSTGRES_PRODUCTS
    rows: dict[str, ProductRow] = {}
    for pid, name, category, brand, price, first in store.query(sql):
        rows[str(pid)] = ProductRow(
            product_id=str(pid),
            name=name,
            category=category,
            brand=brand,
            price=None if price is None else float(price),
            launched=None if first is None else float(first),
        )
    return rows


def read_interactions(store: Store, catalog: Catalog, since_seq: int = 0) -> Interactions:
    """Every product interaction after `since_seq`; products outside the catalog are dropped."""
    sql = _DUCKDB_LINES if store.backend == "duckdb" else _POSTGRES_LINES
    table = store.arrow(sql, [since_seq, since_seq])
    return interactions_from_arrow(table, catalog, known_profiles(store))


def known_profiles(store: Store) -> np.ndarray:
    return np.sort(np.array([int(r[0]) for r in store.query(_KNOWN)], dtype=np.int64))


def interactions_from_arrow(table: pa.Table, catalog: Catalog, known: np.ndarray) -> Interactions:
    """Integer codes for products, events, channels and anonymousIds."""
    vocabulary = pa.array(catalog.product_id.astype(str).tolist(), pa.string())
    item = pc.index_in(table.column("product_id"), value_set=vocabulary)
    keep = pc.is_valid(item)
    table = table.filter(keep)
    item = pc.index_in(table.column("product_id"), value_set=vocabulary)
    kind = _codes(table.column("event"), list(COMMERCE_EVENTS), default=VIEW)
    channel = _codes(table.column("channel"), list(CHANNELS), default=CHANNELS.index("other"))
    anon_col = pc.dictionary_encode(table.column("anonymous_id").combine_chunks())
    anon = anon_col.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    anon_ids = np.array(anon_col.dictionary.to_pylist(), dtype=object)
    return Interactions(
        seq=_np(table, "seq", np.int64),
        t=_np(table, "t", np.float64),
        kind=kind.astype(np.int8),
        channel=channel.astype(np.int8),
        profile=_np(table, "profile_id", np.int64),
        anon=anon,
        item=item.to_numpy(zero_copy_only=False).astype(np.int32),
        qty=_np(table, "quantity", np.float32),
        anon_ids=anon_ids,
        known_profiles=known,
    )


def _np(table: pa.Table, name: str, dtype: Any) -> np.ndarray:
    return np.asarray(table.column(name).to_numpy(), dtype=dtype)


def _codes(column: Any, names: list[str], default: int) -> np.ndarray:
    codes = pc.index_in(column, value_set=pa.array(names, pa.string()))
    return codes.fill_null(default).to_numpy(zero_copy_only=False)


def rebought_share(data: Interactions) -> np.ndarray:
    """Per catalog item: the share of its buyers (with a profile) who bought it in 2+ orders."""
    buys = (data.kind == BUY) & (data.profile >= 0)
    if not buys.any():
        return np.zeros(0)
    pairs = np.unique(np.stack([data.item[buys], data.profile[buys], data.seq[buys]]), axis=1)
    person_item = pairs[0].astype(np.int64) * (1 << 40) + pairs[1]
    _, orders = np.unique(person_item, return_counts=True)
    items = np.unique(person_item) >> 40
    size = int(data.item.max()) + 1
    buyers = np.bincount(items, minlength=size).astype(float)
    again = np.bincount(items[orders >= 2], minlength=size).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(buyers >= 3, again / np.maximum(buyers, 1), 0.0)
