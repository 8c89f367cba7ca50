"""A block's event stream: acquisition, sign-up, browsing, orders in every channel.

Planning (how many sessions, when, which products) is vectorized with numpy; the
loop that follows only assembles dicts. Marketing and after-sales events live in
``marketing.py`` and ``service.py``.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from clientcore.demo.catalog import Catalog
from clientcore.demo.clock import snap_time_of_day
from clientcore.demo.config import (
    CH_CALL,
    CH_MARKET,
    CH_MOBILE,
    CH_STORE,
    DAY_MS,
    PLACEHOLDER_EMAIL,
    PLACEHOLDER_PHONE_ZEROS,
    Params,
)
from clientcore.demo.emit import Emitter
from clientcore.demo.people import People
from clientcore.demo.phones import e164, format_event
from clientcore.demo.segments import ACQ_CHANNELS
from clientcore.demo.sessions import (
    Block,
    Surface,
    app_surface,
    kiosk_surface,
    online_session,
    signup_session,
    web_surface,
)
from clientcore.demo.timeline import Orders, Outcomes, taste_categories
from clientcore.demo.world import World

AD_NETWORKS = {
    "paid_search": ("google", "bing"),
    "paid_social": ("facebook", "instagram", "tiktok"),
}
MARKETPLACES = ("amazon", "walmart", "ebay")


def new_block(
    rng: np.random.Generator, people: People, catalog: Catalog, world: World, params: Params
) -> Block:
    """Per-block state; decisions inside sessions use a fast seeded ``random.Random``."""
    seed = int(rng.integers(0, 2**63 - 1))
    emitter = Emitter(rng, params.start_ms, params.end_ms)
    return Block(people, catalog, world, params, emitter, random.Random(seed))


def order_properties(b: Block, orders: Orders, k: int) -> dict[str, Any]:
    """Segment e-commerce ``Order Completed`` properties (revenue excludes shipping, tax)."""
    lo, hi = int(orders.line_ptr[k]), int(orders.line_ptr[k + 1])
    products = []
    for line in range(lo, hi):
        item = dict(b.catalog.props(int(orders.product[line])))
        item["quantity"] = int(orders.qty[line])
        products.append(item)
    props: dict[str, Any] = {
        "order_id": orders.order_id[k],
        "revenue": int(orders.revenue[k]) / 100,
        "discount": int(orders.discount[k]) / 100,
        "shipping": int(orders.shipping[k]) / 100,
        "tax": int(orders.tax[k]) / 100,
        "currency": "USD",
        "products": products,
    }
    if orders.incremental[k]:
        props["coupon"] = "WINBACK15"
    elif orders.discount[k] > 0:
        props["coupon"] = f"SAVE{round(100 * orders.discount[k] / orders.subtotal[k])}"
    return props


def emit_orders(
    b: Block, rng: np.random.Generator, orders: Orders
) -> tuple[list[str | None], list[str]]:
    """Every order with the journey that leads to it; returns each order's identity keys."""
    r, people = b.r, b.people
    n = len(orders)
    extra = sample_views(rng, b, orders.person, np.full(n, 2))
    research = rng.random(n)
    user_ids: list[str | None] = [None] * n
    anon_ids: list[str] = [""] * n
    lines = orders.line_ptr.tolist()
    products = orders.product.tolist()
    for k in range(n):
        i, t, ch = int(orders.person[k]), int(orders.t_ms[k]), int(orders.channel[k])
        props = order_properties(b, orders, k)
        bought = products[lines[k] : lines[k + 1]]
        more = launched_only(b, extra[k][: int(r.random() * 3)], t)
        views = list(dict.fromkeys(bought + more))
        r.shuffle(views)
        if ch != CH_MARKET and research[k] < (0.25 if ch == CH_STORE else 0.3):
            t_research = t - int(r.uniform(2.0, 240.0) * 3_600_000)
            if t_research > people.acq_ms[i]:
                online_session(b, i, t_research, pick_surface(b, i, t_research, None), views)
        if orders.kiosk[k]:
            s = kiosk_surface(b, i, int(orders.store[k]))
            uid, anon = online_session(b, i, t, s, views, props, bought)
        elif ch == CH_STORE:
            uid, anon = None, _store_order(b, i, t, int(orders.store[k]), props)
        elif ch == CH_CALL:
            uid, anon = _call_order(b, i, t, props)
        elif ch == CH_MARKET:
            anon = people.market_id[i] or b.out.fresh_anonymous_id(i)
            props["marketplace"] = MARKETPLACES[int(r.random() * len(MARKETPLACES))]
            b.out.track(i, t, "Order Completed", None, anon, {"channel": "marketplace"}, props)
            uid = None
        else:
            s = pick_surface(b, i, t, None, prefer_app=ch == CH_MOBILE)
            uid, anon = online_session(b, i, t, s, views, props, bought)
        user_ids[k], anon_ids[k] = uid, anon
    return user_ids, anon_ids


