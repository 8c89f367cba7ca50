"""Reconciliation routes (admin token): import customer files, run, the review queue, explain.

The review queue is what a data steward's tool calls: `GET …/review` lists the grey zone with
per-field evidence, `POST …/review/decisions` records a decision and applies it at once;
`GET …/labels/check` and `POST …/labels/tune` use the decisions to check and re-fit the model.
The CLI uses the same routes while `clientcore serve` owns the database file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from clientcore.api.admin import AdminDep
from clientcore.api.errors import ApiError
from clientcore.reconcile import ReconcileError
from clientcore.reconcile.engine import EngineName

router = APIRouter(prefix="/v1/admin/reconcile", tags=["reconcile"])
T = TypeVar("T")


def _answer(work: Callable[[], T]) -> T:
    """A reconcile refusal becomes the one error shape, with its status and field."""
    try:
        return work()
    except ReconcileError as error:
        raise ApiError(error.status, error.code, error.message, error.field) from error


class ImportRequest(BaseModel):
    path: str
    source: str = Field(min_length=1)
    map: list[str] = Field(default_factory=list)
    mapping: str | None = None


class RunRequest(BaseModel):
    retrain: bool = False
    full: bool = False
    engine: EngineName = "duckdb"


class TuneRequest(BaseModel):
    dry_run: bool = False
    engine: EngineName = "duckdb"


class DecisionRequest(BaseModel):
    a: str = Field(description="SOURCE:RECORD_ID")
    b: str = Field(description="SOURCE:RECORD_ID")
    decision: Literal["accepted", "rejected"]
    note: str | None = None
    decided_by: str | None = None


class EvaluateRequest(BaseModel):
    labels: str = Field(description="Path of a CSV (source, record_id, person_id) on the server")


@router.post("/import", summary="Import a customer-record CSV that is on the server's machine")
async def import_route(body: ImportRequest, rt: AdminDep) -> dict[str, Any]:
    from clientcore.reconcile.records import import_customers

    mapping = Path(body.mapping) if body.mapping else None
    report = await asyncio.to_thread(
        _answer,
        lambda: import_customers(rt.store, Path(body.path), body.source, mapping, body.map),
    )
    return report.to_dict()


@router.post("/run", summary="Link the imported records (train once, score, cluster)")
async def run_route(body: RunRequest, rt: AdminDep) -> dict[str, Any]:
    from clientcore.reconcile.linkage import run
    from clientcore.reconcile.policy import load_policy

    report = await asyncio.to_thread(
        _answer,
        lambda: run(rt.store, load_policy(), body.retrain, body.full, engine=body.engine),
    )
    return report.to_dict()


@router.get("/review", summary="Pairs waiting for a decision, with per-field evidence")
def review_route(
    rt: AdminDep,
    status: Literal["review", "conflict"] = "review",
    limit: int = Query(20, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    from clientcore.reconcile.review import queue

    return queue(rt.reader, limit, offset, status)


@router.post("/review/decisions", summary="Accept or reject a pair; applied at once")
def decision_route(body: DecisionRequest, rt: AdminDep) -> dict[str, Any]:
    from clientcore.reconcile.review import decide

    return _answer(
        lambda: decide(rt.store, body.a, body.b, body.decision, body.decided_by, body.note)
    )


@router.get("/review/labels", summary="Decisions as pairwise labels, and the model's agreement")
def labels_route(rt: AdminDep) -> dict[str, Any]:
    from clientcore.reconcile.review import labels

    return labels(rt.reader)


@router.get("/labels/check", summary="The model's automatic calls against the review decisions")
async def labels_check_route(rt: AdminDep, engine: EngineName = "duckdb") -> dict[str, Any]:
    from clientcore.reconcile.labels import check

    return await asyncio.to_thread(_answer, lambda: check(rt.reader, engine=engine))


@router.post("/labels/tune", summary="Re-fit the model to the review decisions; a new version")
async def labels_tune_route(body: TuneRequest, rt: AdminDep) -> dict[str, Any]:
    from clientcore.reconcile.labels import tune

    return await asyncio.to_thread(
        _answer, lambda: tune(rt.store, engine=body.engine, dry_run=body.dry_run)
    )


@router.get("/explain", summary="Why two records were or were not linked, field by field")
def explain_route(
    rt: AdminDep,
    a: str = Query(description="SOURCE:RECORD_ID"),
    b: str = Query(description="SOURCE:RECORD_ID"),
) -> dict[str, Any]:
    from clientcore.reconcile.explain import explain

    return _answer(lambda: explain(rt.reader, a, b))


@router.post("/evaluate", summary="Pairwise and cluster precision, recall, F1 against labels")
def evaluate_route(body: EvaluateRequest, rt: AdminDep) -> dict[str, Any]:
    from clientcore.reconcile.evaluate import evaluate_store, read_labels

    return _answer(lambda: evaluate_store(rt.reader, read_labels(Path(body.labels))))


@router.get("/records/{record:path}", summary="The reconciled person of a record (SOURCE:ID)")
def person_route(record: str, rt: AdminDep) -> dict[str, Any]:
    from clientcore.reconcile.people import person

    return _answer(lambda: person(rt.reader, record))
