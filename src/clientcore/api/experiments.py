"""Experiment routes: decisions and rewards for channels, management and readouts for people.

- ``GET /v1/decide`` and ``POST /v1/bandits/{id}/reward`` are called by websites, apps and
  send tools, so they take the source's write key (a read key works for ``decide`` too).
- Creating and stopping experiments and the global holdout need the admin token (the CLI
  uses it when the server owns the database); listing and readouts accept a read key too.

The auth dependencies are coroutines: a key check is a cache hit almost always, and a sync
dependency would cost each decision one more trip through the thread pool.
"""

from __future__ import annotations

import secrets
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from clientcore.api.body import basic_user, bearer
from clientcore.api.errors import ApiError
from clientcore.api.runtime import Runtime
from clientcore.collect import AuthError
from clientcore.experiments import registry
from clientcore.experiments.analysis import analyze, analyze_bandit
from clientcore.experiments.analysis import status as experiment_status
from clientcore.experiments.errors import ExperimentsError
from clientcore.experiments.kpi_data import DIMENSIONS, kpi_alerts
from clientcore.experiments.registry import UnknownExperimentError
from clientcore.experiments.service import DuplicateRewardError

router = APIRouter(tags=["experiments"])


def _runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _is_admin(request: Request, rt: Runtime) -> bool:
    token = bearer(request)
    return bool(token) and secrets.compare_digest(token or "", rt.admin_token)


async def channel_caller(request: Request) -> Runtime:
    """A write key (the channel that shows the variant) or a read key."""
    rt = _runtime(request)
    if _is_admin(request, rt):
        return rt
    key = basic_user(request)
    try:
        rt.key(key, "write")
    except AuthError:
        rt.key(key, "read")  # raises 401 with the reason when neither fits
    return rt


async def writer_caller(request: Request) -> Runtime:
    rt = _runtime(request)
    if not _is_admin(request, rt):
        rt.key(basic_user(request), "write")
    return rt


async def reader_caller(request: Request) -> Runtime:
    """A read key, or the admin token."""
    rt = _runtime(request)
    if not _is_admin(request, rt):
        rt.key(basic_user(request), "read")
    return rt


async def admin_caller(request: Request) -> Runtime:
    rt = _runtime(request)
    if not _is_admin(request, rt):
        raise ApiError(401, "unauthorized", "the admin token is missing or wrong")
    return rt


Channel = Annotated[Runtime, Depends(channel_caller)]
Writer = Annotated[Runtime, Depends(writer_caller)]
Reader = Annotated[Runtime, Depends(reader_caller)]
Admin = Annotated[Runtime, Depends(admin_caller)]


def _bad(error: Exception) -> ApiError:
    message = str(error)
    field, _, _ = message.partition(":")
    known = field if field and " " not in field else None
    return ApiError(422, "invalid", message, known)


def _missing(error: UnknownExperimentError) -> ApiError:
    return ApiError(404, "not_found", str(error).strip("'\""), "experiment")


@router.get(
    "/v1/decide",
    summary="The variant (or bandit arm) for a person, with its probability; logs the exposure",
    openapi_extra={"security": [{"writeKey": []}, {"readKey": []}]},
)
async def decide(
    request: Request,
    rt: Channel,
    experiment: Annotated[str, Query(description="Experiment id")],
    profile: Annotated[str, Query(description="Any identifier of the person")],
    channel: Annotated[str | None, Query(description="Where the decision is shown")] = None,
) -> Any:
    """Answered on the event loop when memory holds all it needs (the identity graph and the
    experiment's definition): a trip through the thread pool cost more than the decision."""
    context = {
        key[4:]: value for key, value in request.query_params.items() if key.startswith("ctx.")
    }
    service = rt.experiments
    call = partial(service.decide, experiment, profile, channel=channel, context=context)
    try:
        if service.answers_from_memory(experiment):
            return call()
        return await run_in_threadpool(call)
    except UnknownExperimentError as error:
        raise _missing(error) from None
    except ExperimentsError as error:
        raise _bad(error) from None


class Reward(BaseModel):
    decision_id: str = Field(min_length=1)
    reward: float


@router.post(
    "/v1/bandits/{experiment_id}/reward",
    summary="Credit a bandit decision with its reward; the posterior moves at once",
    openapi_extra={"security": [{"writeKey": []}]},
)
def reward(experiment_id: str, body: Reward, rt: Writer) -> Any:
    try:
        return rt.experiments.reward(experiment_id, body.decision_id, body.reward)
    except UnknownExperimentError as error:
        raise _missing(error) from None
    except DuplicateRewardError as error:
        raise ApiError(409, "conflict", str(error), "decision_id") from None
    except ExperimentsError as error:
        raise _bad(error) from None


class Rewards(BaseModel):
    rewards: list[Reward] = Field(min_length=1, max_length=10_000)


