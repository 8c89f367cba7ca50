"""One JSON error shape for the whole API: {"error": {"code", "message", "field"?, ...}}."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from clientcore.api.responses import ORJSONResponse
from clientcore.collect import CollectError
from clientcore.store import StoreError

log = logging.getLogger("clientcore.api")


class ApiError(Exception):
    """An error a route raises on purpose; rendered in the one error shape."""

    def __init__(
        self, status: int, code: str, message: str, field: str | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field, self.extra = (
            status,
            code,
            message,
            field,
            extra,
        )


def error_body(code: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    error.update(extra)
    return {"error": error}


def install(app: FastAPI) -> None:
    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> ORJSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return ORJSONResponse(
            error_body("internal_error", "the server failed to handle the request; see its log"),
            status_code=500,
        )

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> ORJSONResponse:
        return ORJSONResponse(
            error_body(exc.code, exc.message, exc.field, **exc.extra), status_code=exc.status
        )

    @app.exception_handler(CollectError)
    async def _collect(_: Request, exc: CollectError) -> ORJSONResponse:
        headers = {"WWW-Authenticate": "Basic"} if exc.status == 401 else None
        return ORJSONResponse(
            error_body(exc.code, exc.message, exc.field), status_code=exc.status, headers=headers
        )

    @app.exception_handler(StoreError)
    async def _store(_: Request, exc: StoreError) -> ORJSONResponse:
        return ORJSONResponse(
            error_body("store_unavailable", f"the store could not complete the request: {exc}"),
            status_code=503,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> ORJSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return ORJSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> ORJSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = list(first.get("loc", []))
        # Drop where the value came from, not a field that has the same name (`path`).
        if loc and loc[0] in ("query", "body", "path", "header", "cookie"):
            loc = loc[1:]
        location = [str(p) for p in loc]
        return ORJSONResponse(
            error_body(
                "invalid_request",
                str(first.get("msg", "invalid request")),
                ".".join(location) or None,
            ),
            status_code=422,
        )
