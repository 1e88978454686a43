"""The FastAPI application, built by a factory from settings, a session maker and a Celery app."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from celery import Celery
from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline
from sqlalchemy.orm import Session, sessionmaker

from api.auth import OwnerCache
from api.errors import install_error_handlers
from api.events import StreamSlots
from api.hotpath import make_hot_path
from api.metrics import HttpMetrics, http_registry, make_registry
from api.middleware import BodySizeLimit
from api.openapi import install_openapi, operation_id
from api.queries import reject_unknown_query_parameters
from api.request_id import RequestId
from api.responses import problems
from api.routes import artifacts, catalog, comparisons, events, health, jobs, metrics, plots, runs, ui
from dispatch.broker import make_celery
from dispatch.logs import configure_logging
from dispatch.supervisor import Supervisor
from store.db import make_engine, make_sessionmaker
from store.settings import Settings, get_settings

DESCRIPTION = (
    "Learning-rate range tests and cyclical-LR training jobs. "
    "Authenticate with `Authorization: Bearer <key>`. "
    "Errors are RFC 9457 `application/problem+json` bodies with a stable `code`."
)


def create_app(
    settings: Settings | None = None,
    *,
    session_factory: sessionmaker[Session] | None = None,
    celery: Celery | None = None,
) -> FastAPI:
    """An app on the given session maker and Celery app; those it makes itself it closes on shutdown."""
    settings = settings or get_settings()
    owned_engine = None
    if session_factory is None:
        owned_engine = make_engine(settings.resolved_database_url)
        session_factory = make_sessionmaker(owned_engine)
    owned_celery = celery is None
    celery = celery or make_celery(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        supervisor = Supervisor(celery=celery, factory=session_factory, settings=settings)
        # Everything loaded so far lives as long as the process: keep it out of the collector's full passes,
        # which otherwise pause every request for ~150 ms on a 2-core machine (benchmarks/api_load.py part b).
        gc.collect()
        gc.freeze()
        if settings.supervise:
            supervisor.start()
        yield
        if settings.supervise:
            supervisor.stop()
        await hot.close()
        if owned_engine is not None:
            owned_engine.dispose()
        if owned_celery:
            celery.close()

    # /docs and /redoc load Swagger UI and ReDoc from files shipped in fastapi-offline, never from a CDN,
    # and Swagger UI's online validator badge (an outside request) is off.
    app = FastAPIOffline(
        title="clr-service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query_parameters)],
        static_url="/docs-assets",
        swagger_ui_parameters={"validatorUrl": None},
        responses=problems(),
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.session_factory = session_factory
    app.state.celery = celery
    hot = make_hot_path(session_factory, pool_size=settings.hot_pool_size)
    app.state.hot = hot
    app.state.stream_slots = StreamSlots(settings.max_streams_per_owner)
    app.state.owners = OwnerCache(look_up=lambda key: hot.owner_of(key=key), ttl=settings.key_cache_seconds)
    install_error_handlers(app)
    install_openapi(app)
    app.add_middleware(BodySizeLimit, max_body_bytes=settings.max_body_bytes)
    app.state.metrics_registry = make_registry(session_factory)
    app.add_middleware(HttpMetrics, registry=http_registry(app.state.metrics_registry))
    app.add_middleware(RequestId)  # outermost: every answer carries the id, every log line of it too
    app.include_router(health.router)
    app.include_router(jobs.router)
    app.include_router(runs.router)
    app.include_router(events.router)
    app.include_router(ui.router)
    app.include_router(comparisons.router)
    app.include_router(plots.router)
    app.include_router(artifacts.router)
    app.include_router(metrics.router)
    app.include_router(catalog.router)
    return app


def make_default_app() -> FastAPI:
    """The app from the environment's settings, for `uvicorn api.app:make_default_app --factory`.

    Logging is set up here, after uvicorn's own, so uvicorn's lines take the service's format too.
    """
    settings = get_settings()
    configure_logging(settings, "api")
    return create_app(settings)
