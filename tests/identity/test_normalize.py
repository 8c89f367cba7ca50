"""Normalization: the libraries' verdicts, and the same answers in one process or two."""

from __future__ import annotations

import pytest

from clientcore.identity import extract
from clientcore.identity.normalize import Normalizers, candidates, normalize_email, normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(415) 867-5309", "+14158675309"),
        ("+1 415-867-5309", "+14158675309"),
        ("4158675309", "+14158675309"),
        ("+44 7911 123456", "+447911123456"),
        ("0000000000", None),
        ("12", None),
    ],
)
def test_phones_become_e164_or_nothing(raw: str, expected: str | None) -> None:
    assert normalize_phone(raw, "US") == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" Anna.K@Example.COM ", "anna.k@example.com"), ("not-an-email", None), ("a@b", None)],
)
def test_emails_are_validated_and_lower_cased(raw: str, expected: str | None) -> None:
    assert normalize_email(raw) == expected


def test_a_typed_identifier_may_be_several_things() -> None:
    kinds = [kind for kind, _ in candidates("4158675309")]
    assert "phone" in kinds
    assert "text" in kinds


def test_two_processes_give_the_same_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    items = [("phone", f"(415) 867-{n:04d}") for n in range(30)]
    items += [("email", f" User{n}@Example.com") for n in range(30)]
    items += [("email", "broken"), ("text", " cookie-1 "), ("upper", "lc 100")]
    alone = extract.normalize_values(items, Normalizers("US"), "US")
    monkeypatch.setattr(extract, "PARALLEL_ABOVE", 4)
    shared = extract.normalize_values(items, Normalizers("US"), "US")
    assert shared == alone
    assert alone[-3:] == [None, "cookie-1", "LC100"]
