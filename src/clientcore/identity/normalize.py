"""Identifier normalization with well-kept libraries: phones to E.164, emails validated.

A value that does not normalize (an email without a domain, "0000000000") is not an
identifier: it can link nobody. The libraries see each distinct *key* once: an email's key is
its lower-cased, stripped spelling and a phone's its digits (with a leading plus), because a
store holds many spellings of few addresses and numbers and parsing is the expensive part of a
rebuild (parsing.py shares a long list of keys between two processes).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from clientcore.identity.spec import Normalizer


def normalize_email(raw: str) -> str | None:
    try:
        checked = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None
    return checked.normalized.lower()


# Deletes every ASCII character but the digits: str.isdigit() is true for no other ASCII one.
_ASCII_NON_DIGITS = {code: None for code in range(128) if not chr(code).isdigit()}


def _phone_key(raw: str) -> str:
    """The characters that carry meaning in a phone number: digits and a leading plus."""
    text = raw.strip()
    if text.isascii():
        digits = text.translate(_ASCII_NON_DIGITS)
    else:  # other scripts' digits are digits too, and phonenumbers reads them
        digits = "".join(ch for ch in text if ch.isdigit())
    return ("+" + digits) if text.startswith("+") or text.startswith("00") else digits


def normalize_phone(raw: str, region: str = "US") -> str | None:
    key = _phone_key(raw)
    if len(key.lstrip("+")) < 5:
        return None
    try:
        number = phonenumbers.parse(key if not key.startswith("+00") else "+" + key[3:], region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_text(raw: str) -> str | None:
    value = raw.strip()
    return value or None


def normalize_upper(raw: str) -> str | None:
    """Card numbers: case and inner spaces are how people type them, not part of them."""
    value = "".join(raw.split()).upper()
    return value or None


def normalize_name(raw: str) -> str | None:
    """A person's name as people type it: case, accents and spacing vary, the name does not
    ("  Zoë " is "zoe")."""
    bare = unicodedata.normalize("NFKD", raw)
    bare = "".join(ch for ch in bare if not unicodedata.combining(ch))
    value = " ".join(bare.casefold().split())
    return value or None


def _email_key(raw: str) -> str:
    return raw.strip().lower()


def _same(raw: str) -> str:
    return raw


# Per normalizer: the key a raw value is cached under, and what the key normalizes to.
# Two spellings with one key always normalize alike (normalize_email strips and lower-cases
# the result anyway; normalize_phone reads nothing but the key).
_KEYS: dict[str, Callable[[str], str]] = {
    "email": _email_key,
    "phone": _phone_key,
    "text": _same,
    "upper": _same,
    "name": _same,
}
EXPENSIVE = ("email", "phone")  # the libraries' kinds: worth sharing between two processes


def parse_key(kind: Normalizer, key: str, region: str) -> str | None:
    """The normalized value of a key (see _KEYS), None when it is not an identifier."""
    if kind == "email":
        return normalize_email(key)
    if kind == "phone":
        return normalize_phone(key, region)
    if kind == "upper":
        return normalize_upper(key)
    if kind == "name":
        return normalize_name(key)
    return normalize_text(key)


class Normalizers:
    """Cached normalization of raw identifier values, per kind: the library sees each key once."""

    def __init__(self, region: str = "US") -> None:
        self.region = region
        self._keys: dict[tuple[str, str], str | None] = {}

    @staticmethod
    def key(kind: Normalizer, raw: str) -> str:
        return _KEYS[kind](raw)

    def known(self, kind: Normalizer, key: str) -> bool:
        return (kind, key) in self._keys

    def learn(self, kind: Normalizer, key: str, value: str | None) -> None:
        """Record a key's value parsed elsewhere (in the second process)."""
        self._keys[(kind, key)] = value

    def by_key(self, kind: Normalizer, key: str) -> str | None:
        found = self._keys.get((kind, key), _MISSING)
        if found is _MISSING:
            found = self._keys[(kind, key)] = parse_key(kind, key, self.region)
        return found  # type: ignore[return-value]

    def __call__(self, kind: Normalizer, raw: str) -> str | None:
        return self.by_key(kind, _KEYS[kind](raw))


_MISSING = object()


def candidates(raw: str, region: str = "US") -> list[tuple[str, str]]:
    """What a typed-in identifier could be, as (normalizer, value) pairs to look up.

    `clientcore profile` accepts any identifier without saying its kind: an email in any case
    or spacing, a phone in any usual format, or an id as stored.
    """
    found: list[tuple[str, str]] = []
    email = normalize_email(raw) if "@" in raw else None
    if email:
        found.append(("email", email))
    phone = normalize_phone(raw, region) if any(ch.isdigit() for ch in raw) else None
    if phone:
        found.append(("phone", phone))
    for kind, fn in (("text", normalize_text), ("upper", normalize_upper)):
        value = fn(raw)
        if value and (kind, value) not in found:
            found.append((kind, value))
    return found
