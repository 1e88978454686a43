"""Comparisons: one training spec over several optimizer/schedule variants, each repeated over seeds."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Response

from api import comparisons, examples
from api.comparisons import ComparisonCurves, ComparisonOut, ComparisonPage
from api.curves import CSV_MEDIA_TYPE
from api.deps import ComparisonDep, OwnerDep, RequestIdDep, SessionDep, SettingsDep
from api.queries import ComparisonQuery
from api.responses import LOCATION, problems
from api.tables import comparison_csv
from store.comparison_specs import ComparisonCreate
from store.problems import ProblemCode

router = APIRouter(prefix="/comparisons", tags=["comparisons"], responses=problems(ProblemCode.UNAUTHORIZED))


@router.post(
    "",
    status_code=202,
    responses={
        202: {"description": "Accepted: its runs are queued; poll it at Location", "headers": LOCATION},
        **problems(
            ProblemCode.UNAUTHORIZED,
            ProblemCode.BAD_REQUEST,
            ProblemCode.BODY_TOO_LARGE,
            ProblemCode.LIMIT_EXCEEDED,
            ProblemCode.DATASET_PATH_OUTSIDE_ROOTS,
            ProblemCode.TOO_MANY_QUEUED,
        ),
    },
    summary="Start a comparison",
)
def create_comparison(
    body: Annotated[ComparisonCreate, Body(openapi_examples=examples.COMPARISON)],
    response: Response,
    owner: OwnerDep,
    session: SessionDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
) -> ComparisonOut:
    """Queue a train run per variant and seed (and a range test first with `clr_bounds_from_lr_find`)."""
    comparison = comparisons.create(
        session=session, settings=settings, owner=owner, spec=body, request_id=request_id
    )
    response.headers["Location"] = f"/comparisons/{comparison.id}"
    return comparisons.comparison_out(session=session, comparison=comparison)


@router.get("", summary="List comparisons, newest first")
def list_comparisons(
    owner: OwnerDep, session: SessionDep, settings: SettingsDep, query: Annotated[ComparisonQuery, Query()]
) -> ComparisonPage:
    """The caller's comparisons that pass every given filter, newest first, one page at a time."""
    return comparisons.page(
        session=session,
        owner=owner,
        limit=min(query.limit, settings.max_page_size),
        where=query,
        cursor=query.cursor,
    )


@router.get(
    "/{comparison_id}",
    responses=problems(ProblemCode.NOT_FOUND),
    summary="Read a comparison and its children's states",
)
def get_comparison(comparison: ComparisonDep, session: SessionDep) -> ComparisonOut:
    return comparisons.comparison_out(session=session, comparison=comparison)


@router.delete(
    "/{comparison_id}",
    status_code=204,
    response_class=Response,
    responses={
        204: {"description": "Deleted, with its runs"},
        **problems(ProblemCode.NOT_FOUND, ProblemCode.COMPARISON_ACTIVE),
    },
    summary="Delete an ended comparison and its runs",
)
def delete_comparison(comparison: ComparisonDep, session: SessionDep, settings: SettingsDep) -> Response:
    """Remove a comparison whose runs all ended, with those runs; 409 while any is queued or running."""
    comparisons.delete(session=session, comparison=comparison, artifact_dir=settings.resolved_artifact_dir)
    return Response(status_code=204)


@router.get(
    "/{comparison_id}/curves",
    summary="Mean and std per variant and epoch",
    response_class=Response,
    responses={
        200: {
            "model": ComparisonCurves,
            "description": "The curves in the asked format",
            "content": {"application/json": {}, CSV_MEDIA_TYPE: {"schema": {"type": "string"}}},
        },
        **problems(ProblemCode.NOT_FOUND),
    },
)
def get_comparison_curves(
    comparison: ComparisonDep,
    session: SessionDep,
    format: Annotated[
        Literal["json", "csv"],
        Query(
            description="json: per variant, columns of epochs; csv: a header row, then a row per variant and "
            "epoch with the mean and std of each metric (empty where undefined)"
        ),
    ] = "json",
) -> Response:
    """Train/val loss and accuracy per epoch (mean, std over repeats), and best val accuracy per variant."""
    curves = comparisons.curves(session=session, comparison=comparison)
    if format == "csv":
        return Response(comparison_csv(curves), media_type=CSV_MEDIA_TYPE)
    return Response(curves.model_dump_json(), media_type="application/json")


@router.post(
    "/{comparison_id}/cancel",
    status_code=202,
    responses={
        202: {"description": "Its unfinished runs are cancelled or cancelling; held variants never start"},
        **problems(ProblemCode.NOT_FOUND),
    },
    summary="Cancel a comparison's unfinished runs",
)
def cancel_comparison(comparison: ComparisonDep, session: SessionDep) -> ComparisonOut:
    return comparisons.cancel(session=session, comparison=comparison)
