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
from clientcore.identity.spec import load_spec

router = APIRouter(prefix="/v1/admin/identity", tags=["identity"])


class UnmergeRequest(BaseModel):
    identifier: str
    reason: str = "unmerge"


@router.post("/rebuild", summary="Recompute every profile from the event log")
async def rebuild_route(rt: AdminDep) -> dict[str, Any]:
    report = await asyncio.to_thread(rebuild, rt.store, load_spec())
    if rt.identity is not None:
        rt.identity.reload()
    return report.to_dict()


@router.get("/quarantine", summary="Identifiers kept out of stitching, and why")
def quarantine_route(rt: AdminDep) -> dict[str, Any]:
    return {"quarantine": quarantined(rt.store)}


@router.post("/unmerge", summary="Blocklist an identifier and re-derive the profiles it joined")
async def unmerge_route(body: UnmergeRequest, rt: AdminDep) -> dict[str, Any]:
    try:
        outcome = await asyncio.to_thread(
            unmerge, rt.store, load_spec(), body.identifier, body.reason
        )
    except IdentityError as error:
        raise ApiError(404, "not_found", str(error), "identifier") from error
    if rt.identity is not None:
        rt.identity.reload()
    return outcome.to_dict()
