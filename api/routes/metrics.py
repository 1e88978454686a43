"""GET /metrics in the Prometheus text format: aggregates only, behind `CLR_METRICS_TOKEN` when it is set."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from api.deps import MetricsScraperDep
from api.responses import problems
from store.problems import ProblemCode

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics",
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}},
        **problems(ProblemCode.UNAUTHORIZED),
    },
)
def get_metrics(request: Request, _scraper: MetricsScraperDep) -> Response:
    """HTTP traffic of this process; runs, queue depth, job durations and points from the database."""
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
