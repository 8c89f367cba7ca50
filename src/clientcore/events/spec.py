"""The event model: the Segment Spec plus the retail commerce events and channels we add.

The spec is a set of msgspec Structs, tagged by `type`. msgspec validates in C while it
decodes, which is what lets the HTTP collector and the file importers judge every event with
the same rules at close to the database's own insert speed. The Structs name only the fields we
check; everything else an SDK sends is kept, because the stored payload is the raw text.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

EventType = Literal["track", "identify", "page", "screen", "group", "alias"]
EVENT_TYPES: tuple[str, ...] = ("track", "identify", "page", "screen", "group", "alias")

Channel = Literal[
    "web", "mobile", "store", "call_center", "email", "social", "marketplace", "other"
]
CHANNELS: tuple[str, ...] = (
    "web",
    "mobile",
    "store",
    "call_center",
    "email",
    "social",
    "marketplace",
    "other",
)

# What the analytics SDKs put in `channel` themselves (RudderStack sends "server"), mapped onto
# our retail channels. Any other value becomes "other"; the original stays in the payload.
SDK_CHANNEL_ALIASES: dict[str, str] = {
    "browser": "web",
    "client": "web",
    "app": "mobile",
    "ios": "mobile",
    "android": "mobile",
    "pos": "store",
    "phone": "call_center",
    "server": "other",
}

# The Segment e-commerce events a retailer sends, plus the ones a retailer needs that the spec
# lacks (Product Returned). Names are verbatim because SDKs and downstream tools expect them.
COMMERCE_EVENTS: tuple[str, ...] = (
    "Products Searched",
    "Product List Viewed",
    "Product Viewed",
    "Product Clicked",
    "Product Added",
    "Product Removed",
    "Cart Viewed",
    "Checkout Started",
    "Order Completed",
    "Order Updated",
    "Order Refunded",
    "Order Cancelled",
    "Product Returned",
)

# Segment and RudderStack send numeric ids as numbers; we store every id as text.
Id = str | int | float


class Product(msgspec.Struct):
    """One line of an order's `products[]`: the fields money is computed from."""

    product_id: Id | None = None
    sku: Id | None = None
    price: float | None = None
    quantity: float | None = None


class Properties(msgspec.Struct):
    """Typed commerce properties; any other property is accepted and kept as sent."""

    order_id: Id | None = None
    product_id: Id | None = None
    revenue: float | None = None
    total: float | None = None
    subtotal: float | None = None
    discount: float | None = None
    shipping: float | None = None
    tax: float | None = None
    value: float | None = None
    price: float | None = None
    quantity: float | None = None
    products: list[Product] | None = None


class Device(msgspec.Struct):
    id: Id | None = None


class Context(msgspec.Struct):
    """Where the event happened: the retail channel, the store till, the call-center agent."""

    channel: str | None = None
    store_id: Id | None = None
    agent_id: Id | None = None
    device: Device | None = None
    traits: dict[str, Any] | None = None


class Call(msgspec.Struct, tag_field="type", kw_only=True):
    """Fields common to every Segment call."""

    messageId: str | None = None
    userId: Id | None = None
    anonymousId: Id | None = None
    timestamp: str | None = None
    originalTimestamp: str | None = None
    sentAt: str | None = None
    receivedAt: str | None = None
    channel: str | None = None
    context: Context | None = None
    integrations: dict[str, Any] | None = None


class Track(Call, tag="track"):
    event: str
    properties: Properties | None = None


class Identify(Call, tag="identify"):
    traits: dict[str, Any] | None = None


class Page(Call, tag="page"):
    name: str | None = None
    category: str | None = None
    properties: Properties | None = None


class Screen(Call, tag="screen"):
    name: str | None = None
    category: str | None = None
    properties: Properties | None = None


class Group(Call, tag="group"):
    groupId: Id
    traits: dict[str, Any] | None = None


class Alias(Call, tag="alias"):
    previousId: Id


Event = Track | Identify | Page | Screen | Group | Alias


class Batch(msgspec.Struct):
    """The body of `/v1/batch`: events are kept raw so each is judged (and stored) on its own."""

    batch: list[msgspec.Raw]
    sentAt: str | None = None
    writeKey: str | None = None
    context: dict[str, Any] | None = None


def event_openapi_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """JSON Schema of one event and the components it refers to, for the OpenAPI document."""
    (schema,), components = msgspec.json.schema_components(
        [Event], ref_template="#/components/schemas/{name}"
    )
    return schema, components