def pick_surface(
    b: Block, i: int, t: int, campaign: dict[str, Any] | None, prefer_app: bool | None = None
) -> Surface:
    """Web or app: app users mostly use the app, if they had one installed by then."""
    device = b.device_at(i, t)
    if device is not None and t >= b.device_from[device]:
        if prefer_app is None:
            w = b.people.chan_w[i]
            prefer_app = b.r.random() < max(0.3, w[1] / max(w[0] + w[1], 1e-9))
        if prefer_app:
            return app_surface(b, i, device)
    return web_surface(b, i, t, campaign)


def _store_order(b: Block, i: int, t: int, store: int, props: dict[str, Any]) -> str:
    """A till transaction: loyalty card, POS number, or details typed by staff."""
    r, p, out = b.r, b.people, b.out
    traits: dict[str, Any] = {}
    card = p.card_at(i, t)
    if card is not None and r.random() < 0.8:
        traits["loyalty_card"] = card
    if p.pos_id[i] is not None and r.random() < 0.6:
        traits["pos_customer_id"] = p.pos_id[i]
    if r.random() < 0.2:
        if r.random() < 0.2:
            traits["email"] = PLACEHOLDER_EMAIL
            out.trap_uses.add(("placeholder_email", PLACEHOLDER_EMAIL, i))
        else:
            traits["email"] = b.email_typed(i, t)
    if r.random() < 0.15:
        u = r.random()
        if u < 0.2:
            phone = b.world.store_phone[store]
            traits["phone"] = format_event(1, phone, int(r.random() * 4))
            out.trap_uses.add(("placeholder_phone", e164(1, phone), i))
        elif u < 0.3:
            traits["phone"] = PLACEHOLDER_PHONE_ZEROS
            out.trap_uses.add(("placeholder_phone", "+1" + PLACEHOLDER_PHONE_ZEROS, i))
        elif (typed := b.phone_typed(i, t)) is not None:
            traits["phone"] = typed
    if "email" in traits or "phone" in traits:
        b.add_name(i, traits)  # staff type the customer's name too, even beside a placeholder
    ctx: dict[str, Any] = {"channel": "store", "store_id": b.world.store_ids[store]}
    if traits:
        ctx["traits"] = traits
    anon = out.fresh_anonymous_id(i)
    out.track(i, t, "Order Completed", None, anon, ctx, props)
    return anon


def agent_context(b: Block, i: int, t: int) -> tuple[dict[str, Any], str | None, str | None]:
    """Call-center context: the agent, the caller's phone (or e-mail), maybe their account."""
    r = b.r
    agent = b.world.agents[int(r.random() * len(b.world.agents))]
    phone = b.phone_typed(i, t)
    traits = {"phone": phone} if phone is not None else {"email": b.email_typed(i, t)}
    b.add_name(i, traits)
    ctx = {"channel": "call_center", "agent_id": agent, "traits": traits}
    uid = b.user_at(i, t) if r.random() < 0.5 else None
    anon = None if uid is not None else b.out.fresh_anonymous_id(i)
    return ctx, uid, anon


def _call_order(b: Block, i: int, t: int, props: dict[str, Any]) -> tuple[str | None, str]:
    """An order taken by phone: the agent types the caller's details."""
    ctx, uid, anon = agent_context(b, i, t)
    b.out.track(i, t, "Order Completed", uid, anon, ctx, props)
    return uid, anon or ""


