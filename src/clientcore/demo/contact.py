"""Contact details: street addresses, name-based e-mail addresses, loyalty card numbers.

E-mails are built from names the way people build them (john.smith87@gmail.com), so
common names collide; a registry shared by all blocks keeps every address unique.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from clientcore.demo.ids import digit_strings, luhn_complete, scramble
from clientcore.demo.names import (
    EMAIL_DOMAINS,
    UNIT_FORMATS,
    first_names,
    last_names,
    street_suffixes,
)
from clientcore.demo.world import World

Address = tuple[str, str, str, str, str, str]  # number, street, unit, city, state, zip


def loyalty_cards(slots: np.ndarray, salt: int) -> list[str]:
    """16-digit card numbers with the retailer's prefix and a valid Luhn check digit."""
    bodies = ["6280" + s for s in digit_strings(scramble(slots, 10**11, salt + 5), 11)]
    return luhn_complete(bodies)


def addresses(
    rng: np.random.Generator, world: World, home_state: list[str], near_city: list[str]
) -> list[Address]:
    """Street addresses, mostly in the home store's state and often in its town."""
    n = len(home_state)
    move_state = (rng.random(n) > 0.85).tolist()
    rand_state = rng.choice(len(world.states), size=n, p=world.state_probs).tolist()
    town = rng.integers(0, len(world.cities[world.states[0]]), n).tolist()
    keep_town = (rng.random(n) < 0.45).tolist()
    zip_off = rng.integers(0, 40, n).tolist()
    number = np.exp(rng.uniform(np.log(5.0), np.log(12000.0), n)).astype(int).tolist()
    use_last = (rng.random(n) < 0.6).tolist()
    base = rng.integers(0, 300, n).tolist()
    suffixes = street_suffixes()
    suffix = suffixes.sample(rng, n).tolist()
    has_unit = (rng.random(n) < 0.2).tolist()
    unit_no = rng.integers(1, 40, n).tolist()
    letter = rng.integers(-6, 4, n).tolist()  # a letter suffix 40% of the time
    fmt = rng.integers(0, len(UNIT_FORMATS), n).tolist()
    surnames, forenames = last_names().values, first_names("X").values
    out: list[Address] = []
    for k in range(n):
        state = world.states[rand_state[k]] if move_state[k] else home_state[k]
        towns = world.cities[state]
        city = near_city[k] if keep_town[k] and near_city[k] in towns else towns[town[k]]
        zip_code = str(world.city_zip[(state, city)] + zip_off[k]).zfill(5)
        street = (surnames if use_last[k] else forenames)[base[k]]
        unit = ""
        if has_unit[k]:
            label = str(unit_no[k]) + ("ABCD"[letter[k]] if letter[k] >= 0 else "")
            unit = UNIT_FORMATS[fmt[k]].format(n=label)
        out.append(
            (str(number[k]), f"{street} {suffixes.values[suffix[k]]}", unit, city, state, zip_code)
        )
    return out


class EmailRegistry:
    """All e-mail addresses handed out so far, so that no two people share one by accident."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def claim(self, rng: np.random.Generator, local: str, domain: str) -> str:
        """Reserve ``local@domain``, adding digits as people do when it is taken."""
        candidate = f"{local}@{domain}"
        while candidate in self._taken:
            candidate = f"{local}{int(rng.integers(1, 1000))}@{domain}"
        self._taken.add(candidate)
        return candidate


_PATTERNS = (
    ("{f}.{l}", 0.24),
    ("{f}{l}", 0.14),
    ("{f}.{l}{yy}", 0.12),
    ("{f}{l}{nn}", 0.12),
    ("{i}{l}", 0.12),
    ("{f}_{l}", 0.05),
    ("{f}{yy}", 0.06),
    ("{l}.{f}", 0.05),
    ("{i}{l}{nn}", 0.1),
)


@cache
def _clean(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def emails(
    rng: np.random.Generator,
    first: list[str],
    last: list[str],
    birth_ms: np.ndarray,
    family: np.ndarray,
    start: int,
    registry: EmailRegistry,
) -> tuple[list[str], list[str | None], np.ndarray]:
    """Name-based addresses (john.smith87@gmail.com); families share one."""
    n = len(first)
    pattern_p = np.array([p for _, p in _PATTERNS])
    patterns = rng.choice(len(pattern_p), size=2 * n, p=pattern_p / pattern_p.sum()).tolist()
    domains = EMAIL_DOMAINS.sample(rng, 2 * n).tolist()
    years = (birth_ms.astype("datetime64[ms]").astype("datetime64[Y]").astype(int) + 1970) % 100
    nums = rng.integers(1, 999, 2 * n).tolist()
    has_old = (rng.random(n) < 0.3).tolist()

    def build(k: int, slot: int) -> str:
        f, ll = _clean(first[k]), _clean(last[k])
        local = _PATTERNS[patterns[slot]][0].format(
            f=f, l=ll, i=f[:1], yy=f"{years[k]:02d}", nn=nums[slot]
        )
        return registry.claim(rng, local, EMAIL_DOMAINS.values[domains[slot]])

    email = [build(k, k) for k in range(n)]
    email_old = [build(k, n + k) if has_old[k] else None for k in range(n)]
    family_email = family >= 0
    for head in sorted(set((family[family_email] - start).tolist())):
        members = np.flatnonzero(family == head + start).tolist()
        local = f"the{_clean(last[head])}s" if rng.random() < 0.5 else f"{_clean(last[head])}family"
        shared = registry.claim(rng, local, EMAIL_DOMAINS.values[domains[head]])
        for k in members:
            # A member's own address becomes their "old" one; the household one is current.
            email_old[k] = email[k] if rng.random() < 0.5 else email_old[k]
            email[k] = shared
    return email, email_old, family_email
