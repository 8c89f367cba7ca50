"""The FastAPI application: collector, health, admin; later capabilities add their routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request

from clientcore import __version__
from clientcore.api import (
    admin,
    collect,
    errors,
    experiments,
    identity,
    profiles,
    reconcile,
    value,
)
from clientcore.api.responses import ORJSONResponse
from clientcore.api.runtime import Runtime
from clientcore.personalize import routes as recommendations
from clientcore.store import StoreError


def create_app(
    db_url: str | None = None, admin_token: str | None = None, stitch: bool = True
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.runtime = Runtime.start(db_url, admin_token, stitch)
        try:
            yield
        finally:
            app.state.runtime.close()

    app = FastAPI(
        title="clientcore",
        version=__version__,
        summary="Customer data and intelligence platform for omnichannel retailers",
        lifespan=lifespan,
        default_response_class=ORJSONResponse,
    )
    errors.install(app)
    app.include_router(collect.router)
    app.include_router(admin.router)
    app.include_router(identity.router)
    app.include_router(experiments.router)
    app.include_router(reconcile.router)
    # Before profiles: its {identifier:path} route would otherwise catch …/value.
    app.include_router(value.router)
    app.include_router(profiles.router)
    app.include_router(recommendations.router)

    @app.get("/health", tags=["ops"], summary="Liveness: the process answers")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", tags=["ops"], summary="Readiness: the store answers and the writer runs")
    def ready(request: Request) -> ORJSONResponse:
        rt: Runtime = request.app.state.runtime
        checks: dict[str, Any] = {"writer": rt.writer.alive}
        try:
            checks["schema_version"] = rt.reader.schema_version()
            checks["store"] = True
        except StoreError as error:
            checks["store"] = False
            checks["store_error"] = str(error)
        ok = bool(checks["store"] and checks["writer"])
        return ORJSONResponse(
            {"status": "ready" if ok else "not_ready", **checks}, status_code=200 if ok else 503
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {}).update(collect.EVENT_COMPONENTS)
        components["securitySchemes"] = {
            "writeKey": {"type": "http", "scheme": "basic"},
            "readKey": {"type": "http", "scheme": "basic"},
            "adminToken": {"type": "http", "scheme": "bearer"},
        }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
