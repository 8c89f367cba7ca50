"""Why each product is on the list, in words a shopper (and a merchandiser) understands.

The reason is the signal that holds the item up the most: for each signal (co-occurrence with
what you bought, with what you viewed, this visit, buy again, your categories, brands, taste,
new products, popularity) the ranker scores the item again with that signal's features taken
away (occlusion), and the personal signal whose absence costs the most wins — popularity only
when no personal signal helps. One extra batch through the ranker for the whole list: exact
SHAP (LightGBM's `pred_contrib`) gives the same kind of answer ten times slower. Signals tied to
a product of the context name it: the context item contributing most to the co-occurrence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from clientcore.personalize.candidates import NEW_DAYS
from clientcore.personalize.data import CHANNELS
from clientcore.personalize.features import FEATURES, F, Scored
from clientcore.personalize.rows import Rows

SIGNAL_OF: dict[str, str] = {
    "cooc_bought_with": "bought_with",
    "cooc_viewed_with": "viewed_with",
    "cooc_cosine": "viewed_with",
    "cooc_session": "this_visit",
    "session_knn": "this_visit",
    "in_session": "this_visit",
    "category_session": "this_visit",
    "catpop_session": "this_visit",
    "bought_count": "buy_again",
    "days_since_bought": "buy_again",
    "repeatable": "buy_again",
    "viewed_count": "viewed_before",
    "days_since_viewed": "viewed_before",
    "als": "taste",
    "category_history": "category",
    "catpop_history": "category",
    "price_gap": "category",
    "band_affinity": "category",
    "brand_affinity": "brand",
    "new_attribute_score": "new",
    "item_age_days": "new",
    "pop_overall": "popular",
    "pop_bought": "popular",
    "pop_channel": "popular",
    "pop_in_category": "popular",
    "trend": "popular",
}
_SIGNALS = sorted(set(SIGNAL_OF.values()))
_GROUPS = [np.array([F[n] for n, sig in SIGNAL_OF.items() if sig == s]) for s in _SIGNALS]
# Popularity is never the reason a drop names, so the ranker does not score its occlusion.
_PERSONAL = np.array([g for g, s in enumerate(_SIGNALS) if s != "popular"])
_PERSONAL_GROUPS = [_GROUPS[g] for g in _PERSONAL]
_OCCLUDE = np.zeros((len(_PERSONAL), len(FEATURES)), dtype=bool)  # the columns each hides
for _g, _columns in enumerate(_PERSONAL_GROUPS):
    _OCCLUDE[_g, _columns] = True
# What "absent" looks like for each feature: no score, no count; unknown recency.
_ABSENT = np.array(
    [np.nan if name.startswith("days_since") else 0.0 for name in FEATURES], dtype=np.float32
)


# Concrete reasons ("you bought it", "you are looking at X") beat vaguer ones that helped a
# little more: a concrete signal wins when it carries at least this share of the best one.
CONCRETE = ("buy_again", "this_visit", "bought_with", "viewed_with", "viewed_before")
CONCRETE_SHARE = 0.25
_CONCRETE = np.array([_SIGNALS.index(s) for s in CONCRETE])


def signals(
    features: np.ndarray, base: np.ndarray, predict: Callable[[np.ndarray], np.ndarray]
) -> list[str]:
    """The winning signal of each row (whose ranker score is `base`): the personal signal
    whose removal lowers the score most (a concrete one when it comes close), when one does;
    popularity otherwise."""
    n, groups = len(features), len(_PERSONAL)
    if n == 0:
        return []
    occluded = np.where(_OCCLUDE[:, None, :], _ABSENT[None, None, :], features[None, :, :])
    same = (occluded == features) | (np.isnan(occluded) & np.isnan(features))
    changed = ~same.all(axis=2)
    # A row the occlusion leaves as it was scores as it did: its drop is 0, unscored.
    personal = np.zeros((groups, n))
    if changed.any():
        personal[changed] = base[np.nonzero(changed)[1]] - predict(occluded[changed])
    drop = np.full((len(_SIGNALS), n), -np.inf)  # popularity never wins on its own drop
    drop[_PERSONAL] = personal
    best = np.argmax(drop, axis=0)
    top = drop[best, np.arange(n)]
    close = drop[_CONCRETE] >= CONCRETE_SHARE * top  # concrete signals near the best, in order
    first = np.argmax(close, axis=0)
    return [
        "popular" if t <= 0 else CONCRETE[f] if near else _SIGNALS[b]
        for b, t, f, near in zip(
            best.tolist(), top.tolist(), first.tolist(), close.any(axis=0).tolist(), strict=True
        )
    ]


def explain(
    signal: str,
    item: int,
    scored: Scored,
    conditional: Rows,
    describe: Any,
    features: np.ndarray,
    channel: int,
) -> dict[str, Any]:
    """{code, text, product_id?} for one recommended item."""
    f = _Named(features)
    category = describe(item)["category"]
    if signal in ("bought_with", "viewed_with", "this_visit"):
        anchor = _anchor(signal, item, scored, conditional)
        if anchor is not None:
            name = describe(anchor)["name"]
            anchor_id = describe(anchor)["product_id"]
            if signal == "bought_with":
                return _reason(signal, f"often bought with {name}, which you bought", anchor_id)
            if signal == "this_visit":
                return _reason(signal, f"because you are looking at {name}", anchor_id)
            return _reason(signal, f"because you viewed {name}", anchor_id)
        signal = "category"
    if signal == "buy_again":
        days = f["days_since_bought"]
        count = int(f["bought_count"]) if np.isfinite(f["bought_count"]) else 0
        if count and np.isfinite(days):
            return _reason(signal, f"buy again: you bought it {count}× (last {_ago(days)})")
        signal = "category"
    if signal == "viewed_before" and np.isfinite(f["days_since_viewed"]):
        return _reason(signal, f"you looked at it {_ago(f['days_since_viewed'])}")
    if signal == "taste":
        return _reason(signal, "picked for your taste: shoppers with baskets like yours buy it")
    if signal == "brand":
        return _reason(signal, f"from {describe(item)['brand']}, a brand you like")
    if signal == "new" and f["item_age_days"] <= NEW_DAYS:
        return _reason(signal, f"new in {category}")
    if f["category_session"] > 0:
        return _reason("category", f"popular in {category}, which you are browsing")
    if f["category_history"] > 0:
        return _reason("category", f"popular in {category}, which you shop")
    where = CHANNELS[channel] if 0 <= channel < len(CHANNELS) else "web"
    return _reason("popular", f"popular on {where} right now")


class _Named:
    """One feature row read by feature name."""

    __slots__ = ("row",)

    def __init__(self, row: np.ndarray) -> None:
        self.row = row

    def __getitem__(self, name: str) -> Any:
        return self.row[F[name]]


def _ago(days: float) -> str:
    whole = int(days)
    return "today" if whole <= 0 else "yesterday" if whole == 1 else f"{whole} days ago"


def _reason(code: str, text: str, product_id: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"code": code, "text": text}
    if product_id is not None:
        out["product_id"] = product_id
    return out


def _anchor(signal: str, item: int, scored: Scored, conditional: Rows) -> int | None:
    """The context item whose co-occurrence with `item` weighs most, among those the signal
    is about (bought items, viewed items, or this visit's items)."""
    if signal == "bought_with":
        pool = scored.context_bought
    elif signal == "this_visit":
        pool = scored.context_in_session
    else:
        pool = ~scored.context_bought
    candidates = scored.context_items[pool]
    weights = scored.context_weight[pool]
    candidates, weights = candidates[candidates != item], weights[candidates != item]
    if len(candidates) == 0:
        return None
    columns, values, owner = conditional.gather(candidates)
    hit = columns == item
    strength = np.zeros(len(candidates))
    strength[owner[hit]] = values[hit] * weights[owner[hit]]
    if strength.max(initial=0.0) > 0:
        return int(candidates[int(np.argmax(strength))])
    if signal == "this_visit":
        return int(candidates[int(np.argmax(weights))])
    return None
