"""A CRM export's rows, mapped and standardized into customer records (Arrow in, Arrow out).

Every field is standardized per distinct raw value, because exports repeat the same towns,
names and dates many times: names (`names.py`), addresses (`address.py`), birth dates in the
source's own order of day and month, phones to E.164 with `phonenumbers` and e-mails with
`email-validator` (the identity normalizers, parsed in two processes when there are many).
A placeholder typed to fill a mandatory box (`noemail@…`, `0000000000`) is no identifier and
becomes empty, as does anything that does not parse.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date
from functools import lru_cache
from typing import TypeVar

import pyarrow as pa

from clientcore.identity.extract import normalize_values
from clientcore.identity.normalize import Normalizers
from clientcore.reconcile.address import (
    split_one_line,
    split_street,
    standardize_city,
    standardize_postcode,
    standardize_state,
    standardize_street,
    standardize_unit,
)
from clientcore.reconcile.fields import RECORD_FIELDS
from clientcore.reconcile.mapping import DateOrder, SourceMapping
from clientcore.reconcile.names import fold, split_full_name, standardize_given, standardize_surname

_PLACEHOLDER_LOCALS = frozenset(
    {"noemail", "no.email", "none", "nomail", "na", "n.a", "noreply", "no-reply", "unknown",
     "test", "null", "email", "declined", "refused", "noone", "nobody"}
)  # fmt: skip
_DIGITS = re.compile(r"\d+")
T = TypeVar("T")
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=100_000)
def standardize_date(raw: str, order: DateOrder = "auto") -> str | None:
    """`YYYY-MM-DD` from `MM/DD/YYYY`, `DD.MM.YYYY`, `YYYY-MM-DD`, `YYYYMMDD` or a timestamp.

    With `auto`, dots mean day first and slashes month first (the US habit). A date that is
    not in the calendar (`1958-13-02`, a typo) is kept in the same shape, because a typo of
    the right date is still evidence; text that is no date at all becomes None.
    """
    text = raw.strip()[:10] if "T" in raw else raw.strip()
    parts = _DIGITS.findall(text)
    if len(parts) == 1 and len(parts[0]) == 8:
        parts = [parts[0][:4], parts[0][4:6], parts[0][6:]]
    if len(parts) != 3:
        return None
    if order == "auto":
        order = "ymd" if len(parts[0]) == 4 else "dmy" if "." in text else "mdy"
    if order == "ymd":
        y, m, d = parts
    elif order == "mdy":
        m, d, y = parts
    else:
        d, m, y = parts
    if len(y) != 4 or not (1 <= len(m) <= 2 and 1 <= len(d) <= 2):
        return None
    return f"{y}-{int(m):02d}-{int(d):02d}"


def is_calendar_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _identifier(raw: str) -> str | None:
    """Card numbers, national ids, logins: case and inner spaces are typing, not data."""
    value = "".join(fold(raw).split()).upper()
    return value or None


def _clean_email(value: str | None) -> str | None:
    if value is None:
        return None
    local = value.split("@", 1)[0]
    return None if local in _PLACEHOLDER_LOCALS else value


def _clean_phone(value: str | None) -> str | None:
    """Numbers of one repeated digit (`+10000000000`) are placeholders, even when valid."""
    if value is None:
        return None
    return None if len(set(value.lstrip("+")[1:])) <= 1 else value


def _map_distinct(values: Sequence[str | None], fn: Callable[[str], T]) -> list[T | None]:
    cache: dict[str, T] = {}
    out: list[T | None] = []
    for value in values:
        if value is None or not value.strip():
            out.append(None)
            continue
        if value not in cache:
            cache[value] = fn(value)
        out.append(cache[value])
    return out


def _contacts(
    emails: Sequence[str | None], phones: Sequence[str | None], region: str
) -> tuple[list[str | None], list[str | None]]:
    """Emails and phones through the identity normalizers, once per distinct raw value."""
    distinct = sorted(
        {("email", e) for e in emails if e and e.strip()}
        | {("phone", p) for p in phones if p and p.strip()}
    )
    normalized = normalize_values(distinct, Normalizers(region), region)
    found = dict(zip(distinct, normalized, strict=True))
    return (
        [_clean_email(found.get(("email", e))) if e else None for e in emails],
        [_clean_phone(found.get(("phone", p))) if p else None for p in phones],
    )


def standardize(raw: dict[str, list[str | None]], mapping: SourceMapping) -> dict[str, list]:
    """Standardized RECORD_FIELDS from raw mapped columns ({field: values}), row for row."""
    n = len(raw["record_id"])
    empty: list[str | None] = [None] * n
    col = lambda name: raw.get(name, empty)  # noqa: E731
    out: dict[str, list] = {name: list(empty) for name in RECORD_FIELDS}

    # Names: separate columns win; a full name fills what they leave empty.
    out["given_name"] = _map_distinct(col("given_name"), standardize_given)
    out["surname"] = _map_distinct(col("surname"), standardize_surname)
    if "full_name" in raw:
        split = _map_distinct(col("full_name"), split_full_name)
        for i, parts in enumerate(split):
            if parts is None:
                continue
            given, surname = parts
            out["given_name"][i] = out["given_name"][i] or given
            out["surname"][i] = out["surname"][i] or surname
        out["full_name"] = [
            _SPACES.sub(" ", v.strip()) or None if v else None for v in col("full_name")
        ]

    out["birth_date"] = _map_distinct(
        col("birth_date"), lambda v: standardize_date(v, mapping.date_order)
    )
    out["email"], out["phone"] = _contacts(col("email"), col("phone"), mapping.phone_region)

    # Addresses: a one-line address fills the parts; a house number inside address_1 is split.
    streets = _map_distinct(col("address_1"), split_street)
    numbers = _map_distinct(col("street_number"), lambda v: _identifier(v))
    for i in range(n):
        street = streets[i]
        if street is not None:
            number, name, unit = street
            out["address_1"][i] = name
            out["street_number"][i] = numbers[i] or (number.upper() if number else None)
            out["address_2"][i] = unit
        else:
            out["street_number"][i] = numbers[i]
    units = _map_distinct(col("address_2"), standardize_unit)
    out["address_2"] = [u or a for u, a in zip(units, out["address_2"], strict=True)]
    out["suburb"] = _map_distinct(col("suburb"), standardize_city)
    out["city"] = _map_distinct(col("city"), standardize_city)
    out["postcode"] = _map_distinct(col("postcode"), standardize_postcode)
    out["state"] = _map_distinct(col("state"), standardize_state)
    if "address" in raw:
        lines = _map_distinct(col("address"), split_one_line)
        for i, line in enumerate(lines):
            if line is None:
                continue
            filled = zip(
                ("street_number", "address_1", "address_2", "city", "state", "postcode"),
                line,
                strict=True,
            )
            for name, value in filled:
                if out[name][i] is None and value is not None:
                    out[name][i] = value.upper() if name == "street_number" else value
    out["country"] = _map_distinct(col("country"), lambda v: _identifier(v))
    if mapping.country:
        out["country"] = [c or mapping.country for c in out["country"]]
    for name in ("national_id", "loyalty_card"):
        out[name] = _map_distinct(col(name), _identifier)
    # Logins are case-sensitive ids, stored as the identity graph stores them.
    out["user_id"] = _map_distinct(col("user_id"), lambda v: v.strip() or None)
    return out


def record_schema() -> pa.Schema:
    return pa.schema([(name, pa.string()) for name in RECORD_FIELDS])


__all__ = [
    "RECORD_FIELDS",
    "is_calendar_date",
    "record_schema",
    "standardize",
    "standardize_date",
    "standardize_street",
]
