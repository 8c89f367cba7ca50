"""Web, app and in-store tablet sessions: pages, product views, carts, logins, sign-ups.

A session knows who is behind it, but emits only what a real site would see: a
cookie or app install id, a userId once the person is logged in, and whatever the
person types at sign-up, login or guest checkout.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from clientcore.demo.catalog import CATEGORIES, Catalog
from clientcore.demo.config import RETAILER_DOMAIN, Params
from clientcore.demo.emit import Emitter, vary_email
from clientcore.demo.people import People
from clientcore.demo.phones import format_event
from clientcore.demo.world import World

SITE = f"https://www.{RETAILER_DOMAIN}"
_SLUGS = [c.name.lower().replace("'", "").replace(" & ", "-").replace(" ", "-") for c in CATEGORIES]


@dataclass
class Block:
    """Everything a block's emitters share, with hot per-person arrays as Python lists."""

    people: People
    catalog: Catalog
    world: World
    params: Params
    out: Emitter
    r: random.Random
    user_id: list[str | None] = field(init=False)
    signup: list[int] = field(init=False)
    cookie_ptr: list[int] = field(init=False)
    cookie_from: list[int] = field(init=False)
    device_ptr: list[int] = field(init=False)
    device_from: list[int] = field(init=False)
    device_skew: list[int] = field(init=False)
    phone_cc: list[int] = field(init=False)
    marketing_cost: list[float] = field(init=False)
    service_cost: list[float] = field(init=False)
    launched: list[int] = field(init=False)
    category: list[int] = field(init=False)
    _gaps: list[int] = field(init=False)

    def __post_init__(self) -> None:
        p = self.people
        self.user_id = p.user_id
        self.signup = p.signup_ms.tolist()
        self.cookie_ptr = p.cookie_ptr.tolist()
        self.cookie_from = p.cookie_from.tolist()
        self.device_ptr = p.device_ptr.tolist()
        self.device_from = p.device_from.tolist()
        self.device_skew = p.device_skew_ms.tolist()
        self.phone_cc = p.phone_cc.tolist()
        self.marketing_cost = [0.0] * p.n
        self.service_cost = [0.0] * p.n
        self.launched = self.catalog.launched_ms.tolist()
        self.category = self.catalog.category_list
        self._gaps = []

    def gap(self) -> int:
        """Think time between two events of a session (ms), from a pre-drawn pool."""
        if not self._gaps:
            draws = 3000 + self.out.rng.exponential(45_000.0, 65_536)
            self._gaps = draws.astype(np.int64).tolist()
        return self._gaps.pop()

    def user_at(self, i: int, t: int) -> str | None:
        """The userId if the person has an account at time ``t``."""
        s = self.signup[i]
        return self.user_id[i] if 0 <= s <= t else None

    def cookie_at(self, i: int, t: int) -> str:
        """The web cookie in use at ``t`` (cookies replace each other over time)."""
        lo, hi = self.cookie_ptr[i], self.cookie_ptr[i + 1]
        k = max(lo, bisect_right(self.cookie_from, t, lo, hi) - 1)
        return self.people.cookie_id[k]

    def device_at(self, i: int, t: int) -> int | None:
        """Index of the app install in use at ``t``, or None without the app."""
        lo, hi = self.device_ptr[i], self.device_ptr[i + 1]
        if lo == hi:
            return None
        return max(lo, bisect_right(self.device_from, t, lo, hi) - 1)

    def email_typed(self, i: int, t: int) -> str:
        """The address the person uses at ``t``, as typed (case and spaces vary)."""
        return vary_email(self.people.email_at(i, t), self.r.random())

    def add_name(self, i: int, traits: dict[str, Any]) -> None:
        """The person's own name, typed next to their contact details (a checkout form, a
        clerk at the till, an agent): in real data a name comes with the e-mail or phone."""
        traits["first_name"] = self.people.first_name[i]
        traits["last_name"] = self.people.last_name[i]

    def phone_typed(self, i: int, t: int) -> str | None:
        """The phone the person uses at ``t``, in one of the usual spellings."""
        national = self.people.phone_at(i, t)
        if national is None:
            return None
        return format_event(self.phone_cc[i], national, int(self.r.random() * 4))


@dataclass
class Surface:
    """Where a session happens and how its events are keyed."""

    context: dict[str, Any]
    anonymous_id: str
    page_kind: str  # page | screen
    skew: int | None  # device clock skew (app sessions only)
    kiosk: bool = False


