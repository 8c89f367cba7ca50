"""Profile routes: the single customer view by any identifier a person can type.

`GET /v1/profiles/{identifier}` needs a read key (HTTP Basic user, as the collector's write
keys); a write key is refused with 403, because a source that may send events must not read
customers back. `GET /v1/admin/profiles/{identifier}` is the same view for the CLI, behind the
admin token, when `clientcore serve` owns the database file.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from clientcore.api.admin import admin_runtime
from clientcore.api.body import basic_user
from clientcore.api.errors import ApiError
from clientcore.api.runtime import Runtime
from clientcore.collect import AuthError
from clientcore.collect.keys import KeyInfo
from clientcore.profiles.view import view_by_identifier
from clientcore.store import Store

router = APIRouter(tags=["profiles"])

MAX_LIMIT = 500
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Timeline events per page")]
Before = Annotated[
    datetime | None,
    Query(description="Only events strictly older than this ISO-8601 time (next_before)"),
]


def read_key(request: Request) -> tuple[Runtime, KeyInfo]:
    """The caller's read key: none or a bad one is 401, a valid write key 403."""
    rt: Runtime = request.app.state.runtime
    key = basic_user(request)
    try:
        return rt, rt.key(key, "read")
    except AuthError as refused:
        if key and _is_write_key(rt, key):
            raise ApiError(
                403, "forbidden", "this is a write key; reading profiles needs a read key"
            ) from None
        raise refused from None


def _is_write_key(rt: Runtime, key: str) -> bool:
    try:
        rt.key(key, "write")
    except AuthError:
        return False
    return True


Reader = Annotated[tuple[Runtime, KeyInfo], Depends(read_key)]
Admin = Annotated[Runtime, Depends(admin_runtime)]


def view_document(store: Store, identifier: str, limit: int, before: datetime | None) -> Any:
    """The view of the profile holding `identifier`, or 404 in the one error shape."""
    view = view_by_identifier(store, identifier, limit, before)
    if view is None:
        raise ApiError(404, "not_found", "no profile has this identifier", "identifier")
    return view.to_dict()


@router.get(
    "/v1/profiles/{identifier:path}",
    summary="Single customer view: identifiers, traits, summary, timeline",
    openapi_extra={"security": [{"readKey": []}]},
)
def get_profile(identifier: str, caller: Reader, limit: Limit = 50, before: Before = None) -> Any:
    return view_document(caller[0].reader, identifier, limit, before)


@router.get(
    "/v1/admin/profiles/{identifier:path}",
    tags=["admin"],
    summary="The single customer view, for the CLI when the server owns the database",
    openapi_extra={"security": [{"adminToken": []}]},
)
def admin_get_profile(identifier: str, rt: Admin, limit: Limit = 50, before: Before = None) -> Any:
    return view_document(rt.reader, identifier, limit, before)
