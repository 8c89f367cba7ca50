"""Identity rules as a validated spec: which identifiers link, where they are found, limits.

A retailer can load its own rules from YAML (`CLIENTCORE_IDENTITY` or `--rules FILE`); the
default below fits the Segment Spec and the demo retailer. The engine code compiles the spec;
it never glues strings from the spec into SQL without checking them first.

Quarantine rule: an identifier value is quarantined — kept on record but never used to link —
when it appears in the same events as more distinct values of some type than that type's
`max_per_profile` (a placeholder email typed at the till next to 300 loyalty cards; a shared
store tablet next to 40 user ids; a family email next to 3 logins). The rule depends only on
what co-occurs, never on arrival order, so the incremental and the batch paths agree.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, field_validator, model_validator

Normalizer = Literal["email", "phone", "text", "upper"]
_PATH = re.compile(r"^\$(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_COLUMNS = ("user_id", "anonymous_id", "previous_id")


class IdentifierRule(BaseModel):
    """One kind of identifier: the columns or JSON paths it is read from, and its limit."""

    type: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    columns: list[str] = Field(default_factory=list)
    paths: list[str] = Field(default_factory=list)
    normalize: Normalizer = "text"
    max_per_profile: int | None = Field(default=None, ge=1)

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, columns: list[str]) -> list[str]:
        for column in columns:
            if column not in _COLUMNS:
                raise ValueError(f"column must be one of {', '.join(_COLUMNS)}; got {column!r}")
        return columns

    @field_validator("paths")
    @classmethod
    def _json_paths(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if not _PATH.match(path):
                raise ValueError(f"path must look like $.context.traits.email; got {path!r}")
        return paths


class IdentitySpec(BaseModel):
    identifiers: list[IdentifierRule]
    default_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    # Traits survivorship: a higher-priority source wins over a more recent lower one.
    source_priority: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_types(self) -> IdentitySpec:
        types = [rule.type for rule in self.identifiers]
        if len(types) != len(set(types)):
            raise ValueError("identifier types must be unique")
        if not types:
            raise ValueError("at least one identifier type is needed")
        return self

    def rank(self, kind: str) -> int:
        """Position of a type: ties between identifiers first seen in one event break by it."""
        return [rule.type for rule in self.identifiers].index(kind)

    def limits(self) -> dict[str, int]:
        return {r.type: r.max_per_profile for r in self.identifiers if r.max_per_profile}


def _traits(key: str) -> list[str]:
    return [f"$.traits.{key}", f"$.context.traits.{key}", f"$.properties.{key}"]


DEFAULT_SPEC = IdentitySpec(
    identifiers=[
        IdentifierRule(type="user_id", columns=["user_id"], max_per_profile=1),
        IdentifierRule(type="email", paths=_traits("email"), normalize="email", max_per_profile=5),
        IdentifierRule(type="phone", paths=_traits("phone"), normalize="phone", max_per_profile=5),
        IdentifierRule(
            type="loyalty_card", paths=_traits("loyalty_card"), normalize="upper", max_per_profile=3
        ),
        IdentifierRule(type="pos_customer_id", paths=_traits("pos_customer_id"), max_per_profile=3),
        IdentifierRule(type="device_id", paths=["$.context.device.id"], max_per_profile=10),
        IdentifierRule(type="anonymous_id", columns=["anonymous_id", "previous_id"]),
    ]
)


def load_spec(path: Path | None = None) -> IdentitySpec:
    """The rules from a YAML file (or CLIENTCORE_IDENTITY), else the default."""
    chosen = path or (
        Path(os.environ["CLIENTCORE_IDENTITY"]) if "CLIENTCORE_IDENTITY" in os.environ else None
    )
    if chosen is None:
        return DEFAULT_SPEC
    return IdentitySpec.model_validate(yaml.safe_load(chosen.read_text()))
