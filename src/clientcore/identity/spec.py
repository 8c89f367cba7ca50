"""Identity rules as a validated spec: which identifiers link, where they are found, limits.

A retailer can load its own rules from YAML (`CLIENTCORE_IDENTITY` or `--rules FILE`); the
default below fits the Segment Spec and the demo retailer. The engine code compiles the spec;
it never glues strings from the spec into SQL without checking them first.

Quarantine rule: an identifier value is quarantined — kept on record but never used to link —
when it appears in the same events as more distinct values of some type than that type's
`max_per_profile` (a placeholder email typed at the till next to 300 loyalty cards; a shared
store tablet next to 40 user ids; a family email next to 3 logins). The rule depends only on
what co-occurs, never on arrival order, so the incremental and the batch paths agree.

A rule with `links: false` reads a value that identifies nobody on its own — a first name —
but still counts for that rule's limit: it never joins anyone (it is quarantined by
construction) and is never shown as an identifier, yet with a limit of one first name an
e-mail typed by Anna and by Ben is quarantined like an e-mail next to two logins, and a
profile whose identifiers were seen with Anna and with Ben is split (split.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

Normalizer = Literal["email", "phone", "text", "upper", "name"]
_PATH = re.compile(r"^\$(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_COLUMNS = ("user_id", "anonymous_id", "previous_id")


class IdentifierRule(BaseModel):
    """One kind of identifier: the columns or JSON paths it is read from, and its limit."""

    type: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    columns: list[str] = Field(default_factory=list)
    paths: list[str] = Field(default_factory=list)
    normalize: Normalizer = "text"
    max_per_profile: int | None = Field(default=None, ge=1)
    links: bool = True  # false: never links, only counts for the limits

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

    @model_validator(mode="after")
    def _counts_if_not_linking(self) -> IdentifierRule:
        if not self.links and self.max_per_profile is None:
            raise ValueError(f"{self.type}: a rule that does not link needs max_per_profile")
        return self


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

    def fingerprint(self) -> int:
        """A signed 64-bit digest of everything that shapes the graph, so a store can tell
        whether its profiles were built under these rules. Source priority only orders traits
        at read time, so changing it needs no rebuild and does not count."""
        shape = self.model_dump(mode="json", exclude={"source_priority"})
        digest = hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def rank(self, kind: str) -> int:
        """Position of a type: ties between identifiers first seen in one event break by it."""
        return [rule.type for rule in self.identifiers].index(kind)

    def limits(self) -> dict[str, int]:
        return {r.type: r.max_per_profile for r in self.identifiers if r.max_per_profile}

    def linking(self) -> list[IdentifierRule]:
        """The rules whose values link people: the identifiers users see."""
        return [rule for rule in self.identifiers if rule.links]

    def not_linking(self) -> list[str]:
        """The types of the rules that never link: no one sees them as identifiers."""
        return [rule.type for rule in self.identifiers if not rule.links]

    def not_linking_codes(self) -> set[int]:
        """The same as type codes (ranks), as the graph knows types."""
        return {rank for rank, rule in enumerate(self.identifiers) if not rule.links}


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
        # Last, so the codes above keep their place. Properties are left out: an order's
        # properties may name someone else (a gift's recipient).
        IdentifierRule(
            type="first_name",
            paths=[
                f"$.{bag}.{key}"
                for bag in ("traits", "context.traits")
                for key in ("first_name", "firstName")
            ],
            normalize="name",
            max_per_profile=1,
            links=False,
        ),
    ]
)


class RulesError(ValueError):
    """The identity rules file cannot be read or is not valid; the message names the file,
    the field and the problem on one line."""


def rules_path() -> Path | None:
    """The rules file in effect: CLIENTCORE_IDENTITY, or None for the default rules."""
    value = os.environ.get("CLIENTCORE_IDENTITY")
    return Path(value) if value else None


def load_spec(path: Path | None = None) -> IdentitySpec:
    """The rules from a YAML file (or CLIENTCORE_IDENTITY), else the default."""
    chosen = path or rules_path()
    if chosen is None:
        return DEFAULT_SPEC
    where = f"identity rules {chosen}"
    try:
        document = yaml.safe_load(chosen.read_text())
    except OSError as error:
        raise RulesError(f"{where}: cannot read: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise RulesError(f"{where}: not valid YAML{at}") from None
    try:
        return IdentitySpec.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(top level)"
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        raise RulesError(f"{where}: {field}: {first['msg']}{more}") from None
