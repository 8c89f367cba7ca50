"""Customer segments: how each kind of customer shops, signs up and was acquired."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SegmentSpec:
    """Channel mix, sign-up and app propensities, browsing rate and acquisition mix."""

    name: str
    share: float
    channels: tuple[float, float, float, float, float]  # web, mobile, store, call, market
    register_prob: float
    app_prob: float
    browse_rate: float  # non-purchase web/app sessions per year while active
    acquisition: dict[str, float]


SEGMENTS: tuple[SegmentSpec, ...] = (
    SegmentSpec("prospect", 0.15, (0.6, 0.3, 0.1, 0.0, 0.0), 0.6, 0.2, 2.0,
                {"organic_search": 3, "paid_social": 3, "paid_search": 2, "email_signup": 2}),
    SegmentSpec("online_regular", 0.27, (0.65, 0.17, 0.06, 0.03, 0.09), 0.85, 0.35, 4.0,
                {"organic_search": 4, "paid_search": 3, "paid_social": 2, "referral": 1}),
    SegmentSpec("app_first", 0.13, (0.15, 0.75, 0.07, 0.01, 0.02), 0.95, 1.0, 5.0,
                {"paid_social": 4, "organic_search": 2, "referral": 2}),
    SegmentSpec("store_loyal", 0.22, (0.08, 0.02, 0.86, 0.04, 0.0), 0.45, 0.15, 1.0,
                {"store": 8, "organic_search": 1, "referral": 1}),
    SegmentSpec("omnichannel", 0.16, (0.35, 0.2, 0.35, 0.05, 0.05), 0.8, 0.55, 3.5,
                {"store": 3, "organic_search": 3, "paid_search": 2, "email_signup": 2}),
    SegmentSpec("phone_shopper", 0.04, (0.15, 0.0, 0.2, 0.65, 0.0), 0.4, 0.0, 0.5,
                {"call_center": 5, "store": 2, "referral": 1}),
    SegmentSpec("marketplace_buyer", 0.03, (0.1, 0.0, 0.05, 0.0, 0.85), 0.2, 0.0, 0.5,
                {"marketplace": 8, "organic_search": 1}),
)  # fmt: skip

ACQ_CHANNELS = (
    "organic_search",
    "paid_search",
    "paid_social",
    "email_signup",
    "store",
    "referral",
    "marketplace",
    "call_center",
)
