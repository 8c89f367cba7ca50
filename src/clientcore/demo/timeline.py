"""Buy-till-you-die purchase timelines, baskets and after-sales, as numpy arrays.

Purchases follow BG/NBD exactly (Poisson purchases at a gamma-distributed rate, dropout
with a beta-distributed probability after each purchase) and order values follow
Gamma-Gamma, so the fitted models can be checked against the people's true values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clientcore.demo.catalog import Catalog
from clientcore.demo.clock import snap_time_of_day
from clientcore.demo.config import CH_CALL, CH_MARKET, CH_MOBILE, CH_STORE, CH_WEB, DAY_MS, Params
from clientcore.demo.ids import digit_strings, scramble
from clientcore.demo.people import MAX_TASTES, People
from clientcore.demo.segments import ACQ_CHANNELS
from clientcore.demo.world import World

TICKET_REASONS = ("late_delivery", "damaged", "wrong_item", "product_defect", "billing", "question")
_TICKET_P = np.array([0.3, 0.14, 0.1, 0.1, 0.14, 0.22])
CALL_REASONS = ("order_status", "return_request", "product_defect", "billing", "question")
_CALL_P = np.array([0.35, 0.2, 0.1, 0.15, 0.2])
MAX_ORDERS_PER_PERSON = 4096


@dataclass
class Orders:
    """Orders of one block sorted by (person, time), line items in CSR form."""

    person: np.ndarray
    t_ms: np.ndarray
    channel: np.ndarray
    store: np.ndarray  # store index for store orders, -1 otherwise
    kiosk: np.ndarray  # placed on a shared in-store tablet
    incremental: np.ndarray  # caused by the experiment's treatment
    order_id: list[str]
    line_ptr: np.ndarray
    product: np.ndarray
    qty: np.ndarray
    subtotal: np.ndarray  # all money in cents
    discount: np.ndarray
    shipping: np.ndarray
    tax: np.ndarray
    revenue: np.ndarray
    target_spend: np.ndarray  # the Gamma-Gamma draw the basket was built for (USD)
    line_returned: np.ndarray
    return_ms: np.ndarray  # per order, -1 if nothing returned
    refund: np.ndarray  # per order
    ticket_ms: np.ndarray  # per order, -1 if none
    ticket_reason: np.ndarray
    ticket_product: np.ndarray  # -1 if not about a product
    call_ms: np.ndarray
    call_reason: np.ndarray
    call_product: np.ndarray
    call_seconds: np.ndarray

    def __len__(self) -> int:
        return len(self.t_ms)


@dataclass
class Outcomes:
    """Per-person truth of the purchase process."""

    first_buy_ms: np.ndarray  # -1 if never bought
    dropout_ms: np.ndarray  # time of the purchase after which they dropped out, -1 if alive
    alive_at_end: np.ndarray
    variant: np.ndarray  # experiment: -1 not eligible, 0 control, 1 treatment
    incremental_order: np.ndarray


def simulate(
    rng: np.random.Generator, people: People, catalog: Catalog, world: World, params: Params
) -> tuple[Orders, Outcomes]:
    """All orders of a block, with their baskets, returns, tickets and calls."""
    n = people.n
    end = params.end_ms
    acq = ACQ_CHANNELS
    instant = np.isin(people.acq_channel, [acq.index(c) for c in ("store", "marketplace")])
    delay = np.where(instant, 0, rng.exponential(10 * DAY_MS, n)).astype(np.int64)
    first = people.acq_ms + delay
    has_first = people.buyer & (first < end - DAY_MS)
    big_t = np.where(has_first, (end - first) / DAY_MS, 0.0)
    # BG/NBD: dropout can follow any repeat purchase (never the first one), so the number
    # of repeat purchases a person would make if time were unlimited is Geometric(p) >= 1.
    repeats_before_death = rng.geometric(people.p_drop)
    n_poisson = np.where(has_first, rng.poisson(people.lam * big_t), 0)
    x = np.minimum(n_poisson, repeats_before_death)
    dead = has_first & (repeats_before_death <= n_poisson)

    owner = np.repeat(np.arange(n), n_poisson)
    u = np.sort(owner + rng.random(len(owner))) - owner
    rank = np.arange(len(owner)) - np.repeat(np.cumsum(n_poisson) - n_poisson, n_poisson)
    keep = rank < x[owner]
    r_owner = owner[keep]
    r_time = (first[r_owner] + u[keep] * big_t[r_owner] * DAY_MS).astype(np.int64)
    f_owner = np.flatnonzero(has_first)
    f_channel = _channels(rng, people, f_owner, np.ones(len(f_owner), dtype=bool))
    r_channel = _channels(rng, people, r_owner, np.zeros(len(r_owner), dtype=bool))
    r_time = snap_time_of_day(rng, r_time, r_channel == CH_STORE)
    r_time = np.clip(r_time, first[r_owner] + 60_000, end - 1)
    last_repeat = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last_repeat, r_owner, r_time)
    dropout_ms = np.where(dead, np.where(x > 0, last_repeat, first), -1)

    variant, e_owner, e_time = _experiment(rng, people, dropout_ms, params)
    e_channel = _channels(rng, people, e_owner, np.zeros(len(e_owner), dtype=bool))
    e_channel[e_channel == CH_STORE] = CH_WEB  # the coupon is redeemed online
    incremental_order = np.zeros(n, dtype=bool)
    incremental_order[e_owner] = True

    person = np.concatenate([f_owner, r_owner, e_owner])
    t = np.concatenate([first[f_owner], r_time, e_time])
    channel = np.concatenate([f_channel, r_channel, e_channel])
    kind = np.repeat(np.array([0, 1, 2], dtype=np.int8), [len(f_owner), len(r_owner), len(e_owner)])
    order = np.lexsort((t, person))
    person, t, kind, channel = person[order], t[order], kind[order], channel[order]

    store = np.where(rng.random(len(t)) < 0.85, people.home_store[person], -1)
    random_store = rng.choice(len(world.store_ids), size=len(t), p=world.store_probs)
    store = np.where(channel == CH_STORE, np.where(store < 0, random_store, store), -1)
    has_tablet = np.array([tab is not None for tab in world.store_tablet])
    kiosk = (
        (channel == CH_STORE)
        & has_tablet[np.maximum(store, 0)]
        & people.registered[person]
        & (t >= people.signup_ms[person])
        & (rng.random(len(t)) < 0.15)
    )
    seq = np.arange(len(t)) - np.repeat(*_group_starts(person))
    order_no = (people.start + person) * MAX_ORDERS_PER_PERSON + np.minimum(seq, 4095)
    order_id = [f"ord_{s}" for s in digit_strings(scramble(order_no, 10**11, world.salt + 7), 11)]

    target = rng.gamma(params.gg_p, 1.0 / people.nu[person])
    line_ptr, product, qty = _baskets(rng, people, catalog, person, t, target)
    orders = _money(rng, catalog, params, person, t, channel, kind, line_ptr, product, qty)
    orders.update(_after_sales(rng, catalog, t, line_ptr, product, qty, orders, end))
    result = Orders(
        person=person,
        t_ms=t,
        channel=channel,
        store=store,
        kiosk=kiosk,
        incremental=kind == 2,
        order_id=order_id,
        line_ptr=line_ptr,
        product=product,
        qty=qty,
        target_spend=target,
        **orders,
    )
    first_buy = np.where(has_first, first, -1)
    outcomes = Outcomes(first_buy, dropout_ms, ~dead, variant, incremental_order)
    return result, outcomes


def _group_starts(person: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of each run's first row, and the run lengths (for ``np.repeat``)."""
    if len(person) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate([[True], person[1:] != person[:-1]]))
    lengths = np.diff(np.concatenate([starts, [len(person)]]))
    return starts, lengths


