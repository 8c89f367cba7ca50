"""The products the recommender may show, with what the business rules and models need.

A catalog file (`catalog.csv` of the demo retailer, or any CSV with a `product_id` column)
is the authority on stock, repeatability, launch date and unit cost. Products that appear only
in events get their name, category, brand and price from the event payloads (the Segment
e-commerce spec carries them), are assumed in stock, and are called repeatable when many of
their buyers bought them again — so the recommender works before anyone uploads a catalog.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from clientcore.personalize.errors import CatalogError

PRICE_BANDS = 5  # quantiles of log price within each category
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Catalog:
    """Column arrays, one row per product; row numbers are the models' item indexes."""

    product_id: np.ndarray  # str
    name: np.ndarray  # str
    category: np.ndarray  # int32 codes into category_names
    category_names: tuple[str, ...]
    brand: np.ndarray  # int32 codes into brand_names
    brand_names: tuple[str, ...]
    price: np.ndarray  # float64, nan when unknown
    unit_cost: np.ndarray  # float64, nan when unknown
    in_stock: np.ndarray  # bool
    repeatable: np.ndarray  # bool
    launched: np.ndarray  # float64 epoch seconds, nan when unknown

    def __len__(self) -> int:
        return len(self.product_id)

    @property
    def n_categories(self) -> int:
        return len(self.category_names)

    @property
    def n_brands(self) -> int:
        return len(self.brand_names)

    def index(self) -> dict[str, int]:
        return {str(p): i for i, p in enumerate(self.product_id.tolist())}

    def price_band(self) -> np.ndarray:
        """Price quintile of each product within its category (0 cheapest); -1 unknown."""
        band = np.full(len(self), -1, dtype=np.int8)
        logp = np.log(np.where(self.price > 0, self.price, np.nan))
        for c in range(self.n_categories):
            rows = np.flatnonzero((self.category == c) & np.isfinite(logp))
            if rows.size == 0:
                continue
            edges = np.quantile(logp[rows], np.linspace(0, 1, PRICE_BANDS + 1)[1:-1])
            band[rows] = np.searchsorted(edges, logp[rows], side="right")
        return band

    def margin(self) -> np.ndarray:
        """(price - unit cost) / price; nan when either is unknown."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.price > 0, (self.price - self.unit_cost) / self.price, np.nan)

    def describe(self, item: int) -> dict[str, Any]:
        price = float(self.price[item])
        return {
            "product_id": str(self.product_id[item]),
            "name": str(self.name[item]),
            "category": self.category_names[int(self.category[item])],
            "brand": self.brand_names[int(self.brand[item])],
            "price": None if np.isnan(price) else round(price, 2),
        }

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything as numpy arrays, for `np.savez` (names and codes as unicode arrays)."""
        return {
            "product_id": self.product_id.astype(str),
            "name": self.name.astype(str),
            "category": self.category,
            "category_names": np.array(self.category_names, dtype=str),
            "brand": self.brand,
            "brand_names": np.array(self.brand_names, dtype=str),
            "price": self.price,
            "unit_cost": self.unit_cost,
            "in_stock": self.in_stock,
            "repeatable": self.repeatable,
            "launched": self.launched,
        }

    @classmethod
    def from_arrays(cls, a: Any, prefix: str = "") -> Catalog:
        return cls(
            product_id=np.asarray(a[prefix + "product_id"]).astype(object),
            name=np.asarray(a[prefix + "name"]).astype(object),
            category=np.asarray(a[prefix + "category"], dtype=np.int32),
            category_names=tuple(str(x) for x in a[prefix + "category_names"]),
            brand=np.asarray(a[prefix + "brand"], dtype=np.int32),
            brand_names=tuple(str(x) for x in a[prefix + "brand_names"]),
            price=np.asarray(a[prefix + "price"], dtype=np.float64),
            unit_cost=np.asarray(a[prefix + "unit_cost"], dtype=np.float64),
            in_stock=np.asarray(a[prefix + "in_stock"], dtype=bool),
            repeatable=np.asarray(a[prefix + "repeatable"], dtype=bool),
            launched=np.asarray(a[prefix + "launched"], dtype=np.float64),
        )