def sample_views(
    rng: np.random.Generator, b: Block, owner: np.ndarray, counts: np.ndarray
) -> list[list[int]]:
    """Products each session looks at: categories by taste, products by popularity."""
    view_owner = np.repeat(owner, counts)
    cats = taste_categories(rng, b.people, view_owner)
    products = b.catalog.sample(rng, cats)
    ptr = np.concatenate([[0], np.cumsum(counts)]).tolist()
    flat = products.tolist()
    return [flat[ptr[k] : ptr[k + 1]] for k in range(len(counts))]


def emit_browsing(
    b: Block, rng: np.random.Generator, orders: Orders, outcomes: Outcomes, params: Params
) -> None:
    """Sign-ups, acquisition visits and non-purchase sessions while people are active."""
    people = b.people
    n = people.n
    end = params.end_ms
    dead = ~outcomes.alive_at_end
    fade = rng.exponential(60 * DAY_MS, n).astype(np.int64)
    active_end = np.where(people.buyer & dead, outcomes.dropout_ms + fade, end)
    prospect_life = people.acq_ms + rng.exponential(200 * DAY_MS, n).astype(np.int64)
    active_end = np.minimum(np.where(people.buyer, active_end, prospect_life), end)
    days = np.maximum(active_end - people.acq_ms, 0) / DAY_MS
    count = rng.poisson(people.browse_rate * days)
    owner = np.repeat(np.arange(n), count)
    t = people.acq_ms[owner] + (rng.random(len(owner)) * days[owner] * DAY_MS).astype(np.int64)
    t = np.maximum(snap_time_of_day(rng, t, np.zeros(len(t), dtype=bool)), people.acq_ms[owner])
    views = sample_views(rng, b, owner, 1 + rng.poisson(1.3, len(owner)))
    ad_roll = rng.random(len(owner)).tolist()
    kiosk_roll = rng.random(len(owner)).tolist()
    has_tablet = [tab is not None for tab in b.world.store_tablet]
    home = people.home_store.tolist()
    for k, (i, when) in enumerate(zip(owner.tolist(), t.tolist(), strict=True)):
        session_views = launched_only(b, views[k], when)
        if has_tablet[home[i]] and kiosk_roll[k] < 0.04 and b.user_at(i, when) is not None:
            online_session(b, i, when, kiosk_surface(b, i, home[i]), session_views)
            continue
        ad = None
        if ad_roll[k] < 0.08:
            ad = _ad(b, "paid_social" if ad_roll[k] < 0.04 else "paid_search", when)
        online_session(b, i, when, pick_surface(b, i, when, None), session_views, ad=ad)

    acq_views = sample_views(rng, b, np.arange(n), np.full(n, 2))
    for i in range(n):
        acq = ACQ_CHANNELS[int(people.acq_channel[i])]
        when = int(people.acq_ms[i])
        if acq in ("organic_search", "paid_search", "paid_social", "referral", "email_signup"):
            ad = _ad(b, acq, when) if acq in AD_NETWORKS else None
            campaign = {"name": "referral", "source": "friend", "medium": "referral"}
            s = web_surface(b, i, when, campaign if acq == "referral" else None)
            online_session(b, i, when, s, launched_only(b, acq_views[i], when), ad=ad)
        signup = int(people.signup_ms[i])
        if signup >= 0:
            device = b.device_at(i, signup)
            if device is not None and b.r.random() < 0.4:
                signup_session(b, i, signup, app_surface(b, i, device))
            else:
                signup_session(b, i, signup, web_surface(b, i, signup, None))


def launched_only(b: Block, products: list[int], t: int) -> list[int]:
    """Products cannot be seen before they launch: fall back to the category's top seller."""
    launched = b.launched
    if all(launched[p] <= t for p in products):
        return products
    return [p if launched[p] <= t else int(b.catalog.cat_top[b.category[p]]) for p in products]


def _ad(b: Block, channel: str, t: int) -> dict[str, Any]:
    """Ad Clicked properties for one of the most recently launched ad campaigns."""
    ads = b.world.ad_campaigns
    running = [c for c in ads if c.send_ms <= t] or list(ads[:1])
    campaign = running[-1 - int(b.r.random() * min(3, len(running)))]
    networks = AD_NETWORKS.get(channel, AD_NETWORKS["paid_search"])
    return {
        "campaign_id": campaign.campaign_id,
        "ad_network": networks[int(b.r.random() * len(networks))],
        "cost": b.params.cost_ad_click,
    }
