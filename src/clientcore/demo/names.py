"""Name, address and e-mail vocabularies, taken from Faker's data lists.

Faker is only read for its weighted lists (census-like first and last name
frequencies, street suffixes, city parts); all sampling is done with numpy,
because calling Faker per record is far too slow for millions of records.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from faker.providers.address import en_US as faker_address
from faker.providers.person import en_US as faker_person


@dataclass(frozen=True)
class Weighted:
    """Values with sampling probabilities (summing to one)."""

    values: tuple[str, ...]
    probs: np.ndarray

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Indices into ``values``."""
        return rng.choice(len(self.values), size=n, p=self.probs)


def _weighted(mapping: dict[str, float]) -> Weighted:
    values = tuple(mapping)
    probs = np.array([mapping[v] for v in values], dtype=np.float64)
    return Weighted(values, probs / probs.sum())


@cache
def first_names(gender: str) -> Weighted:
    """US first names with their frequencies, by gender (F, M, or X for any)."""
    person = faker_person.Provider
    source = {
        "F": person.first_names_female,
        "M": person.first_names_male,
    }.get(gender, person.first_names)
    return _weighted(dict(source))


@cache
def last_names() -> Weighted:
    """US surnames with census-like frequencies (Smith is ~100x a rare name)."""
    return _weighted(dict(faker_person.Provider.last_names))


#: Common suffixes get realistic weight; the rest of Faker's list fills the tail.
_COMMON_SUFFIXES = {
    "Street": 20.0,
    "Avenue": 14.0,
    "Road": 10.0,
    "Drive": 10.0,
    "Lane": 7.0,
    "Court": 5.0,
    "Way": 5.0,
    "Boulevard": 3.0,
    "Place": 3.0,
    "Circle": 3.0,
    "Trail": 2.0,
    "Parkway": 2.0,
}

SUFFIX_ABBREVIATIONS = {
    "Street": "St",
    "Avenue": "Ave",
    "Road": "Rd",
    "Drive": "Dr",
    "Lane": "Ln",
    "Court": "Ct",
    "Boulevard": "Blvd",
    "Place": "Pl",
    "Circle": "Cir",
    "Trail": "Trl",
    "Parkway": "Pkwy",
    "Way": "Wy",
}


@cache
def street_suffixes() -> Weighted:
    weights = {s: 0.15 for s in faker_address.Provider.street_suffixes}
    weights.update(_COMMON_SUFFIXES)
    return _weighted(weights)


#: Population weights of the states where the retailer has stores and customers.
STATE_WEIGHTS = {
    "CA": 39.0,
    "TX": 30.0,
    "FL": 22.0,
    "NY": 19.7,
    "PA": 13.0,
    "IL": 12.5,
    "OH": 11.8,
    "GA": 11.0,
    "NC": 10.8,
    "MI": 10.0,
    "NJ": 9.3,
    "VA": 8.7,
    "WA": 7.8,
    "AZ": 7.4,
    "MA": 7.0,
    "TN": 7.1,
    "IN": 6.8,
    "MO": 6.2,
    "MD": 6.2,
    "WI": 5.9,
    "CO": 5.9,
    "MN": 5.7,
    "SC": 5.3,
    "AL": 5.1,
    "OR": 4.2,
}

_ABBR_NO_DC = tuple(a for a in faker_address.Provider.states_abbr if a != "DC")
STATE_NAMES = dict(zip(_ABBR_NO_DC, faker_address.Provider.states, strict=True))
STATE_POSTCODES: dict[str, tuple[int, int]] = dict(faker_address.Provider.states_postcode)


def city_name(rng: np.random.Generator, first_names_pool: tuple[str, ...]) -> str:
    """A plausible US town name built the way Faker builds them (prefix, name, suffix)."""
    provider = faker_address.Provider
    name = first_names_pool[int(rng.integers(len(first_names_pool)))]
    suffix = provider.city_suffixes[int(rng.integers(len(provider.city_suffixes)))]
    prefix = provider.city_prefixes[int(rng.integers(len(provider.city_prefixes)))]
    kind = int(rng.integers(4))
    if kind == 0:
        return f"{prefix} {name}{suffix}"
    if kind == 1:
        return f"{prefix} {name}"
    return f"{name}{suffix}"


