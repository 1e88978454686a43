"""Prometheus metrics: HTTP traffic, and run figures read from the database at scrape.

Unfinished runs, queue depth and the oldest queued run's age, ended runs, job durations, written points and
webhook attempts come from the database on every scrape (a custom collector reading `store.stats`: the status
index and counters kept as runs end and write, never a whole table), so they are the same whichever API
process is scraped and survive restarts. HTTP metrics are counted per process; with PROMETHEUS_MULTIPROC_DIR
set (`clr-service api --workers N` sets it) each process writes them there and a scrape sums all processes
(prometheus_client's multiprocess mode). Every metric is an aggregate: no owner, key or run id appears in a
label, so /metrics needs no API key (`CLR_METRICS_TOKEN` puts it behind a bearer token of its own).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch.prometheus import MULTIPROCESS_DIR, add_build_info
from store import stats
from store.counters import DURATION_BUCKETS
from store.models import RunKind, RunStatus
from store.runs import utcnow


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
        waited = (utcnow() - figures.oldest_queued_at).total_seconds() if figures.oldest_queued_at else 0.0
        yield GaugeMetricFamily(
            "clr_oldest_queued_run_age_seconds",
            "Seconds the run waiting longest has been queued (0 when none waits)",
            value=max(0.0, waited),
        )
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
        webhooks = CounterMetricFamily(
            "clr_webhook_attempts",
            "Webhook POSTs by outcome: delivered, retry (failed, tried again later), failed (given up)",
            labels=["outcome"],
        )
        for state, outcome in (("delivered", "delivered"), ("pending", "retry"), ("failed", "failed")):
            webhooks.add_metric([outcome], figures.webhook_attempts.get(state, 0))
        yield webhooks


def make_registry(factory: sessionmaker[Session]) -> CollectorRegistry:
    """The registry /metrics serves, of this app's own, so several apps in one process never clash."""
    registry = CollectorRegistry()
    registry.register(RunCollector(factory))
    add_build_info(registry)
    if MULTIPROCESS_DIR in os.environ:
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def http_registry(served: CollectorRegistry) -> CollectorRegistry:
    """Where HttpMetrics registers: the served registry, or in multiprocess mode one never served (its
    values reach /metrics through the files every process writes, summed by the MultiProcessCollector)."""
    return CollectorRegistry() if MULTIPROCESS_DIR in os.environ else served