@router.post(
    "/v1/bandits/{experiment_id}/rewards",
    summary="Credit many bandit decisions at once, all or none",
    openapi_extra={"security": [{"writeKey": []}]},
)
def rewards(experiment_id: str, body: Rewards, rt: Writer) -> Any:
    items = [(r.decision_id, r.reward) for r in body.rewards]
    try:
        return {"rewarded": rt.experiments.reward_many(experiment_id, items)}
    except UnknownExperimentError as error:
        raise _missing(error) from None
    except DuplicateRewardError as error:
        raise ApiError(409, "conflict", str(error), "decision_id") from None
    except ExperimentsError as error:
        raise _bad(error) from None


@router.post(
    "/v1/experiments",
    status_code=201,
    summary="Create and start an experiment (A/B/n or bandit)",
    openapi_extra={"security": [{"adminToken": []}]},
)
def create(body: dict[str, Any], rt: Admin) -> Any:
    try:
        experiment = registry.create(rt.experiments.store, body)
    except ExperimentsError as error:
        raise _bad(error) from None
    rt.experiments.forget()
    return experiment.to_dict()


@router.get(
    "/v1/experiments",
    summary="Every experiment with its status, layer and traffic",
    openapi_extra={"security": [{"readKey": []}, {"adminToken": []}]},
)
def list_experiments(rt: Reader, status: str | None = None) -> Any:
    return {
        "experiments": [e.to_dict() for e in registry.list_all(rt.experiments.store, status)],
        "global_holdout": registry.holdout_share(rt.experiments.store),
    }


def _experiment(rt: Runtime, experiment_id: str) -> registry.Experiment:
    try:
        return registry.get(rt.experiments.store, experiment_id)
    except UnknownExperimentError as error:
        raise _missing(error) from None


@router.get(
    "/v1/experiments/{experiment_id}",
    summary="One experiment: definition, status, exposures so far",
    openapi_extra={"security": [{"readKey": []}, {"adminToken": []}]},
)
def status(experiment_id: str, rt: Reader) -> Any:
    experiment = _experiment(rt, experiment_id)
    rt.experiments.exposures.flush()
    policy = rt.experiments.policy(experiment_id) if experiment.kind == "bandit" else None
    return experiment_status(rt.experiments.store, experiment, policy)


@router.get(
    "/v1/experiments/{experiment_id}/analysis",
    summary="The readout: SRM gate, tests per metric, guardrails, Bayesian view (bandits: arms)",
    openapi_extra={"security": [{"readKey": []}, {"adminToken": []}]},
)
def analysis(experiment_id: str, rt: Reader, method: str | None = None) -> Any:
    experiment = _experiment(rt, experiment_id)
    rt.experiments.exposures.flush()
    if method is not None and method not in ("frequentist", "sequential", "bayesian"):
        raise ApiError(422, "invalid", f"method: unknown method {method!r}", "method")
    try:
        if experiment.kind == "bandit":
            policy = rt.experiments.policy(experiment_id)
            return analyze_bandit(rt.experiments.store, experiment, policy)
        return analyze(rt.experiments.store, experiment, method)
    except ExperimentsError as error:
        raise _bad(error) from None


@router.post(
    "/v1/experiments/{experiment_id}/stop",
    summary="Stop assigning; the data stays for readouts",
    openapi_extra={"security": [{"adminToken": []}]},
)
def stop(experiment_id: str, rt: Admin, reason: str = "") -> Any:
    try:
        experiment = registry.stop(rt.experiments.store, experiment_id, reason)
    except UnknownExperimentError as error:
        raise _missing(error) from None
    except ExperimentsError as error:
        raise _bad(error) from None
    rt.experiments.forget()
    return experiment.to_dict()


class Holdout(BaseModel):
    share: float


@router.put(
    "/v1/experiments-holdout",
    summary="Set the global holdout: the share of people kept out of every experiment",
    openapi_extra={"security": [{"adminToken": []}]},
)
def set_holdout(body: Holdout, rt: Admin) -> Any:
    try:
        share = registry.set_holdout(rt.experiments.store, body.share)
    except ExperimentsError as error:
        raise _bad(error) from None
    rt.experiments.forget()
    return {"global_holdout": share}


@router.get(
    "/v1/kpi/alerts",
    summary="Days a KPI fell below its seasonal expectation, with the values that explain it",
    openapi_extra={"security": [{"readKey": []}, {"adminToken": []}]},
)
def alerts(
    rt: Reader,
    kpi: str = "revenue",
    days: Annotated[int, Query(ge=15, le=3660)] = 120,
    threshold: Annotated[float, Query(gt=0)] = 3.5,
    weeks: Annotated[int, Query(ge=2, le=52)] = 6,
    top: Annotated[int, Query(ge=1, le=50)] = 3,
    dimension: Annotated[list[str] | None, Query()] = None,
) -> Any:
    try:
        return kpi_alerts(
            rt.experiments.store,
            kpi=kpi,  # type: ignore[arg-type]
            days=days,
            threshold=threshold,
            weeks=weeks,
            top=top,
            dimensions=dimension or DIMENSIONS,
        )
    except ExperimentsError as error:
        raise _bad(error) from None
