"""People: demographics, addresses, identifiers and the latent behaviour that drives them.

One call builds a block of people with numpy. Identifiers that must be globally
unique either come from a bijection of the person's global index (user id, phones,
loyalty cards, POS number) or are random 122-bit UUIDs; e-mails, which are built
from names, are de-duplicated against a registry shared by all blocks.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from clientcore.demo.clock import snap_time_of_day
from clientcore.demo.config import DAY_MS, Params
from clientcore.demo.contact import Address, EmailRegistry, addresses, loyalty_cards
from clientcore.demo.contact import emails as name_emails
from clientcore.demo.ids import digit_strings, scramble, uuid_strings
from clientcore.demo.names import NICKNAMES, first_names, last_names
from clientcore.demo.phones import uk_numbers, us_numbers
from clientcore.demo.segments import ACQ_CHANNELS, SEGMENTS
from clientcore.demo.world import World

MAX_TASTES = 6
GENERATION_MS = int(18 * 365.25 * DAY_MS)  # relatives born closer are one generation


@dataclass
class People:
    """A block of people; every list/array has one entry per person (CSR for lists)."""

    start: int
    n: int
    person_id: list[str]
    gender: list[str]
    first_name: list[str]
    last_name: list[str]
    birth_ms: np.ndarray
    family: np.ndarray  # global index of the family head, -1 if none
    address: list[Address]
    old_address: list[Address | None]
    moved_ms: np.ndarray
    home_store: np.ndarray
    segment: np.ndarray
    chan_w: np.ndarray  # (n, 5) order-channel preferences
    acq_channel: np.ndarray
    acq_ms: np.ndarray
    registered: np.ndarray
    signup_ms: np.ndarray
    user_id: list[str | None]
    email: list[str]  # current e-mail (the shared one for family members)
    email_old: list[str | None]
    email_switch_ms: np.ndarray
    family_email: np.ndarray  # bool: ``email`` is shared with the family
    phone_cc: np.ndarray  # 1 or 44
    phone: list[str | None]  # national significant number
    phone_old: list[str | None]
    phone_switch_ms: np.ndarray
    cookie_ptr: np.ndarray
    cookie_id: list[str]
    cookie_from: np.ndarray
    device_ptr: np.ndarray
    device_id: list[str]
    device_anon: list[str]
    device_os: list[str]
    device_skew_ms: np.ndarray
    device_from: np.ndarray
    card: list[str | None]
    card_old: list[str | None]
    card_switch_ms: np.ndarray
    pos_id: list[str | None]
    market_id: list[str | None]
    buyer: np.ndarray
    lam: np.ndarray  # purchases per day while alive
    p_drop: np.ndarray
    nu: np.ndarray  # Gamma-Gamma rate: mean order value = gg_p / nu
    browse_rate: np.ndarray  # per day
    taste_cat: np.ndarray  # (n, MAX_TASTES), -1 padded
    taste_w: np.ndarray
    email_optin: np.ndarray
    unsub_ms: np.ndarray
    open_prob: np.ndarray
    click_prob: np.ndarray

    def email_at(self, i: int, t: int) -> str:
        """The address in use at ``t``: an old one before the switch."""
        old = self.email_old[i]
        return old if old is not None and t < self.email_switch_ms[i] else self.email[i]

    def phone_at(self, i: int, t: int) -> str | None:
        """The phone in use at ``t``: an old number before the switch."""
        old = self.phone_old[i]
        return old if old is not None and t < self.phone_switch_ms[i] else self.phone[i]

    def card_at(self, i: int, t: int) -> str | None:
        """The loyalty card in use at ``t``: the replaced card before the switch."""
        old = self.card_old[i]
        return old if old is not None and t < self.card_switch_ms[i] else self.card[i]


def _pick(rng: np.random.Generator, probs: np.ndarray, n: int) -> np.ndarray:
    return rng.choice(len(probs), size=n, p=probs / probs.sum())


def _csr_times(
    rng: np.random.Generator, counts: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Start times of consecutive identifiers (cookies, devices): first one at ``lo``."""
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    owner = np.repeat(np.arange(len(counts)), counts)
    u = rng.random(len(owner))
    first = ptr[:-1][counts > 0]
    u[first] = 0.0
    order = np.lexsort((u, owner))
    u = u[order]
    times = lo[owner] + (u * (hi[owner] - lo[owner])).astype(np.int64)
    return ptr, times