def web_surface(b: Block, i: int, t: int, campaign: dict[str, Any] | None) -> Surface:
    """A browser session on the cookie the person had at that time."""
    ctx = _WEB if campaign is None else {"channel": "web", "campaign": campaign}
    return Surface(ctx, b.cookie_at(i, t), "page", None)


_WEB: dict[str, Any] = {"channel": "web"}


def app_surface(b: Block, i: int, device: int) -> Surface:
    """An app session: the install's anonymousId, device id and clock skew."""
    p = b.people
    ctx = {"channel": "mobile", "device": {"id": p.device_id[device], "type": p.device_os[device]}}
    return Surface(ctx, p.device_anon[device], "screen", b.device_skew[device])


def kiosk_surface(b: Block, i: int, store: int) -> Surface:
    """The shared in-store tablet: one device for many members (an identity trap)."""
    tablet = b.world.store_tablet[store]
    assert tablet is not None
    b.out.trap_uses.add(("shared_device", tablet, i))
    ctx = {
        "channel": "store",
        "store_id": b.world.store_ids[store],
        "device": {"id": tablet, "type": "kiosk"},
    }
    return Surface(ctx, b.out.fresh_anonymous_id(i), "screen", None, kiosk=True)


_AD, _LOGIN, _LANDING, _SEARCH, _LIST, _VIEW, _ADD, _CHECKOUT, _GUEST, _ORDER = range(10)


