"""Ground-truth tables: who owns which identifier, latent parameters, realized P&L.

These are what identity resolution, record linkage, lifetime-value models and the
experiment analysis are scored against; nothing here is visible in the events.
"""

from __future__ import annotations

import numpy as np

from clientcore.demo.catalog import CATEGORIES, Catalog
from clientcore.demo.config import CH_CALL, CH_MARKET, CH_MOBILE, CH_STORE, CH_WEB, Params
from clientcore.demo.config import ORDER_CHANNELS as CHANNELS
from clientcore.demo.ids import iso_days, iso_ms
from clientcore.demo.people import People
from clientcore.demo.phones import e164
from clientcore.demo.segments import ACQ_CHANNELS, SEGMENTS
from clientcore.demo.timeline import Orders, Outcomes

IDENTIFIER_HEADER = ("type", "value", "person_id")
SHARED_HEADER = ("type", "value", "kind", "n_people")
CRM_TRUTH_HEADER = ("source", "record_id", "person_id")
TASTE_HEADER = ("person_id", "category", "weight")
CUSTOMER_HEADER = (
    "person_id", "segment", "acquisition_channel", "acquisition_date", "acquired_at",
    "first_name", "last_name", "gender", "birth_date", "family_id", "city", "state",
    "postcode", "moved_at", "home_store", "preferred_channel", "w_web", "w_mobile",
    "w_store", "w_call_center", "w_marketplace", "registered", "user_id", "signup_at",
    "email_optin", "unsubscribed_at", "buyer", "purchase_rate_per_day",
    "purchase_rate_per_year", "dropout_prob", "first_purchase_at", "dropout_at",
    "alive_at_end", "bgnbd_x", "bgnbd_t_x_days", "bgnbd_T_days", "gg_nu",
    "mean_order_value", "expected_purchases_next_365d", "expected_revenue_next_365d",
    "n_orders", "revenue", "refunds", "shipping_charged", "cogs", "fulfilment_cost",
    "returns_cost", "service_cost", "marketing_cost", "profit", "n_returned_orders",
    "n_tickets", "n_calls", "experiment_variant", "experiment_incremental_order",
)  # fmt: skip


_MONEY = (
    "revenue",
    "refunds",
    "shipping_charged",
    "cogs",
    "fulfilment_cost",
    "returns_cost",
    "service_cost",
    "marketing_cost",
    "profit",
)


def identifier_rows(people: People, fresh: list[tuple[str, int]]) -> list[tuple[str, str, str]]:
    """Every identifier owned by exactly one person, in canonical form."""
    pid = people.person_id
    rows: list[tuple[str, str, str]] = []
    for i in range(people.n):
        person = pid[i]
        user_id = people.user_id[i]
        if user_id is not None:
            rows.append(("user_id", user_id, person))
        if not people.family_email[i]:
            rows.append(("email", people.email[i], person))
        email_old = people.email_old[i]
        if email_old is not None:
            rows.append(("email", email_old, person))
        cc = int(people.phone_cc[i])
        for phone in (people.phone[i], people.phone_old[i]):
            if phone is not None:
                rows.append(("phone", e164(cc, phone), person))
        for k in range(int(people.cookie_ptr[i]), int(people.cookie_ptr[i + 1])):
            rows.append(("anonymous_id", people.cookie_id[k], person))
        for k in range(int(people.device_ptr[i]), int(people.device_ptr[i + 1])):
            rows.append(("device_id", people.device_id[k], person))
            rows.append(("anonymous_id", people.device_anon[k], person))
        for card in (people.card[i], people.card_old[i]):
            if card is not None:
                rows.append(("loyalty_card", card, person))
        pos_id, market_id = people.pos_id[i], people.market_id[i]
        if pos_id is not None:
            rows.append(("pos_customer_id", pos_id, person))
        if market_id is not None:
            rows.append(("anonymous_id", market_id, person))
    rows.extend(("anonymous_id", value, pid[i]) for value, i in fresh)
    return rows


def taste_rows(people: People) -> list[tuple[str, str, str]]:
    """``tastes.csv`` rows: each person's favourite categories and their weights."""
    rows = []
    cats, weights = people.taste_cat.tolist(), people.taste_w.tolist()
    for i in range(people.n):
        for c, w in zip(cats[i], weights[i], strict=True):
            if c >= 0:
                rows.append((people.person_id[i], CATEGORIES[c].name, f"{w:.6f}"))
    return rows


