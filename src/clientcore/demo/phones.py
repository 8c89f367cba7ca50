"""Valid phone numbers without calling phonenumbers per record.

US numbers use real area codes of the person's state; UK mobile prefixes are read
once from phonenumbers' own metadata. A number is a bijection of a global slot into
that space, so every number is valid and unique by construction.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import phonenumbers

from clientcore.demo.ids import scramble

#: Real area codes of the states where the retailer operates (checked against
#: phonenumbers' metadata by the tests, for every exchange used).
STATE_AREA_CODES: dict[str, tuple[int, ...]] = {
    "CA": (213, 310, 415, 408, 510, 619, 714, 818, 916, 949),
    "TX": (214, 512, 713, 817, 210, 972, 281),
    "FL": (305, 407, 813, 904, 954, 561),
    "NY": (212, 718, 516, 914, 585, 716),
    "PA": (215, 412, 610, 717),
    "IL": (312, 773, 630, 847),
    "OH": (216, 614, 513, 330),
    "GA": (404, 770, 678, 912),
    "NC": (704, 919, 336),
    "MI": (313, 248, 616, 734),
    "NJ": (201, 973, 732, 908),
    "VA": (703, 757, 804),
    "WA": (206, 425, 253, 509),
    "AZ": (602, 480, 520),
    "MA": (617, 508, 781, 413),
    "TN": (615, 901, 865),
    "IN": (317, 219, 812),
    "MO": (314, 816, 417),
    "MD": (410, 301, 443),
    "WI": (414, 608, 920),
    "CO": (303, 720, 719),
    "MN": (612, 651, 952),
    "SC": (803, 843, 864),
    "AL": (205, 251, 256),
    "OR": (503, 541, 971),
}
#: Exchanges 200-999 except the N11 service codes and the fictional 555.
US_EXCHANGES = np.array([e for e in range(200, 1000) if e % 100 != 11 and e != 555], dtype=np.int64)
_LINES = 10_000
_AC_RANKS = 3  # every state has at least three area codes
_UK_SUBSCRIBER = 1_000_000


def _valid(country_code: int, national: int) -> bool:
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=national)
    return phonenumbers.is_valid_number(number)


def us_slot_capacity() -> int:
    """Number of distinct slots (per state) that map to distinct numbers."""
    return _AC_RANKS * len(US_EXCHANGES) * _LINES


def us_numbers(slots: np.ndarray, states: list[str], salt: int) -> np.ndarray:
    """Ten-digit US national numbers (int64) with an area code of the person's state.

    Distinct slots give distinct numbers: area codes never repeat across states, and
    within a state the (area-code rank, exchange, line) triple is a bijection of the slot.
    """
    pos = scramble(slots, us_slot_capacity(), salt + 17)
    line = pos % _LINES
    rest = pos // _LINES
    exchange = US_EXCHANGES[rest % len(US_EXCHANGES)]
    rank = (rest // len(US_EXCHANGES)).tolist()
    ac = np.array(
        [STATE_AREA_CODES[s][r] for s, r in zip(states, rank, strict=True)], dtype=np.int64
    )
    return ac * 10_000_000 + exchange * _LINES + line


@cache
def uk_mobile_prefixes() -> np.ndarray:
    """Four-digit ``7xxx`` UK mobile prefixes valid for any six-digit subscriber number."""
    prefixes = [
        p
        for p in range(7100, 8000)
        if all(_valid(44, int(f"{p}{s}")) for s in ("000000", "555555", "999999"))
    ]
    return np.array(prefixes, dtype=np.int64)


def uk_numbers(slots: np.ndarray, salt: int) -> np.ndarray:
    """Ten-digit UK mobile national numbers (``7xxxxxxxxx``), unique for distinct slots."""
    prefixes = uk_mobile_prefixes()
    pos = scramble(slots, len(prefixes) * _UK_SUBSCRIBER, salt + 29)
    return prefixes[pos // _UK_SUBSCRIBER] * _UK_SUBSCRIBER + pos % _UK_SUBSCRIBER


def e164(country_code: int, national: str) -> str:
    """Canonical E.164 form (what ``phonenumbers.format_number(..., E164)`` gives)."""
    return f"+{country_code}{national}"


#: Formats used in events; US ones without a country code assume region US.
EVENT_FORMATS_US = 4
EVENT_FORMATS_UK = 2


def format_event(country_code: int, national: str, variant: int) -> str:
    """One of the phone spellings seen in event payloads."""
    d = national
    if country_code == 44:
        return f"+44 {d[:4]} {d[4:]}" if variant % 2 == 0 else f"+44{d}"
    v = variant % EVENT_FORMATS_US
    if v == 0:
        return f"+1 {d[:3]}-{d[3:6]}-{d[6:]}"
    if v == 1:
        return f"({d[:3]}) {d[3:6]}-{d[6:]}"
    if v == 2:
        return d
    return f"+1{d}"


def format_crm(country_code: int, national: str, style: str) -> str:
    """Phone spellings of the CRM exports (``style`` names the source's habit)."""
    d = national
    if country_code == 44:
        if style == "sales":
            return f"0{d[:4]} {d[4:]}"
        if style == "callcenter":
            return f"+44 {d[:4]} {d[4:]}"
        return f"+44{d}"
    if style == "sales":
        return f"({d[:3]}) {d[3:6]}-{d[6:]}"
    if style == "callcenter":
        return f"{d[:3]}-{d[3:6]}-{d[6:]}"
    if style == "callcenter_intl":
        return f"+1 {d[:3]} {d[3:6]} {d[6:]}"
    if style == "ecommerce_dots":
        return f"{d[:3]}.{d[3:6]}.{d[6:]}"
    return f"+1{d}"
