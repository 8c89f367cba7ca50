"""Popularity, decayed over time, overall, per channel (the cold-start segments), and within
each category (what a taste for a category most likely leads to)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clientcore.personalize.cooccurrence import decay
from clientcore.personalize.data import BUY, CHANNELS, Interactions

KIND_WEIGHT = np.array([1.0, 2.0, 4.0, 0.0])  # view, add, buy, return
TREND_DAYS = 14.0


@dataclass(frozen=True)
class Popularity:
    overall: np.ndarray  # decayed, kind-weighted interactions per item
    bought: np.ndarray  # decayed purchases per item
    by_channel: np.ndarray  # channels x items, decayed kind-weighted
    in_category: np.ndarray  # item's share of its category's `overall`
    trend: np.ndarray  # recent (14-day) share over long-run share
    category_top: tuple[np.ndarray, ...]  # per category: items, most popular first

    @classmethod
    def fit(
        cls,
        data: Interactions,
        category: np.ndarray,
        n_categories: int,
        now: float,
        half_life_days: float = 60.0,
    ) -> Popularity:
        n = len(category)
        w = KIND_WEIGHT[data.kind] * decay(now - data.t, half_life_days)
        overall = np.bincount(data.item, weights=w, minlength=n)
        buys = data.kind == BUY
        bought = np.bincount(
            data.item[buys], weights=decay(now - data.t[buys], half_life_days), minlength=n
        )
        by_channel = np.zeros((len(CHANNELS), n))
        np.add.at(by_channel, (data.channel.astype(np.int64), data.item), w)
        total = np.bincount(category, weights=overall, minlength=n_categories)
        share = overall / np.maximum(total[category], 1e-12)
        recent = (now - data.t) < TREND_DAYS * 86400
        short = np.bincount(data.item[recent], weights=KIND_WEIGHT[data.kind[recent]], minlength=n)
        trend = (short + 1.0) / (short.sum() + n) / ((overall + 1.0) / (overall.sum() + n))
        tops = tuple(
            np.flatnonzero(category == c)[np.argsort(-overall[category == c], kind="stable")]
            for c in range(n_categories)
        )
        return cls(overall, bought, by_channel, share, trend, tops)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {
            "overall": self.overall,
            "bought": self.bought,
            "by_channel": self.by_channel,
            "in_category": self.in_category,
            "trend": self.trend,
        }
        out.update({f"top_{c}": items for c, items in enumerate(self.category_top)})
        return out

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray], n_categories: int) -> Popularity:
        return cls(
            a["overall"],
            a["bought"],
            a["by_channel"],
            a["in_category"],
            a["trend"],
            tuple(a[f"top_{c}"] for c in range(n_categories)),
        )