def online_session(
    b: Block,
    i: int,
    t_end: int,
    s: Surface,
    views: list[int],
    order: dict[str, Any] | None = None,
    order_lines: list[int] | None = None,
    ad: dict[str, Any] | None = None,
    force_login: bool = False,
) -> tuple[str | None, str]:
    """Emit one session ending at ``t_end`` (the order time for purchase sessions).

    Returns the (userId, anonymousId) the session ended with, so that later events about
    the same order (returns, refunds) are keyed the same way.
    """
    r, out = b.r, b.out
    rand = r.random
    uid = b.user_at(i, t_end)
    kiosk = s.kiosk
    logged_in = uid is not None and (kiosk or force_login or rand() < _LOGGED_IN[s.page_kind])
    steps: list[int] = []
    args: list[Any] = []
    if ad is not None:
        steps.append(_AD)
        args.append(ad)
    if kiosk and uid is not None:
        steps.append(_LOGIN)
        args.append(None)
        logged_in = False
    first_cat = b.category[views[0]] if views else 0
    steps.append(_LANDING)
    args.append(first_cat)
    if rand() < 0.3:
        steps.append(_SEARCH)
        args.append(first_cat)
    if rand() < 0.5:
        steps.append(_LIST)
        args.append(first_cat)
    cart = set(order_lines) if order_lines else set()
    if order is None and views and rand() < 0.15:
        cart.add(views[-1])
    for v in views:
        steps.append(_VIEW)
        args.append(v)
        if v in cart:
            steps.append(_ADD)
            args.append(v)
            cart.discard(v)
    signs_in = uid is not None and (logged_in or kiosk)
    if order is not None:
        if not signs_in and uid is not None and rand() < 0.85:
            steps.append(_LOGIN)
            args.append(None)
            signs_in = True
        steps.append(_CHECKOUT)
        args.append(None)
        if not signs_in:
            steps.append(_GUEST)
            args.append(None)
        steps.append(_ORDER)
        args.append(None)
    elif not signs_in and uid is not None and rand() < 0.2:
        k = max(1, len(steps) // 2)
        steps.insert(k, _LOGIN)
        args.insert(k, None)

    n = len(steps)
    stamps = [0] * n
    t = t_end
    for k in range(n - 1, -1, -1):
        stamps[k] = t
        t -= b.gap()
    current = uid if logged_in else None
    anon, ctx, skew = s.anonymous_id, s.context, s.skew
    props_of, viewed = b.catalog.props, b.catalog.props_json
    track = out.track
    for k in range(n):
        what, arg, when = steps[k], args[k], stamps[k]
        if what == _VIEW:
            track(i, when, "Product Viewed", current, anon, ctx, viewed(arg), skew)
        elif what == _ADD:
            props = dict(props_of(arg))
            props["quantity"] = 1
            track(i, when, "Product Added", current, anon, ctx, props, skew)
        elif what == _LANDING:
            name, page_props = _landing(s.page_kind, arg, rand() < 0.5)
            out.page(i, when, s.page_kind, current, anon, ctx, name, page_props, skew)
        elif what == _SEARCH:
            nouns = CATEGORIES[arg].nouns
            query = {"query": nouns[int(rand() * len(nouns))].lower()}
            track(i, when, "Products Searched", current, anon, ctx, query, skew)
        elif what == _LIST:
            track(i, when, "Product List Viewed", current, anon, ctx, _list(b, arg, views), skew)
        elif what == _LOGIN:
            traits = {"email": b.email_typed(i, when)}
            out.identify(i, when, uid, anon, ctx, traits, skew)
            current = uid
        elif what == _GUEST:
            traits = {"email": b.email_typed(i, when)}
            phone = b.phone_typed(i, when) if rand() < 0.5 else None
            if phone is not None:
                traits["phone"] = phone
            b.add_name(i, traits)
            out.identify(i, when, current, anon, ctx, traits, skew)
            assert order is not None
            order = dict(order)
            order["email"] = traits["email"]
        elif what == _CHECKOUT:
            assert order is not None
            props = {key: order[key] for key in _CHECKOUT_KEYS}
            props["value"] = order["revenue"]
            track(i, when, "Checkout Started", current, anon, ctx, props, skew)
        elif what == _ORDER:
            assert order is not None
            track(i, when, "Order Completed", current, anon, ctx, order, skew)
        else:
            track(i, when, "Ad Clicked", None, anon, _ad_context(arg), arg, None)
            b.marketing_cost[i] += b.params.cost_ad_click
    return current, anon


_LOGGED_IN = {"page": 0.55, "screen": 0.9}
_CHECKOUT_KEYS = ("order_id", "revenue", "discount", "shipping", "tax", "currency", "products")


def _ad_context(ad: dict[str, Any]) -> dict[str, Any]:
    channel = "social" if ad["ad_network"] in ("facebook", "instagram", "tiktok") else "web"
    return {
        "channel": channel,
        "campaign": {"name": ad["campaign_id"], "source": ad["ad_network"], "medium": "cpc"},
    }


@cache
def _landing(kind: str, cat: int, home: bool) -> tuple[str, dict[str, Any]]:
    """Name and properties of a landing page or screen (shared dicts, never mutated)."""
    name = "Home" if home else CATEGORIES[cat].name
    if kind == "screen":
        return name, {"name": name}
    path = "/" if home else f"/c/{_SLUGS[cat]}"
    return name, {"path": path, "url": SITE + path, "title": f"{name} | Larkspur & Co."}


def _list(b: Block, cat: int, views: list[int]) -> dict[str, Any]:
    """Product List Viewed properties: the category listing the session browses."""
    category = b.category
    listed = list(dict.fromkeys(v for v in views if category[v] == cat))[:4]
    start = int(b.catalog.cat_start[cat])
    products = [
        {"product_id": b.catalog.product_id[v], "position": k + 1} for k, v in enumerate(listed)
    ]
    if not products:
        products = [{"product_id": b.catalog.product_id[start], "position": 1}]
    return {"list_id": f"cat-{_SLUGS[cat]}", "category": CATEGORIES[cat].name, "products": products}


def signup_session(b: Block, i: int, t: int, s: Surface) -> None:
    """Sign-up: alias the anonymous id to the new userId, then identify with traits."""
    uid = b.people.user_id[i]
    assert uid is not None
    p, out, r = b.people, b.out, b.r
    name = "Sign Up"
    props = {"path": "/account/signup", "url": SITE + "/account/signup", "title": name}
    if s.page_kind == "screen":
        props = {"name": name}
    out.page(i, t - 95_000, s.page_kind, None, s.anonymous_id, s.context, name, props, s.skew)
    out.alias(i, t, uid, s.anonymous_id, s.context, s.skew)
    traits: dict[str, Any] = {
        "email": b.email_typed(i, t),
        "first_name": p.first_name[i],
        "last_name": p.last_name[i],
    }
    phone = b.phone_typed(i, t) if r.random() < 0.6 else None
    if phone is not None:
        traits["phone"] = phone
    card = p.card_at(i, t)
    if card is not None and r.random() < 0.5:
        traits["loyalty_card"] = card
    out.identify(i, t + 400, uid, s.anonymous_id, s.context, traits, s.skew)
    out.track(i, t + 900, "Signed Up", uid, s.anonymous_id, s.context, {"method": "email"}, s.skew)
