"""FastAPI dependencies as `Annotated` aliases: settings, session, Celery app, the caller's owner and run.

The cheap ones are `async def`, so a request spends no thread hop on them; the key's owner and the run of
the path come from `api.hotpath` (remembered for a few seconds, and read without a thread hop on PostgreSQL).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from celery import Celery
from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from api.auth import OwnerCache
from api.errors import ApiError
from api.events import StreamSlots
from api.hotpath import HotPath, read_apart
from store import comparisons
from store.ids import is_id
from store.models import Comparison, Run
from store.problems import ProblemCode
from store.settings import Settings

bearer = HTTPBearer(auto_error=False, description="An API key created with `clr-service keys create`")


async def get_settings(request: Request) -> Settings:
    """The settings this app was created with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_celery(request: Request) -> Celery:
    """The Celery app used to send tasks by name."""
    celery: Celery = request.app.state.celery
    return celery


async def get_session_factory(request: Request) -> sessionmaker[Session]:
    """The session maker this app was created with, for work in transactions of its own."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_request_id(request: Request) -> str | None:
    """The request's X-Request-ID, as the RequestId middleware took or made it."""
    return getattr(request.state, "request_id", None)


RequestIdDep = Annotated[str | None, Depends(get_request_id)]
CeleryDep = Annotated[Celery, Depends(get_celery)]
SessionFactoryDep = Annotated[sessionmaker[Session], Depends(get_session_factory)]


def get_session(factory: SessionFactoryDep) -> Iterator[Session]:
    """A session for this request; routes that write commit through their service."""
    with factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def get_owner(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> str:
    """The owner of the bearer key, or 401."""
    if credentials is None:
        raise ApiError(
            ProblemCode.UNAUTHORIZED,
            "send an API key as 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    owners: OwnerCache = request.app.state.owners
    owner = await owners.owner_of(credentials.credentials)
    if owner is None:
        raise ApiError(
            ProblemCode.UNAUTHORIZED,
            "the API key is unknown or revoked",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return owner


OwnerDep = Annotated[str, Depends(get_owner)]


async def check_metrics_token(
    settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    """Nothing when no CLR_METRICS_TOKEN is set or the bearer token is it; else 401."""
    expected = settings.metrics_token
    if expected is None:
        return
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise ApiError(
            ProblemCode.UNAUTHORIZED,
            "send the metrics token (CLR_METRICS_TOKEN) as 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


MetricsScraperDep = Annotated[None, Depends(check_metrics_token)]


async def get_hot_path(request: Request) -> HotPath:
    """What most requests do to the database, kept off worker threads where the database allows."""
    hot: HotPath = request.app.state.hot
    return hot


HotPathDep = Annotated[HotPath, Depends(get_hot_path)]
RunIdPath = Annotated[
    str, Path(description="The run's id (32 hex digits) from `POST /lr-find` or `POST /train`")
]
ComparisonIdPath = Annotated[
    str, Path(description="The comparison's id (32 hex digits) from `POST /comparisons`")
]


async def get_owned_run(run_id: RunIdPath, owner: OwnerDep, hot: HotPathDep) -> Run:
    """The caller's run `run_id`; another owner's run is as unknown as a missing one."""
    run = await hot.run(run_id=run_id, owner=owner) if is_id(run_id) else None
    if run is None:
        raise ApiError(ProblemCode.NOT_FOUND, f"no run with id {run_id!r}")
    return run


RunDep = Annotated[Run, Depends(get_owned_run)]


async def get_stream_slots(request: Request) -> StreamSlots:
    """This process's count of open event streams per owner."""
    slots: StreamSlots = request.app.state.stream_slots
    return slots


StreamSlotsDep = Annotated[StreamSlots, Depends(get_stream_slots)]


async def get_owned_comparison(
    comparison_id: ComparisonIdPath, owner: OwnerDep, factory: SessionFactoryDep
) -> Comparison:
    """The caller's comparison `comparison_id`; another owner's is as unknown as a missing one."""
    comparison = (
        await read_apart(
            factory,
            lambda session: comparisons.get_comparison(
                session=session, comparison_id=comparison_id, owner=owner
            ),
        )
        if is_id(comparison_id)
        else None
    )
    if comparison is None:
        raise ApiError(ProblemCode.NOT_FOUND, f"no comparison with id {comparison_id!r}")
    return comparison


ComparisonDep = Annotated[Comparison, Depends(get_owned_comparison)]