def build_people(
    rng: np.random.Generator,
    start: int,
    n: int,
    world: World,
    params: Params,
    emails: EmailRegistry,
) -> People:
    """Draw ``n`` people with global indices ``start .. start+n-1``."""
    g = np.arange(start, start + n, dtype=np.int64)
    t0, t1 = params.start_ms, params.end_ms
    span = t1 - t0

    gender = np.array(["F", "M", "X"])[_pick(rng, np.array([0.505, 0.485, 0.01]), n)].tolist()
    first = [""] * n
    for sex in ("F", "M", "X"):
        where = [i for i, s in enumerate(gender) if s == sex]
        names = first_names(sex)
        for i, k in zip(where, names.sample(rng, len(where)).tolist(), strict=True):
            first[i] = names.values[k]
    lasts = last_names()
    last = [lasts.values[k] for k in lasts.sample(rng, n).tolist()]
    age_days = ((18 + np.minimum(rng.gamma(3.0, 9.0, n), 75)) * 365.25).astype(np.int64)
    birth_ms = ((t0 - age_days * DAY_MS) // DAY_MS) * DAY_MS

    family = np.full(n, -1, dtype=np.int64)
    i = 0
    starts = rng.random(n) < params.family_start_prob
    sizes = rng.choice([2, 3, 4], size=n, p=[0.6, 0.3, 0.1])
    while i < n:
        if starts[i] and i + sizes[i] <= n:
            family[i : i + sizes[i]] = start + i
            for j in range(i + 1, i + sizes[i]):
                if rng.random() < 0.85:
                    last[j] = last[i]
            i += int(sizes[i])
        else:
            i += 1

    home_store = _pick(rng, world.store_probs, n)
    store_state = [world.store_state[k] for k in home_store.tolist()]
    store_city = [world.store_city[k] for k in home_store.tolist()]
    address = addresses(rng, world, store_state, store_city)
    moved = rng.random(n) < 0.2
    moved_ms = np.where(moved, t0 + (rng.random(n) * span).astype(np.int64), -1)
    movers = np.flatnonzero(moved).tolist()
    previous = addresses(
        rng, world, [address[k][4] for k in movers], [address[k][3] for k in movers]
    )
    old_address: list[Address | None] = [None] * n
    for k, addr in zip(movers, previous, strict=True):
        old_address[k] = addr
    for k in np.flatnonzero(family >= 0).tolist():
        head = int(family[k] - start)
        address[k], old_address[k], moved_ms[k] = address[head], old_address[head], moved_ms[head]

    seg_share = np.array([s.share for s in SEGMENTS])
    seg_share[0] = params.prospect_share
    segment = _pick(rng, seg_share, n)
    app_user = rng.random(n) < np.array([s.app_prob for s in SEGMENTS])[segment]
    alpha = np.array([s.channels for s in SEGMENTS])[segment] * 12.0 + 0.02
    chan_w = rng.gamma(alpha)
    chan_w[~app_user, 1] = 0.0
    chan_w /= chan_w.sum(axis=1, keepdims=True)
    acq_channel = np.empty(n, dtype=np.int64)
    for s, spec in enumerate(SEGMENTS):
        rows = np.flatnonzero(segment == s)
        w = np.array([spec.acquisition.get(c, 0.0) for c in ACQ_CHANNELS])
        acq_channel[rows] = _pick(rng, w, len(rows))
    early = rng.random(n) < 0.3  # an existing base joins in the first quarter
    frac = np.where(early, rng.random(n) * 0.12, rng.random(n) * 0.97)
    acq_ms = t0 + (frac * span).astype(np.int64)
    acq_ms = snap_time_of_day(rng, acq_ms, acq_channel == ACQ_CHANNELS.index("store"))

    reg_p = np.array([s.register_prob for s in SEGMENTS])[segment]
    registered = rng.random(n) < reg_p
    delay = np.where(rng.random(n) < 0.6, 0, rng.exponential(60 * DAY_MS, n)).astype(np.int64)
    signup_ms = acq_ms + delay + (rng.random(n) * 20 * 60_000).astype(np.int64)
    registered &= signup_ms < t1 - DAY_MS
    signup_ms = np.where(registered, signup_ms, -1)
    uid = digit_strings(scramble(g, 10**9, world.salt + 3), 9)
    user_id = [f"usr_{u}" if r else None for u, r in zip(uid, registered.tolist(), strict=True)]

    email, email_old, family_email = name_emails(rng, first, last, birth_ms, family, start, emails)
    _one_name_per_generation(first, gender, birth_ms, family)  # after: e-mails keep their draws
    switch = t0 + (rng.random(n) * span).astype(np.int64)
    email_switch_ms = np.where([e is not None for e in email_old], switch, -1)

    uk = rng.random(n) < 0.03
    phone_cc = np.where(uk, 44, 1)
    states = [a[4] for a in address]
    us = [str(x) for x in us_numbers(g * 2, states, world.salt).tolist()]
    us_old = [str(x) for x in us_numbers(g * 2 + 1, states, world.salt).tolist()]
    uk_now = [str(x) for x in uk_numbers(g * 2, world.salt).tolist()]
    uk_old = [str(x) for x in uk_numbers(g * 2 + 1, world.salt).tolist()]
    has_phone = rng.random(n) < 0.92
    has_old = has_phone & (rng.random(n) < 0.25)
    phone = [
        (uk_now[k] if uk[k] else us[k]) if has_phone[k] else None for k in range(n)
    ]  # fmt: skip
    phone_old = [(uk_old[k] if uk[k] else us_old[k]) if has_old[k] else None for k in range(n)]
    phone_switch_ms = np.where(has_old, t0 + (rng.random(n) * span).astype(np.int64), -1)

    n_cookies = np.clip(1 + rng.poisson(1.4, n), 1, 6)
    cookie_ptr, cookie_from = _csr_times(rng, n_cookies, acq_ms - 30 * DAY_MS, np.full(n, t1))
    cookie_id = uuid_strings(rng, int(n_cookies.sum()))
    n_dev = np.where(app_user, 1 + (rng.random(n) < 0.3) + (rng.random(n) < 0.08), 0)
    device_ptr, device_from = _csr_times(rng, n_dev, acq_ms - 60 * DAY_MS, np.full(n, t1))
    nd = int(n_dev.sum())
    ios = rng.random(nd) < 0.55
    upper = uuid_strings(rng, nd, upper=True)
    android = [h.replace("-", "")[:16].lower() for h in uuid_strings(rng, nd)]
    device_id = [u if f else a for u, a, f in zip(upper, android, ios.tolist(), strict=True)]
    device_os = ["ios" if f else "android" for f in ios.tolist()]
    device_anon = uuid_strings(rng, nd)
    skewed = rng.random(nd) < 0.12
    skew = rng.uniform(2 * 60_000, 6 * 3_600_000, nd) * np.where(rng.random(nd) < 0.5, -1, 1)
    device_skew_ms = np.where(skewed, skew, 0).astype(np.int64)

    store_user = chan_w[:, 2] > 0.05
    has_card = store_user & (rng.random(n) < 0.75)
    has_card_old = has_card & (rng.random(n) < 0.15)
    cards = loyalty_cards(g * 2, world.salt)
    cards_old = loyalty_cards(g * 2 + 1, world.salt)
    card = [c if h else None for c, h in zip(cards, has_card.tolist(), strict=True)]
    card_old = [c if h else None for c, h in zip(cards_old, has_card_old.tolist(), strict=True)]
    card_switch_ms = np.where(has_card_old, t0 + (rng.random(n) * span).astype(np.int64), -1)
    has_pos = store_user & (rng.random(n) < 0.35)
    pos = digit_strings(scramble(g, 10**8, world.salt + 11), 8)
    pos_id = [f"POS{p}" if h else None for p, h in zip(pos, has_pos.tolist(), strict=True)]
    market = uuid_strings(rng, n)
    has_market = chan_w[:, 4] > 0.01
    market_id = [m if h else None for m, h in zip(market, has_market.tolist(), strict=True)]

    buyer = segment != 0
    lam = rng.gamma(params.r, 1.0 / params.alpha, n)
    p_drop = rng.beta(params.a, params.b, n)
    nu = rng.gamma(params.gg_q, 1.0 / params.gg_gamma, n)
    seg_browse = np.array([s.browse_rate for s in SEGMENTS])[segment] / 365.0
    browse_rate = 0.7 * seg_browse * rng.gamma(2.0, 0.5, n) + 0.4 * lam

    taste_cat, taste_w = _tastes(rng, n)
    email_optin = registered & (rng.random(n) < 0.8)
    unsub = email_optin & (rng.random(n) < 0.08)
    unsub_at = signup_ms + (rng.random(n) * (t1 - np.maximum(signup_ms, t0))).astype(np.int64)
    unsub_ms = np.where(unsub, unsub_at, -1)
    open_prob = rng.beta(2.0, 5.0, n)
    click_prob = rng.beta(1.5, 8.0, n)

    return People(
        start=start,
        n=n,
        person_id=[f"per_{k:07d}" for k in g.tolist()],
        gender=gender,
        first_name=first,
        last_name=last,
        birth_ms=birth_ms,
        family=family,
        address=address,
        old_address=old_address,
        moved_ms=moved_ms,
        home_store=home_store,
        segment=segment,
        chan_w=chan_w,
        acq_channel=acq_channel,
        acq_ms=acq_ms,
        registered=registered,
        signup_ms=signup_ms,
        user_id=user_id,
        email=email,
        email_old=email_old,
        email_switch_ms=email_switch_ms,
        family_email=family_email,
        phone_cc=phone_cc,
        phone=phone,
        phone_old=phone_old,
        phone_switch_ms=phone_switch_ms,
        cookie_ptr=cookie_ptr,
        cookie_id=cookie_id,
        cookie_from=cookie_from,
        device_ptr=device_ptr,
        device_id=device_id,
        device_anon=device_anon,
        device_os=device_os,
        device_skew_ms=device_skew_ms,
        device_from=device_from,
        card=card,
        card_old=card_old,
        card_switch_ms=card_switch_ms,
        pos_id=pos_id,
        market_id=market_id,
        buyer=buyer,
        lam=lam,
        p_drop=p_drop,
        nu=nu,
        browse_rate=browse_rate,
        taste_cat=taste_cat,
        taste_w=taste_w,
        email_optin=email_optin,
        unsub_ms=unsub_ms,
        open_prob=open_prob,
        click_prob=click_prob,
    )


def _one_name_per_generation(
    first: list[str], gender: list[str], birth_ms: np.ndarray, family: np.ndarray
) -> None:
    """Siblings and partners never share a first name; a namesake parent and child can.

    Names are drawn before households exist, so one could hold two William Chungs born six
    months apart: no real household does, and nothing in the events could tell them apart. The
    later repeat takes the next name of its list that the CRM's dirt treats alike (nickname or
    not, length): no new draw, so every other person of a seed keeps their data. Their own
    e-mail addresses, built before, keep the drawn name."""
    households: dict[int, list[int]] = defaultdict(list)
    for k in np.flatnonzero(family >= 0).tolist():
        households[int(family[k])].append(k)
    for members in households.values():
        for pos, k in enumerate(members):
            if not any(
                first[j] == first[k] and abs(int(birth_ms[j] - birth_ms[k])) < GENERATION_MS
                for j in members[:pos]
            ):
                continue
            taken = {first[j] for j in members}
            values = first_names(gender[k]).values
            at = values.index(first[k])
            for step in range(1, len(values)):
                name = values[(at + step) % len(values)]
                if name not in taken and _alike(name, first[k]):
                    first[k] = name
                    break


def _alike(a: str, b: str) -> bool:
    """Whether the CRM's nicknames and typos draw as often for one name as for the other."""
    return (a in NICKNAMES) == (b in NICKNAMES) and (len(a) < 3) == (len(b) < 3)


def _tastes(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """2-6 favourite categories per person (popular ones likelier), Dirichlet weights."""
    from clientcore.demo.catalog import CATEGORIES

    share = np.array([c.share for c in CATEGORIES])
    k = 2 + rng.binomial(MAX_TASTES - 2, 0.35, n)
    keys = np.log(share)[None, :] + rng.gumbel(size=(n, len(CATEGORIES)))
    top = np.argsort(-keys, axis=1)[:, :MAX_TASTES]
    mask = np.arange(MAX_TASTES)[None, :] < k[:, None]
    w = rng.gamma(0.8, 1.0, (n, MAX_TASTES)) * mask + 1e-12 * mask
    w /= w.sum(axis=1, keepdims=True)
    return np.where(mask, top, -1), w
