"""Segment-compatible collection routes: /v1/track … /v1/batch.

A 200 means every valid event of the request is committed (or was already stored: retries are
idempotent on messageId). Invalid events inside a batch are kept aside and named in the
response; the good ones are stored, because an SDK drops a whole batch on a 4xx.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Request

from clientcore.api.body import basic_user, read_body
from clientcore.api.errors import ApiError
from clientcore.api.responses import ORJSONResponse
from clientcore.api.runtime import Runtime
from clientcore.collect import PayloadError
from clientcore.collect.ingest import Prepared
from clientcore.events.spec import Batch, event_openapi_schema
from clientcore.events.validate import Staged, stage

router = APIRouter(prefix="/v1", tags=["collect"])


async def runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


RuntimeDep = Annotated[Runtime, Depends(runtime)]

_EVENT_SCHEMA, EVENT_COMPONENTS = event_openapi_schema()
_BATCH_SCHEMA = {
    "type": "object",
    "required": ["batch"],
    "properties": {
        "batch": {"type": "array", "items": _EVENT_SCHEMA},
        "sentAt": {"type": "string", "format": "date-time"},
        "writeKey": {"type": "string"},
    },
}


def _openapi(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "security": [{"writeKey": []}],
    }


async def _store(
    rt: Runtime, staged: Staged, source: str, origin: str
) -> tuple[dict[str, Any], Prepared]:
    """Hand the staged request to the writer; answer once it is judged and committed."""
    outcome, prepared = await asyncio.wrap_future(rt.writer.submit(staged, source, origin))
    return {
        "success": True,
        "accepted": prepared.n_valid,
        "stored": outcome.inserted,
        "duplicates": outcome.duplicates,
        "rejected": [r.to_dict() for r in prepared.rejections],
    }, prepared


@router.post("/batch", openapi_extra=_openapi(_BATCH_SCHEMA), summary="Send a batch of events")
async def batch(request: Request, rt: RuntimeDep) -> ORJSONResponse:
    body = await read_body(request)
    try:
        parsed = msgspec.json.decode(body, type=Batch)
    except msgspec.ValidationError as error:
        raise PayloadError(f"batch body is invalid: {error}", "batch") from None
    except msgspec.DecodeError as error:
        raise PayloadError(f"body is not valid JSON: {error}") from None
    key = rt.key(basic_user(request) or parsed.writeKey, "write")
    staged = stage(
        [bytes(raw) for raw in parsed.batch],
        received_at=datetime.now(UTC),
        default_sent_at=parsed.sentAt,
    )
    result, _ = await _store(rt, staged, key.name, "http:/v1/batch")
    return ORJSONResponse(result)


# Segment's older name for the same route.
router.add_api_route(
    "/import", batch, methods=["POST"], include_in_schema=False, response_class=ORJSONResponse
)


def _single(kind: str) -> Any:
    async def route(request: Request, rt: RuntimeDep) -> ORJSONResponse:
        body = await read_body(request)
        try:
            event = msgspec.json.decode(body)
        except msgspec.DecodeError as error:
            raise PayloadError(f"body is not valid JSON: {error}") from None
        if not isinstance(event, dict):
            raise PayloadError("body must be a JSON object (one event)")
        # The key never reaches the stored payload.
        body_key = event.pop("writeKey", None)
        key = rt.key(basic_user(request) or body_key, "write")
        declared = event.setdefault("type", kind)
        if declared != kind:
            raise ApiError(
                400, "invalid_event", f"must be {kind!r} on /v1/{kind}; got {declared!r}", "type"
            )
        staged = stage([msgspec.json.encode(event)], received_at=datetime.now(UTC))
        result, prepared = await _store(rt, staged, key.name, f"http:/v1/{kind}")
        if prepared.rejections:
            rejection = prepared.rejections[0]
            raise ApiError(
                400,
                "invalid_event",
                f"{rejection.field} {rejection.reason}; the event was kept aside",
                rejection.field,
            )
        return ORJSONResponse(result)

    route.__name__ = kind
    return route


for _kind in ("track", "identify", "page", "screen", "group", "alias"):
    router.add_api_route(
        f"/{_kind}",
        _single(_kind),
        methods=["POST"],
        summary=f"Send one {_kind} call",
        openapi_extra=_openapi(_EVENT_SCHEMA),
        response_class=ORJSONResponse,
    )
