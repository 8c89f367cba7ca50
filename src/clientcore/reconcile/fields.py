"""The fields of a customer record, listed once: the standardization fills them, the import
writes them to `customer_records`, the linkage reads them, and the column mappings and the
command line's help take their vocabulary from here. No imports: the CLI loads it at start."""

from __future__ import annotations

# The standardized fields of a customer record, in the order they are stored: the fields of the
# command-line contract, plus `user_id` (a web account's login).
RECORD_FIELDS: tuple[str, ...] = (
    "given_name",
    "surname",
    "full_name",
    "birth_date",
    "email",
    "phone",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "city",
    "postcode",
    "state",
    "country",
    "national_id",
    "loyalty_card",
    "user_id",
)
# What a source column may hold: the record's id, one record field, or `address` (a whole
# address on one line, split into the address fields on import).
TARGETS: tuple[str, ...] = ("record_id", *RECORD_FIELDS, "address")
