"""Value routes: one customer's P&L, line by line, with their CLV.

`GET /v1/profiles/{identifier}/value` needs a read key, exactly as the profile view does
(the same dependency: no key 401, a write key 403). `GET /v1/admin/profiles/{identifier}/value`
is the same document for the CLI when `clientcore serve` owns the database file. The cost
model is the server's (CLIENTCORE_COSTS, else the shipped default); a bad one is a 500 in the
one error shape, naming the field.

Register this router BEFORE the profiles router: its `{identifier:path}` route would
otherwise swallow `/value`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from clientcore.api.errors import ApiError
from clientcore.api.profiles import Admin, Reader
from clientcore.store import Store
from clientcore.value.costs import CostModelError, load_costs
from clientcore.value.customer import UnknownCustomerError, customer_value, resolve_profile
from clientcore.value.sql import Period

router = APIRouter(tags=["value"])

Start = Annotated[datetime | None, Query(description="Period start (inclusive), ISO-8601")]
End = Annotated[datetime | None, Query(description="Period end (exclusive), ISO-8601")]
Clv = Annotated[bool, Query(description="Include the CLV prediction (fits the base once)")]


def value_document(
    store: Store, identifier: str, start: datetime | None, end: datetime | None, clv: bool
) -> Any:
    """The customer's value document, or an error in the one shape."""
    if start is not None and end is not None and start >= end:
        raise ApiError(422, "invalid", "period_end must be after period_start", "period_end")
    try:
        costs = load_costs()
    except CostModelError as error:
        raise ApiError(500, "cost_model", error.message, f"costs.{error.field}") from None
    try:
        profile_id = resolve_profile(store, identifier)
    except UnknownCustomerError:
        raise ApiError(404, "not_found", "no profile has this identifier", "identifier") from None
    try:
        return customer_value(store, costs, profile_id, Period(_utc(start), _utc(end)), clv)
    except CostModelError as error:
        raise ApiError(500, "cost_model", error.message, f"costs.{error.field}") from None


def _utc(value: datetime | None) -> datetime | None:
    from datetime import UTC

    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@router.get(
    "/v1/profiles/{identifier:path}/value",
    summary="One customer's P&L line by line (with event counts) and CLV",
    openapi_extra={"security": [{"readKey": []}]},
)
def get_value(
    identifier: str,
    caller: Reader,
    period_start: Start = None,
    period_end: End = None,
    clv: Clv = True,
) -> Any:
    return value_document(caller[0].reader, identifier, period_start, period_end, clv)


@router.get(
    "/v1/admin/profiles/{identifier:path}/value",
    tags=["admin"],
    summary="One customer's value, for the CLI when the server owns the database",
)
def admin_get_value(
    identifier: str,
    rt: Admin,
    period_start: Start = None,
    period_end: End = None,
    clv: Clv = True,
) -> Any:
    return value_document(rt.reader, identifier, period_start, period_end, clv)
