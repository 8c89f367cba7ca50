"""Recommendation routes. Thin: parse, call the service, format.

`GET /v1/recommendations` needs a read key, as the profile view does (no key 401, a write key
403). The admin routes are for the CLI and operators: the same list behind the admin token,
the loaded version, a reload of the version on disk, and a training run inside the server
(what `clientcore recommend train` calls while the server owns the DuckDB file).

The service is created when the app starts (this router's lifespan, nested in the app's) and
loads the current version then, so the first request is answered from memory. A list answered
from memory alone (the usual case: see `service.py`) is computed on the event loop — a few
milliseconds of NumPy, cheaper than a trip through the thread pool; one that must read the
store first goes to a worker thread. Both routes take one parameter list (`ListQuery`).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel, Field

from clientcore.api.errors import ApiError
from clientcore.api.profiles import Admin, read_key
from clientcore.api.responses import ORJSONResponse
from clientcore.api.runtime import Runtime
from clientcore.collect.keys import KeyInfo
from clientcore.personalize.errors import InvalidRequestError, NoModelError, RecommendError
from clientcore.personalize.model import MAX_K, models_dir
from clientcore.personalize.rules import Rules
from clientcore.personalize.service import RecommendationService


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    runtime: Runtime = app.state.runtime
    follower = runtime.identity
    service = RecommendationService(
        runtime.store,
        models_dir(runtime.store.url),
        # the identity graph the server keeps: with it, requests are answered from memory
        identity=(lambda: follower.service) if follower is not None else None,
        committed=lambda: runtime.writer.events,
    )
    await asyncio.to_thread(service.load_current)
    # As the runtime does for the identity graph: the model's and the tail's long-lived
    # objects out of the collector's full passes, which would otherwise stall requests.
    gc.collect()
    gc.freeze()
    app.state.recommendations = service
    try:
        yield
    finally:
        service.close()


router = APIRouter(tags=["recommendations"], lifespan=_lifespan)


@dataclass(frozen=True)
class ListQuery:
    """The parameters of a recommendation list, shared by the public and the admin route."""

    profile: str | None
    session: str | None
    channel: str | None
    k: int
    min_price: float | None
    max_price: float | None
    min_margin: float | None
    exclude: str | None
    at: datetime | None


async def list_query(
    profile: Annotated[
        str | None, Query(description="Any identifier of the person (userId, email, phone, card…)")
    ] = None,
    session: Annotated[str | None, Query(description="The visit's anonymousId")] = None,
    channel: Annotated[
        str | None,
        Query(description="web, mobile, store, call_center, email, social, marketplace"),
    ] = None,
    k: Annotated[int, Query(ge=1, le=MAX_K, description="How many products")] = 10,
    min_price: Annotated[float | None, Query(ge=0)] = None,
    max_price: Annotated[float | None, Query(ge=0)] = None,
    min_margin: Annotated[
        float | None, Query(description="(price - unit cost) / price, e.g. 0.3")
    ] = None,
    exclude: Annotated[
        str | None, Query(description="Comma-separated product ids never to show")
    ] = None,
    at: Annotated[
        datetime | None,
        Query(description="Recommend as of this time (replays, demos); default now"),
    ] = None,
) -> ListQuery:
    """A coroutine, so parsing does not cost a trip through the thread pool."""
    when = at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at
    return ListQuery(profile, session, channel, k, min_price, max_price, min_margin, exclude, when)


async def reader(request: Request) -> tuple[Runtime, KeyInfo]:
    """The profile view's read-key check (none or a bad key 401, a write key 403), as a
    coroutine: it is a cache hit almost always."""
    return read_key(request)


Reader = Annotated[tuple[Runtime, KeyInfo], Depends(reader)]
Params = Annotated[ListQuery, Depends(list_query)]


def service_of(request: Request) -> RecommendationService:
    service: RecommendationService | None = getattr(request.app.state, "recommendations", None)
    if service is None:
        raise ApiError(503, "not_ready", "the recommender is starting")
    return service


def document(service: RecommendationService, q: ListQuery) -> ORJSONResponse:
    """The list as a rendered response (no second pass through FastAPI's encoder)."""
    try:
        model = service.model
        wanted = {p.strip() for p in (q.exclude or "").split(",") if p.strip()}
        rules = Rules(
            min_price=q.min_price,
            max_price=q.max_price,
            min_margin=q.min_margin,
            exclude=frozenset(model.index[p] for p in wanted if p in model.index),
        )
        doc = service.recommend(q.profile, q.session, q.channel, q.k, rules, q.at)
    except NoModelError as error:
        raise ApiError(503, "no_model", error.message) from None
    except InvalidRequestError as error:
        raise ApiError(422, "invalid_request", error.message, error.field) from None
    return ORJSONResponse(doc)


async def answer(service: RecommendationService, q: ListQuery) -> ORJSONResponse:
    """From memory on the event loop (a couple of milliseconds of NumPy); anything that reads
    the store in a worker thread."""
    if service.from_memory(q.at):
        return document(service, q)
    return await asyncio.to_thread(document, service, q)


@router.get(
    "/v1/recommendations",
    summary="Products for a person now: history and the current visit, with a reason each",
    openapi_extra={"security": [{"readKey": []}]},
)
async def get_recommendations(request: Request, caller: Reader, q: Params) -> Any:
    return await answer(service_of(request), q)


@router.get(
    "/v1/admin/recommendations",
    tags=["admin"],
    summary="The same list, for the CLI when the server owns the database",
)
async def admin_recommendations(request: Request, rt: Admin, q: Params) -> Any:
    return await answer(service_of(request), q)


@router.get("/v1/admin/recommendations/model", tags=["admin"], summary="The version in service")
def model_status(request: Request, rt: Admin) -> dict[str, Any]:
    return service_of(request).status()


@router.post(
    "/v1/admin/recommendations/reload",
    tags=["admin"],
    summary="Swap in the version the models directory points at, without dropping requests",
)
async def reload(request: Request, rt: Admin) -> dict[str, Any]:
    try:
        return await asyncio.to_thread(service_of(request).reload)
    except NoModelError as error:
        raise ApiError(503, "no_model", error.message) from None


class TrainRequest(BaseModel):
    catalog: str | None = Field(None, description="Catalog CSV on the server's machine")
    window_days: float = Field(60.0, gt=0)
    max_cases: int = Field(3000, ge=10)


@router.post(
    "/v1/admin/recommendations/train",
    tags=["admin"],
    summary="Train a new version from the server's store and swap it in",
)
async def train(body: TrainRequest, request: Request, rt: Admin) -> dict[str, Any]:
    catalog = Path(body.catalog) if body.catalog else None
    try:
        return await asyncio.to_thread(
            service_of(request).train,
            catalog_file=catalog,
            window_days=body.window_days,
            max_cases=body.max_cases,
        )
    except RecommendError as error:
        raise ApiError(422, "cannot_train", error.message, error.field) from None
