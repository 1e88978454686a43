"""Figures as PNG or SVG: a run's curves, and a comparison's accuracy per variant with ±std bands."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from api import comparisons
from api.deps import ComparisonDep, RunDep, SessionDep
from api.plots import PlotFormat, comparison_figure, run_plot
from api.responses import OWNED, problems

PlotFormatPath = Annotated[PlotFormat, Path(description="The image format: `png` or `svg`")]
router = APIRouter(tags=["plots"], responses=problems(*OWNED))
IMAGES: dict[int | str, dict[str, object]] = {
    200: {
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in ("image/png", "image/svg+xml")
        },
        "description": "The figure",
    }
}


@router.get("/runs/{run_id}/plot.{fmt}", response_class=Response, responses=IMAGES, summary="Plot a run")
def get_run_plot(run: RunDep, session: SessionDep, fmt: PlotFormatPath) -> Response:
    """Range test: smoothed loss against LR (log x), suggested bounds marked; training: LR, loss, accuracy."""
    return Response(run_plot(session=session, run=run, fmt=fmt), media_type=fmt.media_type)


@router.get(
    "/comparisons/{comparison_id}/plot.{fmt}",
    response_class=Response,
    responses=IMAGES,
    summary="Plot a comparison",
)
def get_comparison_plot(comparison: ComparisonDep, session: SessionDep, fmt: PlotFormatPath) -> Response:
    """Validation and training accuracy per variant: mean over repeats with a ±std band."""
    curves = comparisons.curves(session=session, comparison=comparison)
    return Response(comparison_figure(curves, comparison.request, fmt), media_type=fmt.media_type)
