"""Reconciling customer records from several CRMs: import, standardize, link, review, explain.

Records that share no exact key still belong to one person when their names, birth dates and
addresses agree closely enough. That judgement is Fellegi–Sunter (Splink on DuckDB, or on
Spark), made without labels, clustered so that chains of weak links cannot glue strangers
together, explained field by field, and checked and re-fitted against reviewers' decisions.

Exceptions::

    ReconcileError              anything this capability refuses; nothing was changed
    ├── MappingError            a column mapping that cannot apply to the file (field named)
    ├── UnknownRecordError      no imported record has this SOURCE:RECORD_ID
    ├── NoModelError            matching was asked for before a model was trained
    └── ReviewError             a review decision on a pair that is not waiting for one
"""

from __future__ import annotations


class ReconcileError(Exception):
    """Base of the reconcile errors; `status` is the HTTP status the API answers with."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class MappingError(ReconcileError):
    code = "invalid_mapping"


class UnknownRecordError(ReconcileError):
    status = 404
    code = "not_found"


class NoModelError(ReconcileError):
    status = 409
    code = "no_model"


class ReviewError(ReconcileError):
    status = 409
    code = "not_in_review"
