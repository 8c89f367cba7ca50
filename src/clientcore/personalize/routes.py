"""Recommendation routes. Thin: parse, call the service, format.

`GET /v1/recommendations` needs a read key, as the profile view does (no key 401, a write key
403). The admin routes are for the CLI and operators: the same list behind the admin token,
the loaded version, a reload of the version on disk, and a training run inside the server
(what `clientcore recommend train` calls while the server owns the DuckDB file).

The service is created when the app starts (this router's lifespan, nested in the app's) and
loads the current version then, so the first request is answered from memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from pydantic import BaseModel, Field

from clientcore.api.errors import ApiError
from clientcore.api.profiles import Admin, Reader
from clientcore.personalize.errors import InvalidRequestError, NoModelError, RecommendError
from clientcore.personalize.model import MAX_K, models_dir
from clientcore.personalize.rules import Rules
from clientcore.personalize.service import RecommendationService


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    runtime = app.state.runtime
    service = RecommendationService(runtime.store, models_dir(runtime.store.url))
    await asyncio.to_thread(service.load_current)
    app.state.recommendations = service
    try:
        yield
    finally:
        service.close()


router = APIRouter(tags=["recommendations"], lifespan=_lifespan)

Profile = Annotated[
    str | None, Query(description="Any identifier of the person (userId, email, phone, card…)")
]
Session = Annotated[str | None, Query(description="The visit's anonymousId")]
Channel = Annotated[
    str | None, Query(description="web, mobile, store, call_center, email, social, marketplace")
]
K = Annotated[int, Query(ge=1, le=MAX_K, description="How many products")]
MinPrice = Annotated[float | None, Query(ge=0)]
MaxPrice = Annotated[float | None, Query(ge=0)]
MinMargin = Annotated[float | None, Query(description="(price - unit cost) / price, e.g. 0.3")]
Exclude = Annotated[str | None, Query(description="Comma-separated product ids never to show")]
At = Annotated[
    datetime | None, Query(description="Recommend as of this time (replays, demos); default now")
]


def service_of(request: Request) -> RecommendationService:
    service: RecommendationService | None = getattr(request.app.state, "recommendations", None)
    if service is None:
        raise ApiError(503, "not_ready", "the recommender is starting")
    return service


def document(
    service: RecommendationService,
    profile: str | None,
    session: str | None,
    channel: str | None,
    k: int,
    min_price: float | None,
    max_price: float | None,
    min_margin: float | None,
    exclude: str | None,
    at: datetime | None,
) -> Any:
    try:
        model = service.model
        wanted = {p.strip() for p in (exclude or "").split(",") if p.strip()}
        rules = Rules(
            min_price=min_price,
            max_price=max_price,
            min_margin=min_margin,
            exclude=frozenset(model.index[p] for p in wanted if p in model.index),
        )
        when = at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at
        return service.recommend(profile, session, channel, k, rules, when)
    except NoModelError as error:
        raise ApiError(503, "no_model", error.message) from None
    except InvalidRequestError as error:
        raise ApiError(422, "invalid_request", error.message, error.field) from None


@router.get(
    "/v1/recommendations",
    summary="Products for a person now: history and the current visit, with a reason each",
    openapi_extra={"security": [{"readKey": []}]},
)
def get_recommendations(
    request: Request,
    caller: Reader,
    profile: Profile = None,
    session: Session = None,
    channel: Channel = None,
    k: K = 10,
    min_price: MinPrice = None,
    max_price: MaxPrice = None,
    min_margin: MinMargin = None,
    exclude: Exclude = None,
    at: At = None,
) -> Any:
    return document(
        service_of(request),
        profile,
        session,
        channel,
        k,
        min_price,
        max_price,
        min_margin,
        exclude,
        at,
    )


@router.get(
    "/v1/admin/recommendations",
    tags=["admin"],
    summary="The same list, for the CLI when the server owns the database",
)
def admin_recommendations(
    request: Request,
    rt: Admin,
    profile: Profile = None,
    session: Session = None,
    channel: Channel = None,
    k: K = 10,
    min_price: MinPrice = None,
    max_price: MaxPrice = None,
    min_margin: MinMargin = None,
    exclude: Exclude = None,
    at: At = None,
) -> Any:
    return document(
        service_of(request),
        profile,
        session,
        channel,
        k,
        min_price,
        max_price,
        min_margin,
        exclude,
        at,
    )


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
