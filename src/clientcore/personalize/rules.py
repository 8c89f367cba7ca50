"""Business rules applied to the ranked candidates, after the model and before anyone sees them.

Never shown: products out of stock, not launched yet, returned by this person, bought by them
(unless the product is repeatable — consumables are re-bought), outside the price range or
below the margin floor, or excluded by the caller (the products of a pickup order, the visit's
own products). Then a diversity pass keeps any one category to a share of the list, unless the
other categories have run out of eligible products. These are invariants, property-tested.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from clientcore.personalize.errors import InvalidRequestError
from clientcore.personalize.rows import member


@dataclass(frozen=True)
class Rules:
    in_stock_only: bool = True
    exclude_bought: bool = True  # non-repeatable products this person bought
    exclude_returned: bool = True
    min_price: float | None = None
    max_price: float | None = None
    min_margin: float | None = None  # (price - unit cost) / price
    max_category_share: float = 0.4  # of the list, at most this share from one category
    exclude: frozenset[int] = field(default_factory=frozenset)  # catalog items never shown

    def __post_init__(self) -> None:
        low, high = self.min_price, self.max_price
        if low is not None and high is not None and low > high:
            raise InvalidRequestError("must not exceed max_price", "min_price")
        if self.min_margin is not None and not -1.0 <= self.min_margin < 1.0:
            raise InvalidRequestError("must be a share between -1 and 1", "min_margin")
        if not 0.0 < self.max_category_share <= 1.0:
            raise InvalidRequestError("must be in (0, 1]", "max_category_share")

    def category_cap(self, k: int) -> int:
        return max(1, math.ceil(self.max_category_share * k))


@dataclass(frozen=True)
class ItemFacts:
    """What the rules need about every catalog item (arrays indexed by item)."""

    in_stock: np.ndarray
    repeatable: np.ndarray
    price: np.ndarray
    margin: np.ndarray
    launched: np.ndarray  # epoch seconds, nan unknown
    category: np.ndarray


def eligible(
    items: np.ndarray,
    facts: ItemFacts,
    rules: Rules,
    bought: np.ndarray,
    returned: np.ndarray,
    now: float,
) -> np.ndarray:
    """A mask over `items`: may each be shown to this person now?"""
    ok = np.ones(len(items), dtype=bool)
    if rules.in_stock_only:
        ok &= facts.in_stock[items]
    launched = facts.launched[items]
    ok &= ~(launched > now)  # nan (unknown) passes
    if rules.exclude_returned and len(returned):
        ok &= ~member(items, returned)
    if rules.exclude_bought and len(bought):
        ok &= ~(member(items, bought) & ~facts.repeatable[items])
    price = facts.price[items]
    if rules.min_price is not None:
        ok &= price >= rules.min_price
    if rules.max_price is not None:
        ok &= price <= rules.max_price
    if rules.min_margin is not None:
        ok &= facts.margin[items] >= rules.min_margin
    if rules.exclude:
        ok &= ~member(items, np.fromiter(rules.exclude, dtype=np.int64))
    return ok


def diversify(ranked: np.ndarray, category: np.ndarray, k: int, cap: int) -> np.ndarray:
    """The first k of `ranked` (best first) with at most `cap` per category; when the other
    categories run out, the best of the rest fill the list. Order of selection is kept."""
    taken: list[int] = []
    counts: dict[int, int] = {}
    skipped: list[int] = []
    for position, item in enumerate(ranked.tolist()):
        if len(taken) == k:
            break
        c = int(category[item])
        if counts.get(c, 0) < cap:
            counts[c] = counts.get(c, 0) + 1
            taken.append(position)
        else:
            skipped.append(position)
    if len(taken) < k:
        taken.extend(skipped[: k - len(taken)])
        taken.sort()
    return ranked[np.array(taken, dtype=np.int64)] if taken else ranked[:0]


def apply_rules(
    ranked: np.ndarray,
    facts: ItemFacts,
    rules: Rules,
    bought: np.ndarray,
    returned: np.ndarray,
    now: float,
    k: int,
) -> np.ndarray:
    """The final list: eligible items of `ranked` (best first), diversified, at most k."""
    shown = ranked[eligible(ranked, facts, rules, bought, returned, now)]
    return diversify(shown, facts.category, k, rules.category_cap(k))
