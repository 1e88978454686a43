"""Prometheus metrics: HTTP traffic counted in this process, run figures read from the database at scrape.

Unfinished runs, queue depth, ended runs, job durations and written points come from the database on every
scrape (a custom collector reading `store.stats`: the status index and counters kept as runs end and write,
never a whole table), so they are the same whichever API process is scraped and survive restarts; HTTP
metrics are per process. Every metric is an aggregate: no owner, key or run id appears in a label, so
/metrics needs no API key (`CLR_METRICS_TOKEN` puts it behind a bearer token of its own).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from store import stats
from store.counters import DURATION_BUCKETS
from store.models import RunKind, RunStatus


class HttpMetrics:
    """ASGI middleware: requests and their latency by method, route template and status."""

    def __init__(self, app: ASGIApp, *, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "clr_http_requests", "HTTP requests", ["method", "route", "status"], registry=registry
        )
        self.latency = Histogram(
            "clr_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.requests.labels(scope["method"], route, str(status)).inc()
            self.latency.labels(scope["method"], route).observe(time.perf_counter() - started)


class RunCollector(Collector):
    """Run figures from one aggregate read of the database per scrape."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def collect(self) -> Iterator[Metric]:
        with self.factory() as session:
            figures = stats.run_stats(session=session)
        runs = GaugeMetricFamily("clr_runs", "Runs not ended, by kind and status", labels=["kind", "status"])
        for kind in RunKind:
            for status in stats.UNFINISHED:
                runs.add_metric([kind, status], figures.unfinished.get((kind, status), 0))
        yield runs
        queued = sum(n for (_, status), n in figures.unfinished.items() if status == RunStatus.QUEUED)
        yield GaugeMetricFamily("clr_queue_depth", "Runs waiting for a worker", value=queued)
        ended = CounterMetricFamily(
            "clr_runs_ended", "Runs that ended, by kind and status", labels=["kind", "status"]
        )
        for (run_kind, run_status), count in sorted(figures.ended.items()):
            ended.add_metric([run_kind, run_status], count)
        yield ended
        durations = HistogramMetricFamily(
            "clr_job_duration_seconds", "Seconds from start to end of ended runs", labels=["kind", "status"]
        )
        bounds = [str(b) for b in DURATION_BUCKETS]
        for (run_kind, run_status), found in sorted(figures.durations.items()):
            buckets = [*zip(bounds, found.buckets, strict=True), ("+Inf", found.count)]
            durations.add_metric([run_kind, run_status], buckets, sum_value=found.total)
        yield durations
        points = CounterMetricFamily(
            "clr_points_stored", "Curve points written, by series", labels=["series"]
        )
        for series, total in sorted(figures.points.items()):
            points.add_metric([series], total)
        yield points


def make_registry(factory: sessionmaker[Session]) -> CollectorRegistry:
    """A registry of this app's own, so several apps in one process never clash."""
    registry = CollectorRegistry()
    registry.register(RunCollector(factory))
    return registry