@dataclass(frozen=True)
class ProductRow:
    """What one source (the catalog file, or the events) says about one product."""

    product_id: str
    name: str | None = None
    category: str | None = None
    brand: str | None = None
    price: float | None = None
    unit_cost: float | None = None
    in_stock: bool | None = None
    repeatable: bool | None = None
    launched: float | None = None


def read_catalog_file(path: Path) -> dict[str, ProductRow]:
    """product_id -> row from a CSV; every column but `product_id` is optional."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as error:
        raise CatalogError(f"cannot read {path}: {error.strerror}", "catalog") from None
    rows: dict[str, ProductRow] = {}
    with handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "product_id" not in reader.fieldnames:
            raise CatalogError(f"{path} has no product_id column", "catalog")
        for number, record in enumerate(reader, start=2):
            pid = (record.get("product_id") or "").strip()
            if not pid:
                continue
            try:
                rows[pid] = ProductRow(
                    product_id=pid,
                    name=record.get("name") or None,
                    category=record.get("category") or None,
                    brand=record.get("brand") or None,
                    price=_number(record.get("price")),
                    unit_cost=_number(record.get("unit_cost")),
                    in_stock=_flag(record.get("in_stock")),
                    repeatable=_flag(record.get("repeatable")),
                    launched=_date(record.get("launched_at")),
                )
            except ValueError as error:
                raise CatalogError(f"{path} line {number}: {error}", "catalog") from None
    return rows


def _number(text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    return float(text)


def _flag(text: str | None) -> bool | None:
    if text is None or not text.strip():
        return None
    value = text.strip().lower()
    if value in ("true", "1", "yes", "y", "t"):
        return True
    if value in ("false", "0", "no", "n", "f"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _date(text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def build_catalog(
    from_file: dict[str, ProductRow],
    from_events: dict[str, ProductRow],
    rebought_share: dict[str, float] | None = None,
) -> Catalog:
    """Merge the two sources (the file wins), products of the file first, then the rest."""
    ids = list(from_file) + sorted(set(from_events) - set(from_file))
    categories: dict[str, int] = {}
    brands: dict[str, int] = {}
    n = len(ids)
    cat = np.zeros(n, dtype=np.int32)
    brand = np.zeros(n, dtype=np.int32)
    price = np.full(n, np.nan)
    cost = np.full(n, np.nan)
    stock = np.ones(n, dtype=bool)
    repeat = np.zeros(n, dtype=bool)
    launched = np.full(n, np.nan)
    names: list[str] = []
    shares = rebought_share or {}
    for i, pid in enumerate(ids):
        a = from_file.get(pid)
        b = from_events.get(pid)

        def pick(attr: str, first: ProductRow | None = a, second: ProductRow | None = b) -> Any:
            value = getattr(first, attr) if first is not None else None
            if value is None and second is not None:
                value = getattr(second, attr)
            return value

        names.append(pick("name") or pid)
        cat[i] = categories.setdefault(pick("category") or UNKNOWN, len(categories))
        brand[i] = brands.setdefault(pick("brand") or UNKNOWN, len(brands))
        price[i] = pick("price") if pick("price") is not None else np.nan
        cost[i] = pick("unit_cost") if pick("unit_cost") is not None else np.nan
        in_stock = pick("in_stock")
        stock[i] = True if in_stock is None else bool(in_stock)
        rep = a.repeatable if a is not None else None
        repeat[i] = rep if rep is not None else shares.get(pid, 0.0) >= REBOUGHT_SHARE
        first_seen = pick("launched")
        launched[i] = np.nan if first_seen is None else first_seen
    return Catalog(
        product_id=np.array(ids, dtype=object),
        name=np.array(names, dtype=object),
        category=cat,
        category_names=tuple(categories),
        brand=brand,
        brand_names=tuple(brands),
        price=price,
        unit_cost=cost,
        in_stock=stock,
        repeatable=repeat,
        launched=launched,
    )


# Without a catalog flag, a product is a consumable when this share of its buyers re-bought it.
REBOUGHT_SHARE = 0.2
