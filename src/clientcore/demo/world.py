"""The retailer's fixed world: stores, towns, call-center agents and campaigns.

Built once per run from its own seed, so every block of customers sees the same
stores (with their phone numbers, a trap) and the same campaign calendar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clientcore.demo.config import DAY_MS, HOUR_MS, Params
from clientcore.demo.ids import uuid_strings
from clientcore.demo.names import STATE_POSTCODES, STATE_WEIGHTS, city_name, first_names
from clientcore.demo.phones import us_numbers, us_slot_capacity

CITIES_PER_STATE = 6


@dataclass(frozen=True)
class Campaign:
    """A marketing send (e-mail, direct mail, social) or an ad campaign."""

    campaign_id: str
    kind: str  # email | direct_mail | social | ad
    name: str
    send_ms: int
    target_share: float


@dataclass(frozen=True)
class World:
    """Everything shared by all blocks of one run."""

    states: tuple[str, ...]
    state_probs: np.ndarray
    cities: dict[str, tuple[str, ...]]  # state -> towns
    city_zip: dict[tuple[str, str], int]  # (state, town) -> base ZIP code
    store_ids: tuple[str, ...]
    store_state: tuple[str, ...]
    store_city: tuple[str, ...]
    store_phone: tuple[str, ...]  # ten-digit national number
    store_probs: np.ndarray
    store_tablet: tuple[str | None, ...]  # shared in-store tablet device id
    agents: tuple[str, ...]
    email_campaigns: tuple[Campaign, ...]
    mail_campaigns: tuple[Campaign, ...]
    social_campaigns: tuple[Campaign, ...]
    ad_campaigns: tuple[Campaign, ...]
    salt: int  # seeds the bijections behind ids, so another seed gives other ids


def n_stores_for(customers: int) -> int:
    """One store per 5,000 customers, between 5 and 60."""
    return int(np.clip(customers // 5000, 5, 60))


def build_world(rng: np.random.Generator, customers: int, params: Params) -> World:
    """Stores in the most populous states, towns with ZIP codes, a campaign calendar."""
    states = tuple(STATE_WEIGHTS)
    weights = np.array([STATE_WEIGHTS[s] for s in states])
    state_probs = weights / weights.sum()
    pool = first_names("X").values
    cities: dict[str, tuple[str, ...]] = {}
    city_zip: dict[tuple[str, str], int] = {}
    for state in states:
        towns: list[str] = []
        while len(towns) < CITIES_PER_STATE:
            town = city_name(rng, pool)
            if town not in towns:
                towns.append(town)
        cities[state] = tuple(towns)
        low, high = STATE_POSTCODES[state]
        for town in towns:
            city_zip[(state, town)] = int(rng.integers(low, max(low + 1, high - 40)))

    n_stores = n_stores_for(customers)
    store_state = [states[i] for i in rng.choice(len(states), size=n_stores, p=state_probs)]
    store_city = [cities[s][int(rng.integers(2))] for s in store_state]
    capacity = us_slot_capacity()
    salt = int(rng.integers(1, 2**31))
    store_phone = us_numbers(capacity - 1 - np.arange(n_stores), store_state, salt)
    store_probs = rng.dirichlet(np.full(n_stores, 4.0))
    tablets = uuid_strings(rng, n_stores, upper=True)
    n_kiosk = max(1, n_stores // 3)
    store_tablet = tuple(t if i < n_kiosk else None for i, t in enumerate(tablets))
    agents = tuple(f"agt_{i:03d}" for i in range(1, 13 + n_stores * 2))

    start, end = params.start_ms, params.end_ms
    return World(
        states=states,
        state_probs=state_probs,
        cities=cities,
        city_zip=city_zip,
        store_ids=tuple(f"store_{i:03d}" for i in range(1, n_stores + 1)),
        store_state=tuple(store_state),
        store_city=tuple(store_city),
        store_phone=tuple(str(p) for p in store_phone.tolist()),
        store_probs=store_probs,
        store_tablet=store_tablet,
        agents=agents,
        email_campaigns=_calendar(rng, "email", start, end, every_days=10.0, share=0.3),
        mail_campaigns=_calendar(rng, "direct_mail", start, end, every_days=95.0, share=0.5),
        social_campaigns=_calendar(rng, "social", start, end, every_days=45.0, share=0.06),
        ad_campaigns=_calendar(rng, "ad", start, end, every_days=60.0, share=1.0),
        salt=salt,
    )


_THEMES = (
    "new_arrivals",
    "weekend_sale",
    "loyalty_bonus",
    "seasonal",
    "clearance",
    "back_in_stock",
    "style_guide",
    "home_refresh",
)


def _calendar(
    rng: np.random.Generator, kind: str, start: int, end: int, every_days: float, share: float
) -> tuple[Campaign, ...]:
    """Campaigns every ``every_days`` days (jittered), sent in the local afternoon."""
    out: list[Campaign] = []
    t = start + int(rng.uniform(1.0, every_days) * DAY_MS)
    while t < end:
        send = (t // DAY_MS) * DAY_MS + int(rng.integers(14, 22)) * HOUR_MS
        theme = _THEMES[int(rng.integers(len(_THEMES)))]
        n = len(out) + 1
        out.append(Campaign(f"cmp_{kind}_{n:03d}", kind, f"{theme}_{n:03d}", send, share))
        t += int(rng.uniform(0.6, 1.4) * every_days * DAY_MS)
    return tuple(out)
