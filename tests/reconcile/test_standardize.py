"""Standardization of names, addresses, dates, phones and e-mails, one rule per test."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clientcore.reconcile import MappingError
from clientcore.reconcile.address import (
    split_one_line,
    split_street,
    standardize_postcode,
    standardize_state,
    standardize_street,
    standardize_unit,
)
from clientcore.reconcile.mapping import SourceMapping, parse_map_options, resolve_mapping
from clientcore.reconcile.names import (
    _SUFFIXES,
    _TITLES,
    given_roots,
    split_full_name,
    standardize_given,
    standardize_surname,
)
from clientcore.reconcile.standardize import standardize, standardize_date


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("SMITH, JOHN", ("john", "smith")),
        ("John A. Smith", ("john", "smith")),
        ("Mr. John Smith Jr.", ("john", "smith")),
        ("josé van der Berg", ("jose", "vanderberg")),
        ("O'Brien, Mary-Kate", ("marykate", "obrien")),
        ("Smith", (None, "smith")),
        ("  ", (None, None)),
    ],
)
def test_full_names_split_into_given_and_surname(
    raw: str, expected: tuple[str | None, str | None]
) -> None:
    assert split_full_name(raw) == expected


def test_given_names_lose_case_initials_and_titles() -> None:
    assert standardize_given("JOHN A.") == "john"
    assert standardize_given("Dr. Ann") == "ann"
    assert standardize_given("J.") == "j"
    assert standardize_surname("McCoy ") == "mccoy"
    assert standardize_surname("Smith-Jones") == "smithjones"


def test_nicknames_point_to_their_formal_names_without_replacing_them() -> None:
    assert given_roots("bob") == ("robert",)
    assert given_roots("robert") == ("robert",)
    assert set(given_roots("chris")) == {"christina", "christine", "christopher"}
    assert given_roots("zebulon") == ("zebulon",)
    assert given_roots(None) == ()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Oak Street", "oak st"),
        ("OAK ST.", "oak st"),
        ("Oak Avenue North", "oak ave n"),
        ("Pine Boulevard", "pine blvd"),
        ("Bradley Wy", "bradley way"),
        ("goldfinch circuit", "goldfinch cct"),
    ],
)
def test_street_suffixes_take_the_usps_abbreviation(raw: str, expected: str) -> None:
    assert standardize_street(raw) == expected


def test_a_street_line_splits_into_number_street_and_unit() -> None:
    assert split_street("12 Oak St Apt 4") == ("12", "oak st", "4")
    assert split_street("770 Cole Pl Suite 22D") == ("770", "cole pl", "22d")
    assert split_street("5 Elm Road #7") == ("5", "elm rd", "7")
    assert split_street("Elm Road") == (None, "elm rd", None)
    assert standardize_unit("Apt 4") == standardize_unit("#4") == "4"


def test_one_line_addresses_are_parsed() -> None:
    assert split_one_line("12 Oak St Apt 4, Town, CA 94110-1234") == (
        "12",
        "oak st",
        "4",
        "town",
        "CA",
        "94110",
    )
    assert split_one_line("1 Main Street, Port Jay, Texas 75001")[3:] == ("port jay", "TX", "75001")


def test_states_and_postcodes() -> None:
    assert standardize_state("California") == "CA"
    assert standardize_state("new york") == "NY"
    assert standardize_state("nsw") == "NSW"
    assert standardize_postcode("94110-1234") == "94110"
    assert standardize_postcode("941101234") == "94110"
    assert standardize_postcode("sw1a 1aa") == "SW1A1AA"


@pytest.mark.parametrize(
    ("raw", "order", "expected"),
    [
        ("03/04/1980", "mdy", "1980-03-04"),
        ("03.04.1980", "dmy", "1980-04-03"),
        ("1980-03-04", "ymd", "1980-03-04"),
        ("19800304", "auto", "1980-03-04"),
        ("04.03.1980", "auto", "1980-03-04"),
        ("3/4/1980", "auto", "1980-03-04"),
        ("2023-04-19T14:32:56.279Z", "auto", "2023-04-19"),
        ("1958-13-02", "ymd", "1958-13-02"),  # a typo of a real date is still evidence
        ("unknown", "auto", None),
        ("12/1980", "auto", None),
    ],
)
def test_birth_dates_follow_the_source_order(raw: str, order: str, expected: str | None) -> None:
    assert standardize_date(raw, order) == expected  # type: ignore[arg-type]


def test_a_mapped_table_is_standardized_row_for_row() -> None:
    mapping = SourceMapping(
        columns={
            "id": "record_id",
            "name": "full_name",
            "mail": "email",
            "tel": "phone",
            "addr": "address",
            "dob": "birth_date",
        },
        date_order="mdy",
        country="US",
    )
    out = standardize(
        {
            "record_id": ["1", "2"],
            "full_name": ["SMITH, JOHN", "Ann B. Lee"],
            "email": [" John.Smith@Gmail.COM ", "noemail@larkspurco.com"],
            "phone": ["(415) 867-5309", "0000000000"],
            "address": ["12 Oak Street Apt 4, Town, California 94110-1234", None],
            "birth_date": ["03/04/1980", ""],
        },
        mapping,
    )
    assert out["given_name"] == ["john", "ann"]
    assert out["surname"] == ["smith", "lee"]
    assert out["email"] == ["john.smith@gmail.com", None]  # a placeholder is no identifier
    assert out["phone"] == ["+14158675309", None]
    assert out["street_number"] == ["12", None]
    assert out["address_1"] == ["oak st", None]
    assert out["state"] == ["CA", None]
    assert out["postcode"] == ["94110", None]
    assert out["birth_date"] == ["1980-03-04", None]
    assert out["country"] == ["US", "US"]


def test_map_options_name_one_column_and_one_field_each() -> None:
    assert parse_map_options(["Cust No=record_id", "mail=email"]) == {
        "Cust No": "record_id",
        "mail": "email",
    }
    with pytest.raises(MappingError, match="not a field"):
        parse_map_options(["mail=e_mail"])
    with pytest.raises(MappingError, match="SRC_COLUMN=FIELD"):
        parse_map_options(["mail"])


def test_mappings_resolve_from_the_shipped_ones_and_options() -> None:
    header = ["customer_no", "full_name", "email", "phone", "address", "birth_date",
              "loyalty_card", "home_store", "customer_since"]  # fmt: skip
    shipped = resolve_mapping("sales", header)
    assert shipped.date_order == "mdy"
    assert shipped.column_of("record_id") == "customer_no"
    moved = resolve_mapping("sales", header, options=["home_store=city"])
    assert moved.column_of("city") == "home_store"
    with pytest.raises(MappingError, match="no column 'customer_no'"):
        resolve_mapping("sales", ["id", "name"])
    with pytest.raises(MappingError, match="no column of the file"):
        resolve_mapping("unknown", ["a", "b"])
    with pytest.raises(MappingError, match="record_id"):
        resolve_mapping("unknown", ["email"], options=["email=email"])


@given(st.text(alphabet="abcdefgh .,#-0123456789", max_size=30))
def test_street_standardization_is_idempotent(raw: str) -> None:
    once = standardize_street(raw)
    assert once is None or standardize_street(once) == once


# Titles and suffixes ("Mr", "Jr") are dropped from names by design, so they are no names here.
_NAME_PART = st.from_regex(r"[A-Z][a-z]{1,8}", fullmatch=True).filter(
    lambda word: word.lower() not in _TITLES | _SUFFIXES
)


@given(_NAME_PART, _NAME_PART)
def test_surname_first_with_a_comma_is_the_same_person(given_name: str, surname: str) -> None:
    straight = split_full_name(f"{given_name} {surname}")
    assert split_full_name(f"{surname.upper()}, {given_name.upper()}") == straight