def _experiment(
    rng: np.random.Generator, people: People, dropout_ms: np.ndarray, params: Params
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Randomize eligible people; treated people who are still alive may buy once more."""
    exp = params.experiment
    start = params.experiment_start_ms
    eligible = (
        people.email_optin
        & (people.signup_ms < start)
        & ((people.unsub_ms < 0) | (people.unsub_ms > start))
    )
    treated = rng.random(people.n) < float(exp["treatment_share"])
    variant = np.where(eligible, treated.astype(np.int64), -1)
    alive = people.buyer & ((dropout_ms < 0) | (dropout_ms > start))
    respond = (variant == 1) & alive & (rng.random(people.n) < exp["true_incremental_order_prob"])
    owner = np.flatnonzero(respond)
    days = rng.uniform(0.2, float(exp["response_days"]), len(owner))
    return variant, owner, start + (days * DAY_MS).astype(np.int64)


def _channels(
    rng: np.random.Generator, people: People, person: np.ndarray, is_first: np.ndarray
) -> np.ndarray:
    """Order channel from the person's preferences; the first order follows acquisition."""
    cum = np.cumsum(people.chan_w[person], axis=1)
    channel = (rng.random(len(person))[:, None] > cum).sum(axis=1).clip(0, 4)
    acq = people.acq_channel[person]
    first_map = {"store": CH_STORE, "marketplace": CH_MARKET, "call_center": CH_CALL}
    for name, ch in first_map.items():
        channel[is_first & (acq == ACQ_CHANNELS.index(name))] = ch
    app = people.device_ptr[person + 1] > people.device_ptr[person]
    channel[(channel == CH_MOBILE) & ~app] = CH_WEB
    return channel.astype(np.int8)


def _baskets(
    rng: np.random.Generator,
    people: People,
    catalog: Catalog,
    person: np.ndarray,
    t: np.ndarray,
    target: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Items by taste and popularity, priced to land near the target order value."""
    k = np.clip(1 + rng.poisson(0.2 + target / 120.0), 1, 8)
    line_ptr = np.concatenate([[0], np.cumsum(k)]).astype(np.int64)
    line_order = np.repeat(np.arange(len(person)), k)
    owner = person[line_order]
    unit_target = (target / k)[line_order]
    cats = taste_categories(rng, people, owner)
    # Best of six popular candidates: the one whose price (times a natural quantity) is
    # closest to the line's share of the order value, so order values track the
    # Gamma-Gamma draw while products still follow popularity.
    cand = np.stack([catalog.sample(rng, cats) for _ in range(6)], axis=1)
    value = _line_value(catalog, cand, unit_target[:, None])
    gap = np.abs(np.log(value) - np.log(unit_target)[:, None])
    product = cand[np.arange(len(cand)), np.argmin(gap, axis=1)]
    too_new = catalog.launched_ms[product] > t[line_order]
    product[too_new] = catalog.cat_top[cats[too_new]]
    product = _rebuy_staples(rng, catalog, owner, product, cats)
    qty = _quantity(catalog, product, unit_target)
    return line_ptr, product, qty


def _quantity(catalog: Catalog, product: np.ndarray, unit_target: np.ndarray) -> np.ndarray:
    """Several units of cheap items, up to a cap (higher for consumables)."""
    price = catalog.price_cents[product] / 100.0
    cap = np.where(catalog.repeatable[product], 10, 4)
    return np.clip(np.round(unit_target / price), 1, cap).astype(np.int64)


def _line_value(catalog: Catalog, product: np.ndarray, unit_target: np.ndarray) -> np.ndarray:
    return catalog.price_cents[product] / 100.0 * _quantity(catalog, product, unit_target)


def taste_categories(rng: np.random.Generator, people: People, owner: np.ndarray) -> np.ndarray:
    """A category per row, drawn from the owner's true taste weights."""
    cum = np.cumsum(people.taste_w[owner], axis=1)
    pick = (rng.random(len(owner))[:, None] > cum).sum(axis=1).clip(0, MAX_TASTES - 1)
    cats = people.taste_cat[owner, pick]
    return np.where(cats < 0, people.taste_cat[owner, 0], cats)


def _rebuy_staples(
    rng: np.random.Generator,
    catalog: Catalog,
    owner: np.ndarray,
    product: np.ndarray,
    cats: np.ndarray,
) -> np.ndarray:
    """Consumables are re-ordered: a later line in the same category reuses the staple."""
    out = product.copy()
    draws = rng.random(len(product)).tolist()
    is_staple = catalog.repeatable[product].tolist()
    rows = zip(owner.tolist(), cats.tolist(), product.tolist(), is_staple, strict=True)
    staples: dict[tuple[int, int], int] = {}
    for i, (p, c, prod, rep) in enumerate(rows):
        key = (p, c)
        staple = staples.get(key)
        if staple is not None and draws[i] < 0.65:
            out[i] = staple
        elif rep:
            staples[key] = prod
    return out


def _money(
    rng: np.random.Generator,
    catalog: Catalog,
    params: Params,
    person: np.ndarray,
    t: np.ndarray,
    channel: np.ndarray,
    kind: np.ndarray,
    line_ptr: np.ndarray,
    product: np.ndarray,
    qty: np.ndarray,
) -> dict[str, np.ndarray]:
    """Subtotal, discount, shipping and tax in cents (revenue = subtotal - discount)."""
    line_total = catalog.price_cents[product] * qty
    subtotal = np.add.reduceat(line_total, line_ptr[:-1]) if len(t) else np.zeros(0, np.int64)
    promo = rng.random(len(t)) < params.promo_share
    rate = np.where(promo, rng.choice([0.1, 0.15, 0.2, 0.25], size=len(t)), 0.0)
    rate = np.where(kind == 2, float(params.experiment["coupon_rate"]), rate)
    discount = np.round(subtotal * rate).astype(np.int64)
    revenue = subtotal - discount
    online = (channel == CH_WEB) | (channel == CH_MOBILE)
    free = revenue >= params.free_shipping_threshold * 100
    shipping = np.where(online & ~free, round(params.shipping_fee * 100), 0)
    shipping = np.where(channel == CH_CALL, round(params.call_center_fee * 100), shipping)
    tax = np.round(revenue * params.tax_rate).astype(np.int64)
    return {
        "subtotal": subtotal,
        "discount": discount,
        "shipping": shipping.astype(np.int64),
        "tax": tax,
        "revenue": revenue,
    }


def _after_sales(
    rng: np.random.Generator,
    catalog: Catalog,
    t: np.ndarray,
    line_ptr: np.ndarray,
    product: np.ndarray,
    qty: np.ndarray,
    money: dict[str, np.ndarray],
    end: int,
) -> dict[str, np.ndarray]:
    """Returns (by product return rate), support tickets and service calls (by complaints)."""
    n = len(t)
    returned = rng.random(len(product)) < catalog.return_rate[product]
    return_ms = t + rng.integers(4, 30, n) * DAY_MS + rng.integers(0, DAY_MS, n)
    any_returned = np.add.reduceat(returned, line_ptr[:-1]) > 0 if n else np.zeros(0, bool)
    return_ok = any_returned & (return_ms < end)
    line_order = np.repeat(np.arange(n), np.diff(line_ptr))
    returned &= return_ok[line_order]
    share_paid = np.where(money["subtotal"] > 0, money["revenue"] / money["subtotal"], 1.0)
    line_refund = np.round(catalog.price_cents[product] * qty * share_paid[line_order])
    refund = np.zeros(n, dtype=np.int64)
    np.add.at(refund, line_order[returned], line_refund[returned].astype(np.int64))

    complaint = catalog.complaint_rate[product]
    no_issue = np.ones(n)
    np.multiply.at(no_issue, line_order, 1.0 - complaint)
    p_issue = 1.0 - no_issue
    worst = np.full(n, -1, dtype=np.int64)
    order_by_complaint = np.lexsort((complaint, line_order))
    worst[line_order[order_by_complaint]] = product[order_by_complaint]  # max complaint wins

    ticket = rng.random(n) < 0.012 + p_issue
    ticket_ms = np.where(ticket, t + rng.integers(1, 20, n) * DAY_MS, -1)
    ticket_ms = np.where(ticket_ms < end, ticket_ms, -1)
    product_issue = rng.random(n) < p_issue / (0.012 + p_issue)
    reason = rng.choice(len(TICKET_REASONS), size=n, p=_TICKET_P)
    issue_reason = np.where(rng.random(n) < 0.6, 3, 1)  # product_defect or damaged
    ticket_reason = np.where(product_issue, issue_reason, reason)
    about_product = product_issue | (rng.random(n) < 0.4)
    ticket_product = np.where(about_product, worst, -1)

    call = rng.random(n) < 0.015 + 0.6 * p_issue
    call_ms = np.where(call, t + rng.integers(1, 25, n) * DAY_MS, -1)
    call_ms = np.where(call_ms < end, call_ms, -1)
    call_reason = np.where(
        product_issue, 2, rng.choice(len(CALL_REASONS), size=n, p=_CALL_P)
    ).astype(np.int64)
    call_product = np.where(product_issue | (rng.random(n) < 0.3), worst, -1)
    call_seconds = np.clip(rng.lognormal(np.log(360), 0.6, n), 40, 3600).astype(np.int64)
    return {
        "line_returned": returned,
        "return_ms": np.where(return_ok, return_ms, -1),
        "refund": refund,
        "ticket_ms": ticket_ms,
        "ticket_reason": ticket_reason,
        "ticket_product": ticket_product,
        "call_ms": call_ms,
        "call_reason": call_reason,
        "call_product": call_product,
        "call_seconds": call_seconds,
    }
