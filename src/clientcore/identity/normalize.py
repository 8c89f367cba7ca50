"""Identifier normalization with well-kept libraries: phones to E.164, emails validated.

A value that does not normalize (an email without a domain, "0000000000") is not an
identifier: it can link nobody. Results are cached per distinct raw value, and phone numbers
per distinct digit string, because a store holds many spellings of few numbers and parsing is
the expensive part of a rebuild.
"""

from __future__ import annotations

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


def _phone_key(raw: str) -> str:
    """The characters that carry meaning in a phone number: digits and a leading plus."""
    text = raw.strip()
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


class Normalizers:
    """Cached normalization of raw identifier values, per kind."""

    def __init__(self, region: str = "US") -> None:
        self.region = region
        self._cache: dict[tuple[str, str], str | None] = {}
        self._phones: dict[str, str | None] = {}
        self._emails: dict[str, str | None] = {}
        self._fns: dict[str, Callable[[str], str | None]] = {
            "email": self._email,
            "phone": self._phone,
            "text": normalize_text,
            "upper": normalize_upper,
        }

    def _email(self, raw: str) -> str | None:
        """Validated once per spelling that differs only in case and surrounding spaces."""
        key = raw.strip().lower()
        if key not in self._emails:
            self._emails[key] = normalize_email(key)
        return self._emails[key]

    def _phone(self, raw: str) -> str | None:
        key = _phone_key(raw)
        if key not in self._phones:
            self._phones[key] = normalize_phone(key, self.region)
        return self._phones[key]

    def __call__(self, kind: Normalizer, raw: str) -> str | None:
        cached = self._cache.get((kind, raw), _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
        value = self._fns[kind](raw)
        self._cache[(kind, raw)] = value
        return value


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
