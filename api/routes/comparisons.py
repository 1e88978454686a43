"""Comparisons: one training spec over several optimizer/schedule variants, each repeated over seeds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api import comparisons
from api.comparisons import ComparisonCurves, ComparisonOut, ComparisonPage
from api.deps import ComparisonDep, OwnerDep, SessionDep, SettingsDep
from api.queries import ComparisonQuery
from store.comparison_specs import ComparisonCreate
from store.problems import Problem

router = APIRouter(
    prefix="/comparisons",
    tags=["comparisons"],
    responses={401: {"model": Problem}, 404: {"model": Problem}},
)


@router.post(
    "",
    status_code=202,
    responses={422: {"model": Problem}, 429: {"model": Problem}},
    summary="Start a comparison",
)
def create_comparison(
    body: ComparisonCreate,
    response: Response,
    owner: OwnerDep,
    session: SessionDep,
    settings: SettingsDep,
) -> ComparisonOut:
    """Queue a train run per variant and seed (and a range test first with `clr_bounds_from_lr_find`)."""
    comparison = comparisons.create(session=session, settings=settings, owner=owner, spec=body)
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


@router.get("/{comparison_id}", summary="Read a comparison and its children's states")
def get_comparison(comparison: ComparisonDep, session: SessionDep) -> ComparisonOut:
    return comparisons.comparison_out(session=session, comparison=comparison)


@router.delete(
    "/{comparison_id}",
    status_code=204,
    response_class=Response,
    responses={409: {"model": Problem}},
    summary="Delete an ended comparison and its runs",
)
def delete_comparison(comparison: ComparisonDep, session: SessionDep, settings: SettingsDep) -> Response:
    """Remove a comparison whose runs all ended, with those runs; 409 while any is queued or running."""
    comparisons.delete(session=session, comparison=comparison, artifact_dir=settings.resolved_artifact_dir)
    return Response(status_code=204)


@router.get("/{comparison_id}/curves", summary="Mean and std per variant and epoch")
def comparison_curves(comparison: ComparisonDep, session: SessionDep) -> ComparisonCurves:
    """Train/val loss and accuracy per epoch (mean, std over repeats), and best val accuracy per variant."""
    return comparisons.curves(session=session, comparison=comparison)


@router.post("/{comparison_id}/cancel", status_code=202, summary="Cancel a comparison's unfinished runs")
def cancel_comparison(comparison: ComparisonDep, session: SessionDep) -> ComparisonOut:
    return comparisons.cancel(session=session, comparison=comparison)
