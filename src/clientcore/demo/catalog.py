"""The product catalog: categories, brands, price bands and power-law popularity.

Products are stored grouped by category with a cumulative popularity per category,
so picking millions of products "by taste, then by popularity" is one searchsorted.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from clientcore.demo.config import DAY_MS, Params
from clientcore.demo.names import last_names


@dataclass(frozen=True)
class CategorySpec:
    """A category with its price band, margin, return rate and share of consumables."""

    name: str
    code: str
    share: float  # share of products and of taste mass
    price_median: float
    price_sigma: float
    margin: float  # gross margin at list price
    return_rate: float
    repeatable_share: float  # share of consumables people re-order
    nouns: tuple[str, ...]


CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec("Women's Apparel", "WAP", 0.12, 38, 0.55, 0.58, 0.18, 0.05,
                 ("Dress", "Blouse", "Cardigan", "Jeans", "Skirt", "Tee", "Jacket")),
    CategorySpec("Men's Apparel", "MAP", 0.09, 42, 0.55, 0.56, 0.14, 0.05,
                 ("Chinos", "Oxford Shirt", "Hoodie", "Jeans", "Polo", "Tee", "Parka")),
    CategorySpec("Shoes", "SHO", 0.07, 75, 0.45, 0.50, 0.22, 0.0,
                 ("Sneaker", "Boot", "Loafer", "Sandal", "Running Shoe", "Slipper")),
    CategorySpec("Beauty", "BEA", 0.07, 22, 0.6, 0.60, 0.05, 0.55,
                 ("Serum", "Lipstick", "Moisturizer", "Cleanser", "Mascara", "Palette")),
    CategorySpec("Personal Care", "PCA", 0.05, 9, 0.5, 0.40, 0.02, 0.9,
                 ("Shampoo", "Body Wash", "Toothpaste", "Deodorant", "Razor Refill")),
    CategorySpec("Home Decor", "HDE", 0.07, 45, 0.7, 0.55, 0.08, 0.0,
                 ("Vase", "Throw Pillow", "Frame", "Candle", "Mirror", "Rug", "Lamp")),
    CategorySpec("Kitchen", "KIT", 0.07, 35, 0.8, 0.48, 0.06, 0.1,
                 ("Skillet", "Knife Set", "Blender", "Cutting Board", "Mug Set", "Kettle")),
    CategorySpec("Bed & Bath", "BBA", 0.05, 55, 0.6, 0.52, 0.07, 0.05,
                 ("Sheet Set", "Duvet", "Towel Set", "Bath Mat", "Pillow")),
    CategorySpec("Electronics", "ELE", 0.06, 120, 0.9, 0.22, 0.09, 0.05,
                 ("Headphones", "Speaker", "Charger", "Smartwatch", "Tablet", "Camera")),
    CategorySpec("Toys & Games", "TOY", 0.05, 28, 0.7, 0.42, 0.05, 0.0,
                 ("Puzzle", "Board Game", "Building Set", "Plush", "Doll", "RC Car")),
    CategorySpec("Sports & Outdoors", "SPO", 0.06, 48, 0.8, 0.40, 0.08, 0.05,
                 ("Yoga Mat", "Backpack", "Water Bottle", "Tent", "Dumbbells", "Bike Light")),
    CategorySpec("Pet Supplies", "PET", 0.04, 24, 0.6, 0.35, 0.03, 0.8,
                 ("Dog Food", "Cat Litter", "Chew Toy", "Pet Bed", "Treats")),
    CategorySpec("Grocery & Pantry", "GRO", 0.06, 8, 0.5, 0.28, 0.01, 0.95,
                 ("Coffee", "Olive Oil", "Granola", "Tea", "Pasta", "Snack Mix")),
    CategorySpec("Baby", "BAB", 0.04, 26, 0.6, 0.36, 0.04, 0.7,
                 ("Diapers", "Wipes", "Bottle Set", "Onesie", "Baby Lotion")),
    CategorySpec("Health & Wellness", "HEA", 0.04, 18, 0.5, 0.45, 0.02, 0.85,
                 ("Multivitamin", "Protein Powder", "Fish Oil", "First Aid Kit")),
    CategorySpec("Office & Stationery", "OFF", 0.04, 14, 0.7, 0.50, 0.03, 0.4,
                 ("Notebook", "Pen Set", "Planner", "Desk Organizer", "Printer Paper")),
    CategorySpec("Garden", "GAR", 0.03, 32, 0.8, 0.45, 0.05, 0.25,
                 ("Planter", "Hose", "Seed Kit", "Pruner", "Solar Light")),
    CategorySpec("Jewelry & Accessories", "JEW", 0.03, 60, 0.9, 0.62, 0.12, 0.0,
                 ("Necklace", "Watch", "Scarf", "Handbag", "Sunglasses", "Wallet")),
)  # fmt: skip

_ADJECTIVES = (
    "Classic", "Everyday", "Premium", "Essential", "Signature", "Organic", "Compact",
    "Deluxe", "Pro", "Soft", "Slim", "Eco", "Heritage", "Urban", "Coastal", "Studio",
)  # fmt: skip
_BRAND_SUFFIXES = ("", "", " & Co.", " Goods", " Home", " Labs", " Supply", " Studio")
HOUSE_BRAND = "Larkspur Essentials"


@dataclass(frozen=True)
class Catalog:
    """Products grouped by category (index order), with sampling tables."""

    product_id: list[str]
    sku: list[str]
    name: list[str]
    category: np.ndarray  # category index per product
    brand: list[str]
    price_cents: np.ndarray
    cost_cents: np.ndarray
    return_rate: np.ndarray
    complaint_rate: np.ndarray
    in_stock: np.ndarray
    repeatable: np.ndarray
    launched_ms: np.ndarray
    abnormal: np.ndarray
    popularity: np.ndarray  # within-category share
    cat_start: np.ndarray  # first product of each category
    cat_top: np.ndarray  # most popular product of each category (launched before start)
    category_list: list[int] = field(repr=False)
    _cum: np.ndarray = field(repr=False)  # category + cumulative share within category
    _props: list[dict[str, Any]] = field(repr=False, default_factory=list)
    _fragments: list[orjson.Fragment] = field(repr=False, default_factory=list)

    def __len__(self) -> int:
        return len(self.product_id)

    def sample(self, rng: np.random.Generator, categories: np.ndarray) -> np.ndarray:
        """One product per requested category, by popularity within the category."""
        u = categories + rng.random(len(categories)) * 0.999999
        idx = np.searchsorted(self._cum, u, side="left")
        return np.minimum(idx, len(self) - 1)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_fragments"] = []  # orjson fragments cannot be pickled (worker processes)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["_fragments"] = [orjson.Fragment(orjson.dumps(p)) for p in state["_props"]]
        self.__dict__.update(state)

    def props(self, product: int) -> dict[str, Any]:
        """Segment product properties (shared dict, never mutate)."""
        return self._props[product]

    def props_json(self, product: int) -> orjson.Fragment:
        """The same properties pre-serialized: most events are product views."""
        return self._fragments[product]


def n_products_for(customers: int) -> int:
    """Catalog size: one product per two customers, at least 200, at most 100,000."""
    return int(max(200, min(100_000, customers // 2)))


def build_catalog(rng: np.random.Generator, n_products: int, params: Params) -> Catalog:
    """Products per category proportional to its share; ~2% are abnormal lemons."""
    shares = np.array([c.share for c in CATEGORIES])
    counts = np.maximum(5, np.floor(shares / shares.sum() * n_products)).astype(int)
    counts[0] += n_products - counts.sum()
    category = np.repeat(np.arange(len(CATEGORIES)), counts)
    n = len(category)
    medians = np.array([c.price_median for c in CATEGORIES])[category]
    sigmas = np.array([c.price_sigma for c in CATEGORIES])[category]
    price = np.exp(np.log(medians) + sigmas * rng.standard_normal(n))
    price_cents = (np.maximum(np.round(price), 2.0) * 100 - 1).astype(np.int64)
    margin = np.array([c.margin for c in CATEGORIES])[category]
    margin = np.clip(margin + 0.08 * rng.standard_normal(n), 0.05, 0.85)
    cost_cents = np.round(price_cents * (1.0 - margin)).astype(np.int64)
    base_return = np.array([c.return_rate for c in CATEGORIES])[category]
    return_rate = np.clip(base_return * rng.lognormal(0.0, 0.35, n), 0.0, 0.6)
    complaint_rate = np.clip(0.006 * rng.lognormal(0.0, 0.5, n), 0.0, 0.05)
    abnormal = rng.random(n) < 0.02
    return_rate[abnormal] = rng.uniform(0.3, 0.5, abnormal.sum())
    complaint_rate[abnormal] = rng.uniform(0.12, 0.25, abnormal.sum())
    repeat_share = np.array([c.repeatable_share for c in CATEGORIES])[category]
    repeatable = rng.random(n) < repeat_share
    in_stock = rng.random(n) < 0.93

    popularity = np.empty(n)
    cat_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    cat_top = np.empty(len(CATEGORIES), dtype=np.int64)
    cum = np.empty(n)
    for c, (s, k) in enumerate(zip(cat_start.tolist(), counts.tolist(), strict=True)):
        ranks = rng.permutation(k) + 1.0
        w = ranks**-1.1  # Zipf: a few products dominate each category
        w /= w.sum()
        popularity[s : s + k] = w
        cum[s : s + k] = c + np.cumsum(w) * 0.999999
        cat_top[c] = s + int(np.argmax(w))

    start = params.start_ms
    span = params.end_ms - start
    launched = start - rng.integers(30, 1500, n) * DAY_MS
    new = rng.random(n) < 0.15
    launched[new] = start + (rng.random(new.sum()) * 0.9 * span).astype(np.int64)
    launched[cat_top] = np.minimum(launched[cat_top], start - 90 * DAY_MS)
    launched = (launched // DAY_MS) * DAY_MS

    brands = _brands(rng, category)
    adjectives = rng.integers(len(_ADJECTIVES), size=n).tolist()
    nouns = rng.integers(0, 100, size=n).tolist()
    names: list[str] = []
    skus: list[str] = []
    ids = [f"prd_{i + 1:06d}" for i in range(n)]
    for i, (c, b) in enumerate(zip(category.tolist(), brands, strict=True)):
        spec = CATEGORIES[c]
        names.append(f"{b} {_ADJECTIVES[adjectives[i]]} {spec.nouns[nouns[i] % len(spec.nouns)]}")
        skus.append(f"{spec.code}-{b[:3].upper()}-{i + 1:06d}")
    props = [
        {
            "product_id": ids[i],
            "sku": skus[i],
            "name": names[i],
            "category": CATEGORIES[c].name,
            "brand": brands[i],
            "price": p / 100,
        }
        for i, (c, p) in enumerate(zip(category.tolist(), price_cents.tolist(), strict=True))
    ]
    return Catalog(
        product_id=ids,
        sku=skus,
        name=names,
        category=category,
        brand=brands,
        price_cents=price_cents,
        cost_cents=cost_cents,
        return_rate=return_rate,
        complaint_rate=complaint_rate,
        in_stock=in_stock,
        repeatable=repeatable,
        launched_ms=launched,
        abnormal=abnormal,
        popularity=popularity,
        cat_start=cat_start,
        cat_top=cat_top,
        category_list=category.tolist(),
        _cum=cum,
        _props=props,
        _fragments=[orjson.Fragment(orjson.dumps(p)) for p in props],
    )


def _brands(rng: np.random.Generator, category: np.ndarray) -> list[str]:
    """A handful of brands per category plus a house brand across all of them."""
    surnames = last_names().values[150:]  # rarer surnames make brand-like names
    out: list[str] = []
    per_cat: dict[int, list[str]] = {}
    for c in range(len(CATEGORIES)):
        k = int(rng.integers(6, 16))
        picks = rng.choice(len(surnames), size=k, replace=False)
        suffix = rng.integers(len(_BRAND_SUFFIXES), size=k)
        per_cat[c] = [
            surnames[p] + _BRAND_SUFFIXES[s]
            for p, s in zip(picks.tolist(), suffix.tolist(), strict=True)
        ]
    house = rng.random(len(category)) < 0.12
    brand_pick = rng.random(len(category))
    for i, c in enumerate(category.tolist()):
        options = per_cat[c]
        # Brand popularity is skewed too: the first brands get most products.
        j = int(len(options) * brand_pick[i] ** 1.8)
        out.append(HOUSE_BRAND if house[i] else options[j])
    return out


def write_catalog(catalog: Catalog, path: Path) -> None:
    """``catalog.csv`` with the public product attributes."""
    launched = np.datetime_as_string(catalog.launched_ms.astype("datetime64[ms]"), unit="D")
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(
            [
                "product_id",
                "sku",
                "name",
                "category",
                "brand",
                "price",
                "unit_cost",
                "return_rate",
                "complaint_rate",
                "in_stock",
                "repeatable",
                "launched_at",
            ]
        )
        for i in range(len(catalog)):
            writer.writerow(
                [
                    catalog.product_id[i],
                    catalog.sku[i],
                    catalog.name[i],
                    CATEGORIES[int(catalog.category[i])].name,
                    catalog.brand[i],
                    f"{catalog.price_cents[i] / 100:.2f}",
                    f"{catalog.cost_cents[i] / 100:.2f}",
                    f"{catalog.return_rate[i]:.4f}",
                    f"{catalog.complaint_rate[i]:.4f}",
                    "true" if catalog.in_stock[i] else "false",
                    "true" if catalog.repeatable[i] else "false",
                    launched[i],
                ]
            )
