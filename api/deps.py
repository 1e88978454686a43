"""FastAPI dependencies as `Annotated` aliases: settings, session, Celery app, the caller's owner and run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from celery import Celery
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from api.errors import ApiError
from store import comparisons, keys, runs
from store.models import Comparison, Run
from store.settings import Settings

bearer = HTTPBearer(auto_error=False, description="An API key created with `clr-service keys create`")


def get_settings(request: Request) -> Settings:
    """The settings this app was created with."""
    settings: Settings = request.app.state.settings
    return settings


def get_celery(request: Request) -> Celery:
    """The Celery app used to send tasks by name."""
    celery: Celery = request.app.state.celery
    return celery


def get_session_factory(request: Request) -> sessionmaker[Session]:
    """The session maker this app was created with, for work in transactions of its own."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


SettingsDep = Annotated[Settings, Depends(get_settings)]
CeleryDep = Annotated[Celery, Depends(get_celery)]
SessionFactoryDep = Annotated[sessionmaker[Session], Depends(get_session_factory)]


def get_session(factory: SessionFactoryDep) -> Iterator[Session]:
    """A session for this request; routes that write commit through their service."""
    with factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_owner(
    session: SessionDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> str:
    """The owner of the bearer key, or 401."""
    if credentials is None:
        raise ApiError(
            401,
            "unauthorized",
            "send an API key as 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    owner = keys.owner_of(session=session, key=credentials.credentials)
    if owner is None:
        raise ApiError(
            401,
            "unauthorized",
            "the API key is unknown or revoked",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return owner


OwnerDep = Annotated[str, Depends(get_owner)]


def get_owned_run(run_id: str, session: SessionDep, owner: OwnerDep) -> Run:
    """The caller's run `run_id`; another owner's run is as unknown as a missing one."""
    run = runs.get_run(session=session, run_id=run_id, owner=owner)
    if run is None:
        raise ApiError(404, "not_found", f"no run with id {run_id!r}")
    return run


RunDep = Annotated[Run, Depends(get_owned_run)]


def get_owned_comparison(comparison_id: str, session: SessionDep, owner: OwnerDep) -> Comparison:
    """The caller's comparison `comparison_id`; another owner's is as unknown as a missing one."""
    comparison = comparisons.get_comparison(session=session, comparison_id=comparison_id, owner=owner)
    if comparison is None:
        raise ApiError(404, "not_found", f"no comparison with id {comparison_id!r}")
    return comparison


ComparisonDep = Annotated[Comparison, Depends(get_owned_comparison)]
