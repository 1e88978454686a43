"""Reading, listing and cancelling the caller's runs, and their curves."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.curves import NPY_MEDIA_TYPE, CurveQuery, curves_response
from api.deps import OwnerDep, RunDep, SessionDep, SettingsDep
from api.queries import RunQuery
from api.service import cancel_run, delete_run, page_of_runs
from api.views import run_out
from store.problems import Problem
from store.schemas import RunOut, RunPage

router = APIRouter(
    prefix="/runs", tags=["runs"], responses={401: {"model": Problem}, 404: {"model": Problem}}
)


@router.get("", summary="List runs, newest first")
def list_runs(
    owner: OwnerDep, session: SessionDep, settings: SettingsDep, query: Annotated[RunQuery, Query()]
) -> RunPage:
    """The caller's runs that pass every given filter, newest first, one page at a time."""
    found, next_cursor = page_of_runs(
        session=session,
        owner=owner,
        limit=min(query.limit, settings.max_page_size),
        where=query,
        cursor=query.cursor,
    )
    return RunPage(items=[run_out(run) for run in found], next_cursor=next_cursor)


@router.get("/{run_id}", summary="Read a run")
async def get_run(run: RunDep) -> RunOut:
    """Status, progress, request, result and error of one run."""
    return run_out(run)


@router.delete(
    "/{run_id}",
    status_code=204,
    response_class=Response,
    responses={409: {"model": Problem}},
    summary="Delete an ended run",
)
def delete(run: RunDep, session: SessionDep, settings: SettingsDep) -> Response:
    """Remove an ended run with its curves, epochs, files and pending webhook; 409 while queued or running."""
    delete_run(session=session, run=run, artifact_dir=settings.resolved_artifact_dir)
    return Response(status_code=204)


@router.post("/{run_id}/cancel", status_code=202, responses={409: {"model": Problem}}, summary="Cancel a run")
def cancel(run: RunDep, session: SessionDep) -> RunOut:
    """Queued runs are cancelled at once; running ones move to cancelling and stop within a batch."""
    return run_out(cancel_run(session=session, run=run))


CURVES_DOC = (
    "lr_find runs: `{run_id, kind, status, points, next_cursor, step, lr, loss, smoothed_loss, accuracy}`; "
    "train runs: `{run_id, kind, status, points, next_cursor, batch: {step, epoch, lr, loss}, "
    "epochs: {epoch, step, train_loss, train_accuracy, val_loss, val_accuracy, lr}}`. "
    "Non-finite values are null."
)


@router.get(
    "/{run_id}/curves",
    summary="Read a run's curves",
    description=CURVES_DOC,
    response_class=Response,
    responses={200: {"content": {"application/json": {}, NPY_MEDIA_TYPE: {}}}},
)
def curves(run: RunDep, session: SessionDep, query: Annotated[CurveQuery, Query()]) -> Response:
    """Columns of the run's per-step curve (partial while it runs)."""
    return curves_response(session=session, run=run, query=query)
