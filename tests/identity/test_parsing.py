"""Sharing the parsing of many keys with a helper process: same answers, whoever parses."""

from __future__ import annotations

import sys
import time

import pytest

from clientcore.identity import parsing
from clientcore.identity.extract import normalize_values
from clientcore.identity.normalize import Normalizers
from clientcore.identity.spec import Normalizer

KEYS: list[tuple[Normalizer, str]] = [("phone", f"415867{n:04d}") for n in range(200)] + [
    ("email", f"user{n}@example.com") for n in range(200)
]


class _SlowHere(Normalizers):
    """Parses slowly in this process, and counts what the helper parsed for it."""

    def __init__(self) -> None:
        super().__init__("US")
        self.learned = 0

    def by_key(self, kind: Normalizer, key: str) -> str | None:
        if not self.known(kind, key):
            time.sleep(0.01)
        return super().by_key(kind, key)

    def learn(self, kind: Normalizer, key: str, value: str | None) -> None:
        self.learned += 1
        super().learn(kind, key, value)


def _answers(normalizers: Normalizers) -> list[str | None]:
    return [normalizers.by_key(kind, key) for kind, key in KEYS]


def test_the_helper_takes_what_this_process_has_not_reached(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alone = Normalizers("US")
    parsing.parse_keys(KEYS, alone)  # below the threshold: all here
    monkeypatch.setattr(parsing, "PARALLEL_ABOVE", 4)
    monkeypatch.setattr(parsing, "CHUNK", 5)
    shared = _SlowHere()
    parsing.parse_keys(KEYS, shared)
    assert shared.learned >= len(KEYS) // 2  # the helper did most of it
    assert _answers(shared) == _answers(alone)
    assert _answers(alone)[0] == "+14158670000"


def test_without_a_helper_this_process_parses_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(parsing, "PARALLEL_ABOVE", 4)
    monkeypatch.setattr(sys, "executable", "/bin/false")
    normalizers = Normalizers("US")
    with pytest.warns(RuntimeWarning, match="helper failed"):
        parsing.parse_keys(KEYS, normalizers)
    reference = Normalizers("US")
    assert _answers(normalizers) == _answers(reference)


def test_values_of_raw_spellings_are_the_same_in_one_process_or_two(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raws: list[tuple[Normalizer, str]] = [("phone", f"(415) 867-{n:04d}") for n in range(30)]
    raws += [("email", f" User{n}@Example.com") for n in range(30)]
    raws += [("email", "broken"), ("text", " cookie-1 "), ("upper", "lc 100")]
    alone = normalize_values(raws, Normalizers("US"), "US")
    monkeypatch.setattr(parsing, "PARALLEL_ABOVE", 4)
    shared = normalize_values(raws, Normalizers("US"), "US")
    assert shared == alone
    assert alone[0] == "+14158670000"
    assert alone[-3:] == [None, "cookie-1", "LC100"]
