"""The cost model: a declarative YAML spec of what each order, touch and contact costs.

The P&L engine (`value/sql.py`) compiles this spec into bound parameters and a unit-cost
table; no value from the file is ever glued into SQL. Money is read as `Decimal` (never as
a float) so the ledger can be summed exactly.

Exceptions::

    ValueError
     └── CostModelError     the file cannot be read or is invalid; `.field` names the field
                            (`marketing.Email Sent.per_event`, `catalog.path`, …)
"""

from __future__ import annotations

import csv
import os
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_COSTS = "default_costs.yaml"
COSTS_ENV = "CLIENTCORE_COSTS"

Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6)]
Rate = Annotated[Decimal, Field(ge=0, le=1, max_digits=9, decimal_places=6)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Property = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=100)]


class CostModelError(ValueError):
    """A cost file that cannot be used; `field` is the dotted path of the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CatalogSpec(_Spec):
    """Where product unit costs come from when an order line does not carry `cost` itself."""

    path: Path | None = None
    product_id_column: Name = "product_id"
    unit_cost_column: Name = "unit_cost"


class EventCost(_Spec):
    """What one event costs: a fixed amount, a per-minute rate, a cost by a property's value.

    When `amount_property` is set and the event carries that property as a number (an ad
    network's `cost` on Ad Clicked), that number replaces `per_event`.
    """

    per_event: Money = Decimal(0)
    per_minute: Money = Decimal(0)
    duration_property: Property = "duration_seconds"
    amount_property: Property | None = None
    value_property: Property = "type"
    by_value: dict[Name, Money] = Field(default_factory=dict)


class FulfilmentSpec(_Spec):
    """Pick, pack and ship per order: by device type first (an in-store kiosk order ships like
    an online one), then by order channel, else the default; plus a fee rate on revenue."""

    default: Money = Decimal(0)
    by_channel: dict[Name, Money] = Field(default_factory=dict)
    by_device_type: dict[Name, Money] = Field(default_factory=dict)
    fee_rate_by_channel: dict[Name, Rate] = Field(default_factory=dict)


class ReturnsSpec(_Spec):
    """Handling per refunded order and per returned item; the share of cost written off."""

    handling_per_refund: Money = Decimal(0)
    handling_per_item: Money = Decimal(0)
    writeoff_rate: Rate = Decimal(1)


class AcquisitionSpec(_Spec):
    """Cost of winning a customer, by the channel of their first event (the campaign medium
    of that event when it has one — `cpc`, `referral` — else its channel)."""

    default: Money = Decimal(0)
    by_channel: dict[Name, Money] = Field(default_factory=dict)


class EventNames(_Spec):
    """The Segment e-commerce event names the P&L reads money from."""

    order: Name = "Order Completed"
    refund: Name = "Order Refunded"
    returned_item: Name = "Product Returned"


class CostModel(_Spec):
    """The whole cost model. `source` is where it was read from (for messages)."""

    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    events: EventNames = EventNames()
    catalog: CatalogSpec = CatalogSpec()
    fulfilment: FulfilmentSpec = FulfilmentSpec()
    returns: ReturnsSpec = ReturnsSpec()
    marketing: dict[Name, EventCost] = Field(default_factory=dict)
    service: dict[Name, EventCost] = Field(default_factory=dict)
    acquisition: AcquisitionSpec = AcquisitionSpec()

    @model_validator(mode="after")
    def _one_section_per_event(self) -> CostModel:
        money_events = {self.events.order, self.events.refund, self.events.returned_item}
        for section in ("marketing", "service"):
            for name in getattr(self, section):
                if name in money_events:
                    raise ValueError(f"{section}.{name}: is an order/refund/return event")
        both = set(self.marketing) & set(self.service)
        if both:
            raise ValueError(f"service.{sorted(both)[0]}: also listed under marketing")
        return self

    def event_costs(self) -> list[tuple[str, str, EventCost]]:
        """(section, event name, cost) for every per-event rule, in a stable order."""
        return [
            (section, name, rule)
            for section in ("marketing", "service")
            for name, rule in sorted(getattr(self, section).items())
        ]

    def with_catalog(self, path: Path | None) -> CostModel:
        """The same model reading unit costs from another catalog file."""
        if path is None:
            return self
        return self.model_copy(update={"catalog": self.catalog.model_copy(update={"path": path})})


def _field_of(error: ValidationError) -> tuple[str, str]:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "costs"
    message = str(first["msg"])
    if message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
        if ": " in message and not first["loc"]:
            where, message = message.split(": ", 1)
    return where, message


def parse_costs(document: Any, base: Path | None = None) -> CostModel:
    """Validate a parsed YAML/JSON document; a relative catalog path is taken from `base`."""
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise CostModelError("costs", "the cost file must hold a mapping at the top level")
    try:
        model = CostModel.model_validate(document)
    except ValidationError as error:
        raise CostModelError(*_field_of(error)) from None
    path = model.catalog.path
    if path is not None and not path.is_absolute() and base is not None:
        model = model.with_catalog(base / path)
    return model


def load_costs(path: Path | None = None) -> CostModel:
    """The cost model from `path`, else from CLIENTCORE_COSTS, else the shipped default."""
    chosen = path or (Path(os.environ[COSTS_ENV]) if os.environ.get(COSTS_ENV) else None)
    if chosen is None:
        text = resources.files("clientcore.value").joinpath(DEFAULT_COSTS).read_text("utf-8")
        return parse_costs(yaml.safe_load(text))
    try:
        text = chosen.read_text(encoding="utf-8")
    except OSError as error:
        raise CostModelError("costs", f"cannot read {chosen}: {error.strerror}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise CostModelError("costs", f"{chosen} is not valid YAML{where}") from None
    return parse_costs(document, chosen.resolve().parent)


def read_catalog(spec: CatalogSpec) -> dict[str, Decimal]:
    """product_id -> unit cost from the catalog CSV (empty when the spec names none)."""
    if spec.path is None:
        return {}
    try:
        handle = spec.path.open(newline="", encoding="utf-8")
    except OSError as error:
        raise CostModelError("catalog.path", f"cannot read {spec.path}: {error.strerror}") from None
    costs: dict[str, Decimal] = {}
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        for column, field in (
            (spec.product_id_column, "catalog.product_id_column"),
            (spec.unit_cost_column, "catalog.unit_cost_column"),
        ):
            if column not in header:
                raise CostModelError(field, f"{spec.path.name} has no column {column!r}")
        for row_number, row in enumerate(reader, start=2):
            product = (row[spec.product_id_column] or "").strip()
            raw = (row[spec.unit_cost_column] or "").strip()
            if not product or not raw:
                continue  # a product without a known cost stays uncosted (and is counted)
            try:
                cost = Decimal(raw)
            except InvalidOperation:
                cost = Decimal("NaN")
            if not cost.is_finite() or cost < 0:
                raise CostModelError(
                    "catalog.unit_cost_column",
                    f"{spec.path.name} row {row_number}: {raw!r} is not a cost",
                )
            costs[product] = cost
    return costs
