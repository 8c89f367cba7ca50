"""Normalization: the libraries' verdicts, and the same answers by the vectorized path."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clientcore.identity.extract import TIMESTAMP, identify
from clientcore.identity.normalize import (
    Normalizers,
    _phone_key,
    candidates,
    normalize_email,
    normalize_name,
    normalize_phone,
)
from clientcore.identity.spec import DEFAULT_SPEC


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
    [
        ("Anna", "anna"),
        ("  ZOË ", "zoe"),
        ("José  María", "jose maria"),
        ("Straße", "strasse"),
        ("ﬁona", "fiona"),
        ("   ", None),
        ("", None),
    ],
)
def test_names_fold_case_accents_and_spacing(raw: str, expected: str | None) -> None:
    assert normalize_name(raw) == expected
    assert Normalizers()("name", raw) == expected


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


@given(st.text())
def test_phone_keys_read_digits_of_every_script(raw: str) -> None:
    text = raw.strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    expected = ("+" + digits) if text.startswith(("+", "00")) else digits
    assert _phone_key(raw) == expected


_SPACES = st.sampled_from([" ", "\t", "\n", "\x1c", "\x85", "\xa0", "\u2003", "\u3000", ""])
_ODD = st.text(alphabet=st.characters(codec="utf-8"), max_size=6)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["user_id", "email", "phone", "loyalty_card", "anonymous_id"]),
            st.one_of(
                st.builds(lambda a, b, c: a + b + c, _SPACES, _ODD, _SPACES),
                st.sampled_from(["cookie-1", " Anna@Example.com", "(415) 867-5309", "lc 100"]),
            ),
        ),
        max_size=30,
    )
)
def test_identify_normalizes_as_the_normalizers_do(rows: list[tuple[str, str]]) -> None:
    """Whatever the raw text (odd spaces, other scripts, empty), the vectorized path gives
    each occurrence the value Normalizers gives its raw text, and drops the same ones."""
    spec = DEFAULT_SPEC
    occurrences = pa.table(
        {
            "seq": pa.array(range(1, len(rows) + 1), pa.int64()),
            "timestamp": pa.array([seq * 1000 for seq in range(1, len(rows) + 1)], TIMESTAMP),
            "type": pa.array([spec.rank(kind) for kind, _ in rows], pa.int32()),
            "raw": pa.array([raw for _, raw in rows], pa.string()),
        }
    )
    found = identify(occurrences, spec, Normalizers("US"))
    ident = found.identifiers
    value_of = {
        i: (kind, value)
        for i, (kind, value) in enumerate(
            zip(ident.column("type").to_pylist(), ident.column("value").to_pylist(), strict=True)
        )
    }
    got = [
        (seq, value_of[i]) for seq, i in zip(found.seq.tolist(), found.ident.tolist(), strict=True)
    ]
    assert len(got) == len(set(got))
    assert found.seq.tolist() == sorted(found.seq.tolist())
    assert found.timestamp.tolist() == [seq * 1000 for seq in found.seq.tolist()]
    reference = Normalizers("US")
    kinds = {rule.type: rule.normalize for rule in spec.identifiers}
    expected = set()
    for seq, (kind, raw) in enumerate(rows, start=1):
        value = reference(kinds[kind], raw)
        if value is not None:
            expected.add((seq, (kind, value)))
    assert set(got) == expected
    assert len(set(value_of.values())) == len(value_of)  # one row per identifier
    first = dict(zip(value_of.values(), ident.column("first_seq").to_pylist(), strict=True))
    for seq, key in expected:
        assert first[key] <= seq
