"""Identity admin routes: rebuild, quarantine, unmerge (the CLI uses them while a server runs)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from clientcore.api.admin import AdminDep
from clientcore.api.errors import ApiError
from clientcore.identity.manage import IdentityError, quarantined, unmerge
from clientcore.identity.service import rebuild

router = APIRouter(prefix="/v1/admin/identity", tags=["identity"])


class UnmergeRequest(BaseModel):
    identifier: str
    reason: str = "unmerge"


@router.post("/rebuild", summary="Recompute every profile from the event log")
async def rebuild_route(rt: AdminDep) -> dict[str, Any]:
    assert rt.identity is not None
    report = await asyncio.to_thread(rebuild, rt.store, rt.identity.service.spec)
    rt.identity.reload()
    return report.to_dict()


@router.get("/quarantine", summary="Identifiers kept out of stitching, and why")
def quarantine_route(rt: AdminDep) -> dict[str, Any]:
    return {"quarantine": quarantined(rt.store)}


@router.post("/unmerge", summary="Blocklist an identifier and re-derive the profiles it joined")
async def unmerge_route(body: UnmergeRequest, rt: AdminDep) -> dict[str, Any]:
    assert rt.identity is not None
    try:
        outcome = await asyncio.to_thread(
            unmerge, rt.store, rt.identity.service.spec, body.identifier, body.reason
        )
    except IdentityError as error:
        raise ApiError(404, "not_found", str(error), "identifier") from error
    rt.identity.reload()
    return outcome.to_dict()
