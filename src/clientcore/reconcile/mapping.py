"""Declarative column mappings: which column of a CRM export holds which field of a customer.

A mapping is a validated spec (`SourceMapping`), loaded from YAML or built from `--map
SRC_COLUMN=FIELD` options. Mappings for the demo retailer's three CRMs ship with the package
(`mappings/*.yaml`) and are used when an import names one of those sources without a mapping.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from clientcore.reconcile import MappingError
from clientcore.reconcile.fields import TARGETS

_TARGET_LIST = ", ".join(TARGETS)
DateOrder = Literal["auto", "ymd", "mdy", "dmy"]


class SourceMapping(BaseModel):
    """How one source's columns become customer fields, and how to read its dates and phones."""

    columns: dict[str, str] = Field(min_length=1)
    date_order: DateOrder = "auto"
    phone_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")

    @field_validator("columns")
    @classmethod
    def _one_column_per_field(cls, columns: dict[str, str]) -> dict[str, str]:
        seen: dict[str, str] = {}
        for column, target in columns.items():
            if target not in TARGETS:
                raise ValueError(f"{column}: {target!r} is not a field; use one of {_TARGET_LIST}")
            if target in seen:
                raise ValueError(f"{seen[target]!r} and {column!r} both map to {target}")
            seen[target] = column
        if "record_id" not in seen:
            raise ValueError("one column must map to record_id")
        return columns

    def column_of(self, target: str) -> str | None:
        for column, mapped in self.columns.items():
            if mapped == target:
                return column
        return None


def shipped_sources() -> list[str]:
    """Sources with a mapping in the package (the demo retailer's CRMs)."""
    folder = resources.files("clientcore.reconcile") / "mappings"
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def _parse(document: object, origin: str) -> SourceMapping:
    try:
        return SourceMapping.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise MappingError(f"{origin}: {where}: {first['msg']}", "mapping") from None


def load_mapping(path: Path) -> SourceMapping:
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise MappingError(f"cannot read the mapping {path}: {error}", "mapping") from error
    return _parse(document, str(path))


def shipped_mapping(source: str) -> SourceMapping | None:
    if source not in shipped_sources():
        return None
    text = (resources.files("clientcore.reconcile") / "mappings" / f"{source}.yaml").read_text()
    return _parse(yaml.safe_load(text), f"mapping {source}")


def parse_map_options(options: list[str]) -> dict[str, str]:
    """`--map SRC_COLUMN=FIELD` options as {column: field}, refusing unknown fields."""
    pairs: dict[str, str] = {}
    for option in options:
        column, sep, target = option.partition("=")
        column, target = column.strip(), target.strip()
        if not sep or not column or not target:
            raise MappingError(f"--map must look like SRC_COLUMN=FIELD; got {option!r}", "map")
        if target not in TARGETS:
            raise MappingError(
                f"--map {option}: {target!r} is not a field; use one of {_TARGET_LIST}",
                "map",
            )
        pairs[column] = target
    return pairs


def resolve_mapping(
    source: str, header: list[str], path: Path | None = None, options: list[str] | None = None
) -> SourceMapping:
    """The mapping for one import: a YAML file, else the shipped one for the source, else the
    columns named like fields; `--map` options override single columns on top of it."""
    base = load_mapping(path) if path else shipped_mapping(source)
    overrides = parse_map_options(options or [])
    if base is None:
        columns: dict[str, str] = {c: c for c in header if c in TARGETS}
        settings: dict[str, object] = {}
    else:
        columns = dict(base.columns)
        settings = base.model_dump(exclude={"columns"})
    if overrides:
        taken = set(overrides.values())
        columns = {c: t for c, t in columns.items() if t not in taken and c not in overrides}
        columns.update(overrides)
    if not columns:
        raise MappingError(
            f"no column of the file is a customer field and there is no mapping for source "
            f"{source!r}; pass --map SRC_COLUMN=FIELD or --mapping FILE.yaml",
            "map",
        )
    mapping = _parse({"columns": columns, **settings}, "mapping")
    missing = [c for c in mapping.columns if c not in header]
    if missing:
        raise MappingError(
            f"the file has no column {missing[0]!r} (its columns: {', '.join(header)})", "map"
        )
    return mapping
