"""Reading, listing and cancelling the caller's runs, and their curves."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api import examples, service
from api.curves import CSV_MEDIA_TYPE, NPY_MEDIA_TYPE, CurveQuery, curves_response
from api.deps import OwnerDep, RunDep, SessionDep, SettingsDep
from api.queries import RunQuery
from api.responses import NEXT_CURSOR, problems
from api.views import run_out
from store.problems import ProblemCode
from store.schemas import RangeCurves, RunOut, RunPage, TrainCurves

router = APIRouter(prefix="/runs", tags=["runs"], responses=problems(ProblemCode.UNAUTHORIZED))


@router.get("", summary="List runs, newest first")
def list_runs(
    owner: OwnerDep, session: SessionDep, settings: SettingsDep, query: Annotated[RunQuery, Query()]
) -> RunPage:
    """The caller's runs that pass every given filter, newest first, one page at a time."""
    found, next_cursor = service.page_of_runs(
        session=session,
        owner=owner,
        limit=min(query.limit, settings.max_page_size),
        where=query,
        cursor=query.cursor,
    )
    return RunPage(items=[run_out(run) for run in found], next_cursor=next_cursor)


@router.get(
    "/{run_id}",
    summary="Read a run",
    responses=problems(ProblemCode.NOT_FOUND),
)
async def get_run(run: RunDep) -> RunOut:
    """Status, progress, request, result and error of one run."""
    return run_out(run)


@router.delete(
    "/{run_id}",
    status_code=204,
    response_class=Response,
    responses={
        204: {"description": "Deleted, with its series, files and pending webhook"},
        **problems(ProblemCode.NOT_FOUND, ProblemCode.RUN_ACTIVE, ProblemCode.RUN_IN_COMPARISON),
    },
    summary="Delete an ended run",
)
def delete_run(run: RunDep, session: SessionDep, settings: SettingsDep) -> Response:
    """Remove an ended run with its curves, epochs, files and pending webhook; 409 while queued or running."""
    service.delete_run(session=session, run=run, artifact_dir=settings.resolved_artifact_dir)
    return Response(status_code=204)


@router.post(
    "/{run_id}/cancel",
    status_code=202,
    responses={
        202: {"description": "Queued: now cancelled; running: now cancelling, and it stops within a batch"},
        **problems(ProblemCode.NOT_FOUND, ProblemCode.RUN_TERMINAL),
    },
    summary="Cancel a run",
)
def cancel_run(run: RunDep, session: SessionDep) -> RunOut:
    """Queued runs are cancelled at once; running ones move to cancelling and stop within a batch."""
    return run_out(service.cancel_run(session=session, run=run))


CURVES_DOC = (
    "The run's per-step curve (partial while it runs), filtered by step and lr, then downsampled to "
    "`max_points` or paged by `cursor`/`limit`. JSON: `RangeCurves` for a range test, `TrainCurves` "
    "(per-step `batch` and per-epoch `epochs`) for training; `format=npy` and `format=csv` give the "
    "per-step series alone."
)


@router.get(
    "/{run_id}/curves",
    summary="Read a run's curves",
    description=CURVES_DOC,
    response_class=Response,
    responses={
        200: {
            "model": RangeCurves | TrainCurves,
            "description": "The curve in the asked format",
            "headers": NEXT_CURSOR,
            "content": {  # JSON first: generated clients parse the first type they know
                "application/json": {},
                NPY_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
                CSV_MEDIA_TYPE: {"schema": {"type": "string"}, "example": examples.RANGE_CSV},
            },
        },
        **problems(ProblemCode.NOT_FOUND),
    },
)
def get_run_curves(run: RunDep, session: SessionDep, query: Annotated[CurveQuery, Query()]) -> Response:
    """Columns of the run's per-step curve (partial while it runs)."""
    return curves_response(session=session, run=run, query=query)