#: Free-mail domains with rough US market shares; the rest are ISP addresses.
EMAIL_DOMAINS = _weighted(
    {
        "gmail.com": 45.0,
        "yahoo.com": 13.0,
        "hotmail.com": 7.0,
        "outlook.com": 7.0,
        "icloud.com": 8.0,
        "aol.com": 4.0,
        "comcast.net": 3.0,
        "msn.com": 2.0,
        "live.com": 2.0,
        "att.net": 2.0,
        "verizon.net": 1.5,
        "me.com": 1.5,
        "protonmail.com": 1.0,
        "sbcglobal.net": 1.0,
        "ymail.com": 1.0,
    }
)

#: Formal name -> common nicknames (the CRM "Robert/Bob" problem).
NICKNAMES: dict[str, tuple[str, ...]] = {
    "Robert": ("Bob", "Rob", "Bobby"),
    "William": ("Bill", "Will", "Billy"),
    "James": ("Jim", "Jimmy", "Jamie"),
    "John": ("Jack", "Johnny"),
    "Michael": ("Mike", "Mikey"),
    "Richard": ("Rick", "Dick", "Rich"),
    "Thomas": ("Tom", "Tommy"),
    "Charles": ("Charlie", "Chuck"),
    "Christopher": ("Chris",),
    "Daniel": ("Dan", "Danny"),
    "Matthew": ("Matt",),
    "Anthony": ("Tony",),
    "Joseph": ("Joe", "Joey"),
    "David": ("Dave",),
    "Steven": ("Steve",),
    "Stephen": ("Steve",),
    "Edward": ("Ed", "Eddie", "Ted"),
    "Benjamin": ("Ben",),
    "Samuel": ("Sam",),
    "Nicholas": ("Nick",),
    "Jonathan": ("Jon",),
    "Andrew": ("Andy", "Drew"),
    "Joshua": ("Josh",),
    "Timothy": ("Tim",),
    "Gregory": ("Greg",),
    "Ronald": ("Ron",),
    "Kenneth": ("Ken", "Kenny"),
    "Donald": ("Don",),
    "Gerald": ("Jerry",),
    "Lawrence": ("Larry",),
    "Patrick": ("Pat",),
    "Peter": ("Pete",),
    "Raymond": ("Ray",),
    "Alexander": ("Alex",),
    "Zachary": ("Zach",),
    "Jeffrey": ("Jeff",),
    "Douglas": ("Doug",),
    "Frederick": ("Fred",),
    "Elizabeth": ("Liz", "Beth", "Betty", "Eliza"),
    "Jennifer": ("Jen", "Jenny"),
    "Katherine": ("Kate", "Kathy", "Katie"),
    "Catherine": ("Cathy", "Kate"),
    "Kathleen": ("Kathy",),
    "Margaret": ("Maggie", "Peggy", "Meg"),
    "Patricia": ("Pat", "Patty", "Trish"),
    "Susan": ("Sue", "Susie"),
    "Deborah": ("Debbie", "Deb"),
    "Rebecca": ("Becky",),
    "Jessica": ("Jess",),
    "Christina": ("Chris", "Tina"),
    "Christine": ("Chris",),
    "Victoria": ("Vicky", "Tori"),
    "Samantha": ("Sam",),
    "Alexandra": ("Alex",),
    "Abigail": ("Abby",),
    "Stephanie": ("Steph",),
    "Pamela": ("Pam",),
    "Cynthia": ("Cindy",),
    "Kimberly": ("Kim",),
    "Amanda": ("Mandy",),
    "Melissa": ("Missy",),
    "Theresa": ("Terri",),
    "Barbara": ("Barb",),
    "Dorothy": ("Dot",),
    "Nicole": ("Nikki",),
    "Jacqueline": ("Jackie",),
    "Suzanne": ("Sue",),
    "Valerie": ("Val",),
    "Gabriel": ("Gabe",),
    "Nathaniel": ("Nate",),
    "Nathan": ("Nate",),
    "Vincent": ("Vince",),
    "Phillip": ("Phil",),
    "Philip": ("Phil",),
    "Leonard": ("Len", "Lenny"),
}

#: Words for apartment / unit designators, as people actually write them.
UNIT_FORMATS = ("Apt {n}", "Apt. {n}", "Unit {n}", "#{n}", "Suite {n}")
