"""Three CRM exports of the same people, each with its own schema and its own dirt.

* sales (store POS CRM): one ``full_name``, one-line address, MM/DD/YYYY dates;
* callcenter (FEBRL-like): given_name/surname, split address, DD.MM.YYYY dates;
* ecommerce (web accounts): first/last name, line1/line2 address, ISO dates.

Records go stale (old address or e-mail), fields go missing, names get typos and
nicknames, and a few people appear twice in one source.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from clientcore.demo.config import DAY_MS, PLACEHOLDER_EMAIL, PLACEHOLDER_PHONE_ZEROS, Params
from clientcore.demo.contact import Address
from clientcore.demo.dirt import dotted_date, nickname, swap_day_month, typo, us_date
from clientcore.demo.ids import digit_strings, iso_days, iso_ms, scramble
from clientcore.demo.names import STATE_NAMES, SUFFIX_ABBREVIATIONS
from clientcore.demo.people import People
from clientcore.demo.phones import format_crm
from clientcore.demo.world import World

SOURCES = ("sales", "callcenter", "ecommerce")
HEADERS: dict[str, tuple[str, ...]] = {
    "sales": (
        "customer_no", "full_name", "email", "phone", "address", "birth_date",
        "loyalty_card", "home_store", "customer_since",
    ),
    "callcenter": (
        "caller_id", "given_name", "surname", "street_number", "address_1", "address_2",
        "suburb", "postcode", "state", "phone_number", "email_address", "dob", "last_contact",
    ),
    "ecommerce": (
        "account_id", "user_id", "first_name", "last_name", "email", "mobile",
        "address_line1", "address_line2", "city", "state", "zip", "date_of_birth",
        "created_at", "marketing_opt_in",
    ),
}  # fmt: skip
#: Chance that a field is left empty, per source.
_MISSING = {
    "sales": {"email": 0.15, "phone": 0.08, "dob": 0.35, "address": 0.04},
    "callcenter": {"email": 0.3, "phone": 0.02, "dob": 0.1, "address": 0.08},
    "ecommerce": {"email": 0.0, "phone": 0.25, "dob": 0.45, "address": 0.12},
}


@dataclass
class CrmBlock:
    """The rows of the three exports for one block, with the record -> person truth."""

    rows: dict[str, list[list[str]]]
    truth: list[tuple[str, str, str]]  # source, record_id, person_id
    trap_uses: set[tuple[str, str, int]]


def build_crm(rng: np.random.Generator, people: People, world: World, params: Params) -> CrmBlock:
    """Plan who is in which source (and how often), then render each record."""
    n = people.n
    r = random.Random(int(rng.integers(0, 2**63 - 1)))
    in_crm = rng.random(n) < params.crm_share
    p = np.stack(
        [
            0.65 + 0.35 * people.chan_w[:, 2],
            0.5 + 0.5 * people.chan_w[:, 3],
            np.where(people.registered, 0.97, 0.3),
        ],
        axis=1,
    )
    member = (rng.random((n, 3)) < p) & in_crm[:, None]
    lonely = in_crm & ~member.any(axis=1)
    member[lonely, np.argmax(p[lonely], axis=1)] = True
    copies = member * (1 + (rng.random((n, 3)) < 0.07) + (rng.random((n, 3)) < 0.01))
    person, source = np.nonzero(copies)
    count = copies[person, source]
    person, source = np.repeat(person, count), np.repeat(source, count)
    copy = np.arange(len(person)) - np.repeat(np.cumsum(count) - count, count)
    lo = people.acq_ms[person] - (rng.random(len(person)) * 700 * DAY_MS).astype(np.int64)
    created = np.minimum(
        np.maximum(lo, params.start_ms - 700 * DAY_MS) + copy * 90 * DAY_MS, params.end_ms - 1
    )
    created_day, created_iso = iso_days(created), iso_ms(created)
    birth = iso_days(people.birth_ms)
    g = (people.start + person) * 4 + copy
    ids = {
        "sales": [f"SLS-{s}" for s in digit_strings(scramble(g, 10**8, world.salt + 41), 8)],
        "callcenter": [f"CC{s}" for s in digit_strings(scramble(g, 10**9, world.salt + 43), 9)],
        "ecommerce": [f"EC-{s}" for s in digit_strings(scramble(g, 10**10, world.salt + 47), 10)],
    }
    out = CrmBlock({s: [] for s in SOURCES}, [], set())
    render: dict[str, Callable[[_Record], list[str]]] = {
        "sales": _sales,
        "callcenter": _callcenter,
        "ecommerce": _ecommerce,
    }
    pairs: dict[str, list[tuple[list[str], tuple[str, str, str]]]] = {s: [] for s in SOURCES}
    for k in range(len(person)):
        i, src = int(person[k]), SOURCES[int(source[k])]
        rec = _Record(people, world, r, out, i, int(created[k]), created_day[k], birth[i])
        rec.created_iso = created_iso[k]
        row = render[src](rec)
        row[0] = ids[src][k]
        pairs[src].append((row, (src, row[0], people.person_id[i])))
    for src in SOURCES:
        r.shuffle(pairs[src])  # file order must not give the grouping away
        out.rows[src] = [row for row, _ in pairs[src]]
        out.truth.extend(t for _, t in pairs[src])
    return out


class _Record:
    """The facts about one person as one CRM record saw them (maybe stale), plus dirt."""

    def __init__(
        self,
        people: People,
        world: World,
        r: random.Random,
        block: CrmBlock,
        i: int,
        created: int,
        created_day: str,
        birth: str,
    ) -> None:
        self.p, self.world, self.r, self.block, self.i = people, world, r, block, i
        self.created, self.created_day, self.created_iso = created, created_day, ""
        self.birth = swap_day_month(birth) if r.random() < 0.02 else birth
        first, last = people.first_name[i], people.last_name[i]
        if r.random() < 0.12:
            first = nickname(first, r)
        if r.random() < 0.04:
            first = typo(first, r)
        if r.random() < 0.04:
            last = typo(last, r)
        self.first, self.last = first, last
        stale = people.moved_ms[i] >= 0 and (created < people.moved_ms[i] or r.random() < 0.1)
        old = people.old_address[i]
        self.address: Address = old if stale and old is not None else people.address[i]

    def missing(self, source: str, field: str) -> bool:
        return self.r.random() < _MISSING[source][field]

    def email(self, source: str) -> str:
        if self.missing(source, "email"):
            return ""
        if source == "sales" and self.r.random() < 0.03:
            self.block.trap_uses.add(("placeholder_email", PLACEHOLDER_EMAIL, self.i))
            return PLACEHOLDER_EMAIL
        email = self.p.email_at(self.i, self.created)
        if self.r.random() < 0.1:
            email = self.p.email_old[self.i] or email
        if self.r.random() < 0.02:
            local, domain = email.split("@", 1)
            email = typo(local, self.r) + "@" + domain
        return email.upper() if self.r.random() < 0.05 else email

    def phone(self, source: str, style: str) -> str:
        national = self.p.phone_at(self.i, self.created)
        if national is None or self.missing(source, "phone"):
            return ""
        if source == "sales" and self.r.random() < 0.02:
            self.block.trap_uses.add(("placeholder_phone", "+1" + PLACEHOLDER_PHONE_ZEROS, self.i))
            return PLACEHOLDER_PHONE_ZEROS
        return format_crm(int(self.p.phone_cc[self.i]), national, style)

    def street(self) -> str:
        street = self.address[1]
        if self.r.random() < 0.5:
            base, _, suffix = street.rpartition(" ")
            street = f"{base} {SUFFIX_ABBREVIATIONS.get(suffix, suffix)}"
        return typo(street, self.r) if self.r.random() < 0.03 else street

    def zip(self) -> str:
        z = self.address[5]
        return f"{z}-{int(self.r.random() * 9000) + 1000}" if self.r.random() < 0.1 else z


def _sales(rec: _Record) -> list[str]:
    """Store CRM: one full_name, one-line address, US dates, loyalty card."""
    r = rec.r
    first, last = rec.first, rec.last
    u = r.random()
    if u < 0.02:
        full = f"{last} {first}"  # swapped by the clerk
    elif u < 0.12:
        full = f"{last.upper()}, {first.upper()}"
    elif u < 0.22:
        full = f"{first} {'ABCDEFGHJKLMNPRSTW'[int(r.random() * 18)]}. {last}"
    else:
        full = f"{first} {last}"
    number, _, unit, city, state, _ = rec.address
    address = ""
    if not rec.missing("sales", "address"):
        address = (
            f"{number} {rec.street()}{' ' + unit if unit else ''}, {city}, {state} {rec.zip()}"
        )
    card = rec.p.card_at(rec.i, rec.created) or ""
    store = rec.world.store_ids[int(rec.p.home_store[rec.i])]
    return [
        "",
        full,
        rec.email("sales"),
        rec.phone("sales", "sales"),
        address,
        "" if rec.missing("sales", "dob") else us_date(rec.birth),
        card if r.random() < 0.85 else "",
        store,
        us_date(rec.created_day),
    ]


def _callcenter(rec: _Record) -> list[str]:
    """Call-center CRM (FEBRL-like): split names and address, DD.MM.YYYY dates."""
    r = rec.r
    given, surname = (rec.last, rec.first) if r.random() < 0.03 else (rec.first, rec.last)
    number, _, unit, city, state, _ = rec.address
    blank = rec.missing("callcenter", "address")
    state_text = STATE_NAMES.get(state, state) if r.random() < 0.3 else state
    style = "callcenter_intl" if r.random() < 0.3 else "callcenter"
    return [
        "",
        given,
        surname,
        "" if blank else number,
        "" if blank else rec.street(),
        "" if blank else unit,
        "" if blank else city.lower() if r.random() < 0.2 else city,
        "" if blank else rec.zip(),
        "" if blank else state_text,
        rec.phone("callcenter", style),
        rec.email("callcenter"),
        "" if rec.missing("callcenter", "dob") else dotted_date(rec.birth),
        dotted_date(rec.created_day),
    ]


def _ecommerce(rec: _Record) -> list[str]:
    """Web-account CRM: first/last name, two address lines, ISO dates, user_id."""
    r, p, i = rec.r, rec.p, rec.i
    first, last = (rec.last, rec.first) if r.random() < 0.02 else (rec.first, rec.last)
    number, _, unit, city, state, _ = rec.address
    blank = rec.missing("ecommerce", "address")
    style = "ecommerce_dots" if r.random() < 0.3 else "ecommerce"
    signed_up = 0 <= p.signup_ms[i] <= rec.created or p.registered[i]
    return [
        "",
        (p.user_id[i] or "") if signed_up else "",
        first.lower() if r.random() < 0.1 else first,
        last,
        rec.email("ecommerce"),
        rec.phone("ecommerce", style),
        "" if blank else f"{number} {rec.street()}",
        "" if blank else unit,
        "" if blank else city,
        "" if blank else state,
        "" if blank else rec.zip(),
        "" if rec.missing("ecommerce", "dob") else rec.birth,
        rec.created_iso,
        "true" if p.email_optin[i] else "false",
    ]