def profit_and_loss(
    people: People,
    orders: Orders,
    catalog: Catalog,
    params: Params,
    service_cost: list[float],
    marketing_cost: list[float],
) -> dict[str, np.ndarray]:
    """The true contribution of each person (USD): what a customer P&L should find."""
    n = people.n

    def per_person(values: np.ndarray, who: np.ndarray = orders.person) -> np.ndarray:
        return np.bincount(who, weights=values, minlength=n)

    line_order = np.repeat(np.arange(len(orders)), np.diff(orders.line_ptr))
    line_cost = catalog.cost_cents[orders.product] * orders.qty / 100.0
    kept_cost = np.where(orders.line_returned, params.return_writeoff_rate, 1.0) * line_cost
    cogs = per_person(kept_cost, orders.person[line_order])
    revenue = orders.revenue / 100.0
    ch = orders.channel
    online = (ch == CH_WEB) | (ch == CH_MOBILE) | (ch == CH_CALL) | (ch == CH_MARKET)
    fulfil = np.where(online & ~orders.kiosk, params.cost_fulfilment_online, 0.0)
    fulfil = np.where((ch == CH_STORE) & ~orders.kiosk, params.cost_fulfilment_store, fulfil)
    fulfil = np.where(orders.kiosk, params.cost_fulfilment_online, fulfil)
    fulfil = fulfil + np.where(ch == CH_CALL, params.cost_call_order, 0.0)
    fulfil = fulfil + np.where(ch == CH_MARKET, params.cost_marketplace_fee_rate * revenue, 0.0)
    returned = orders.return_ms >= 0
    out = {
        "n_orders": per_person(np.ones(len(orders))),
        "revenue": per_person(revenue),
        "refunds": per_person(orders.refund / 100.0),
        "shipping_charged": per_person(orders.shipping / 100.0),
        "cogs": cogs,
        "fulfilment_cost": per_person(fulfil),
        "returns_cost": per_person(returned * params.cost_return_handling),
        "service_cost": np.asarray(service_cost),
        "marketing_cost": np.asarray(marketing_cost),
        "n_returned_orders": per_person(returned.astype(float)),
        "n_tickets": per_person((orders.ticket_ms >= 0).astype(float)),
        "n_calls": per_person((orders.call_ms >= 0).astype(float)),
    }
    out["profit"] = (
        out["revenue"]
        - out["refunds"]
        + out["shipping_charged"]
        - out["cogs"]
        - out["fulfilment_cost"]
        - out["returns_cost"]
        - out["service_cost"]
        - out["marketing_cost"]
    )
    return out


def _opt_iso(ms: np.ndarray) -> list[str]:
    stamps = iso_ms(np.maximum(ms, 0))
    return [s if m >= 0 else "" for s, m in zip(stamps, ms.tolist(), strict=True)]


def _flag(values: np.ndarray) -> list[str]:
    return ["true" if v else "false" for v in values.tolist()]


def customer_rows(
    people: People,
    orders: Orders,
    outcomes: Outcomes,
    pnl: dict[str, np.ndarray],
    params: Params,
    world_store_ids: tuple[str, ...],
) -> list[list[str]]:
    """One row of latent truth and realized outcomes per person."""
    day = 86_400_000.0
    end = params.end_ms
    btyd = ~orders.incremental
    x = np.bincount(orders.person[btyd], minlength=people.n) - (outcomes.first_buy_ms >= 0)
    last = np.full(people.n, -1, dtype=np.int64)
    np.maximum.at(last, orders.person[btyd], orders.t_ms[btyd])
    bought = outcomes.first_buy_ms >= 0
    t_x = np.where(bought, (last - outcomes.first_buy_ms) / day, np.nan)
    big_t = np.where(bought, (end - outcomes.first_buy_ms) / day, np.nan)
    mean_value = params.gg_p / people.nu
    alive = outcomes.alive_at_end & people.buyer
    lam, p = people.lam, people.p_drop
    expected = np.where(alive, (1.0 - np.exp(-lam * p * 365.0)) / p, 0.0)
    columns: list[list[str]] = [
        people.person_id,
        [SEGMENTS[s].name for s in people.segment.tolist()],
        [ACQ_CHANNELS[c] for c in people.acq_channel.tolist()],
        iso_days(people.acq_ms),
        iso_ms(people.acq_ms),
        people.first_name,
        people.last_name,
        people.gender,
        iso_days(people.birth_ms),
        [f"fam_{f:07d}" if f >= 0 else "" for f in people.family.tolist()],
        [a[3] for a in people.address],
        [a[4] for a in people.address],
        [a[5] for a in people.address],
        _opt_iso(people.moved_ms),
        [world_store_ids[s] for s in people.home_store.tolist()],
        [CHANNELS[c] for c in np.argmax(people.chan_w, axis=1).tolist()],
        *[[f"{w:.4f}" for w in people.chan_w[:, c].tolist()] for c in range(5)],
        _flag(people.registered),
        [u or "" for u in people.user_id],
        _opt_iso(people.signup_ms),
        _flag(people.email_optin),
        _opt_iso(people.unsub_ms),
        _flag(people.buyer),
        [f"{v:.6f}" for v in lam.tolist()],
        [f"{v * 365:.4f}" for v in lam.tolist()],
        [f"{v:.6f}" for v in p.tolist()],
        _opt_iso(outcomes.first_buy_ms),
        _opt_iso(np.where(people.buyer, outcomes.dropout_ms, -1)),
        _flag(alive),
        [str(v) if b else "" for v, b in zip(x.tolist(), bought.tolist(), strict=True)],
        [f"{v:.4f}" if v == v else "" for v in t_x.tolist()],
        [f"{v:.4f}" if v == v else "" for v in big_t.tolist()],
        [f"{v:.6f}" for v in people.nu.tolist()],
        [f"{v:.2f}" for v in mean_value.tolist()],
        [f"{v:.4f}" for v in expected.tolist()],
        [f"{v:.2f}" for v in (expected * mean_value).tolist()],
        [str(int(v)) for v in pnl["n_orders"].tolist()],
        *[[f"{v:.2f}" for v in pnl[key].tolist()] for key in _MONEY],
        *[[str(int(v)) for v in pnl[key].tolist()] for key in ("n_returned_orders", "n_tickets")],
        [str(int(v)) for v in pnl["n_calls"].tolist()],
        [("", "control", "treatment")[v + 1] for v in outcomes.variant.tolist()],
        _flag(outcomes.incremental_order),
    ]
    return [list(row) for row in zip(*columns, strict=True)]
