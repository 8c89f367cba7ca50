"""Admin routes: what the CLI calls when a running server owns the embedded database file.

Guarded by the server's admin token, which `clientcore serve` writes (mode 0600) next to the
database file for the CLI on the same machine to find.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from clientcore.api.body import bearer
from clientcore.api.errors import ApiError
from clientcore.api.runtime import Runtime
from clientcore.collect import keys as key_book
from clientcore.collect import log
from clientcore.collect.importer import import_events


def admin_runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    token = bearer(request)
    if not token or not secrets.compare_digest(token, rt.admin_token):
        raise ApiError(401, "unauthorized", "the admin token is missing or wrong")
    return rt


AdminDep = Annotated[Runtime, Depends(admin_runtime)]
router = APIRouter(prefix="/v1/admin", tags=["admin"])


class KeyRequest(BaseModel):
    name: str = Field(min_length=1)
    scope: str = "write"


class ImportRequest(BaseModel):
    path: str
    format: str | None = None
    source: str = "import"


class ReplayRequest(BaseModel):
    ids: list[int] | None = None


@router.post("/keys", summary="Create a write or read key (the secret is shown once)")
def create_key(body: KeyRequest, rt: AdminDep) -> dict[str, Any]:
    key, info = key_book.create_key(rt.store, body.name, body.scope)
    return {"key": key, **info.to_dict()}


@router.get("/keys", summary="List keys")
def list_keys(rt: AdminDep) -> dict[str, Any]:
    return {"keys": [k.to_dict() for k in key_book.list_keys(rt.store)]}


@router.post("/keys/{key_id}/revoke", summary="Revoke a key")
def revoke_key(key_id: str, rt: AdminDep) -> dict[str, Any]:
    info = key_book.revoke_key(rt.store, key_id)
    rt.forget_keys()
    return info.to_dict()


@router.get("/events/stats", summary="Stored and rejected event counts")
def stats(rt: AdminDep) -> dict[str, Any]:
    return log.event_stats(rt.store).to_dict()


@router.get("/events/rejected", summary="Events kept aside, with their reasons")
def rejected(rt: AdminDep, limit: int = 100, include_replayed: bool = False) -> dict[str, Any]:
    return {"rejected": log.rejected_events(rt.store, limit, include_replayed)}


@router.post("/events/replay", summary="Judge kept-aside events again and store those that pass")
def replay(body: ReplayRequest, rt: AdminDep) -> dict[str, Any]:
    return log.replay_rejected(rt.store, body.ids).to_dict()


@router.post("/import", summary="Import an event file that is on the server's machine")
async def import_file(body: ImportRequest, rt: AdminDep) -> dict[str, Any]:
    report = await asyncio.to_thread(
        import_events, rt.store, Path(body.path), body.format, body.source
    )
    if rt.identity is not None and report.inserted:
        rt.identity.notify()
    return report.to_dict()
