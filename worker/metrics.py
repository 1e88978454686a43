"""Prometheus metrics of a worker's jobs (step time, samples, GPU memory), served by its main process.

Jobs run in pool processes, so their values go to files under PROMETHEUS_MULTIPROC_DIR (prometheus_client's
multiprocess mode, chosen when prometheus_client is first imported): `clr-service worker` and `serve` set it
to a fresh directory when CLR_WORKER_METRICS_PORT is set, and the main process serves the sum on that port.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import torch
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess, start_http_server

from dispatch.prometheus import MULTIPROCESS_DIR, WORKER_SCRATCH_PREFIX, add_build_info
from store.settings import Settings

log = logging.getLogger(__name__)

STEP_SECONDS = Histogram(
    "clr_worker_step_seconds",
    "Seconds per optimizer step, measured over the steps between two progress reports of the job",
    ["kind"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SAMPLES = Counter("clr_worker_samples", "Samples processed (steps times batch size)", ["kind"])
SAMPLES_PER_SECOND = Gauge(
    "clr_worker_samples_per_second",
    "Samples per second over the steps since the job's previous progress report, by pool slot",
    ["slot"],
    multiprocess_mode="livemax",
)
GPU_MEMORY = Gauge(
    "clr_worker_gpu_memory_bytes",
    "CUDA memory of the pool slot's job: allocated, reserved, and the peak allocated since the job began",
    ["slot", "kind"],
    multiprocess_mode="livemax",
)


class JobMeter:
    """Fed the step count a job reports after each read-back of its losses (so the GPU is synced).

    clr reports at the start, so every step is timed, and again after each evaluation with no new steps,
    which restarts the clock: evaluation time never counts as step time.
    """

    def __init__(
        self, *, kind: str, batch_size: int, slot: int, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.kind, self.batch_size, self.slot, self.clock = kind, batch_size, str(slot), clock
        self._last: tuple[float, int] | None = None  # (time, step) of the previous report
        if torch.cuda.is_initialized():  # type: ignore[no-untyped-call]
            torch.cuda.reset_peak_memory_stats()

    def on_progress(self, step: int) -> None:
        now = self.clock()
        if self._last is not None and step > self._last[1]:
            steps, seconds = step - self._last[1], now - self._last[0]
            observe = STEP_SECONDS.labels(self.kind).observe
            for _ in range(
                steps
            ):  # one observation per step: the histogram's count is steps, its sum seconds
                observe(seconds / steps)
            SAMPLES.labels(self.kind).inc(steps * self.batch_size)
            if seconds > 0:
                SAMPLES_PER_SECOND.labels(self.slot).set(steps * self.batch_size / seconds)
        self._last = (now, step)
        if torch.cuda.is_initialized():  # type: ignore[no-untyped-call]
            # Allocator counters kept on the host: reading them does not wait for the GPU.
            GPU_MEMORY.labels(self.slot, "allocated").set(torch.cuda.memory_allocated())
            GPU_MEMORY.labels(self.slot, "reserved").set(torch.cuda.memory_reserved())
            GPU_MEMORY.labels(self.slot, "peak").set(torch.cuda.max_memory_allocated())


def serve_metrics(settings: Settings) -> None:
    """In the worker's main process: serve every pool process's metrics on `worker_metrics_port`, if set."""
    if settings.worker_metrics_port is None:
        return
    if MULTIPROCESS_DIR not in os.environ:
        log.warning(
            "CLR_WORKER_METRICS_PORT is set but %s is not: jobs' metrics stay in their pool processes; "
            "start the worker with `clr-service worker`, which sets it",
            MULTIPROCESS_DIR,
        )
        return
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    add_build_info(registry)
    start_http_server(settings.worker_metrics_port, settings.worker_metrics_host, registry=registry)
    log.info("worker metrics on %s:%d/metrics", settings.worker_metrics_host, settings.worker_metrics_port)


def forget_process(pid: int) -> None:
    """A pool process ended: its live gauges leave the sum."""
    if MULTIPROCESS_DIR in os.environ:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def remove_scratch() -> None:
    """In the worker's main process as it stops: remove the metrics directory `clr-service worker` made."""
    folder = os.environ.get(MULTIPROCESS_DIR)
    if folder and Path(folder).name.startswith(WORKER_SCRATCH_PREFIX):
        shutil.rmtree(folder, ignore_errors=True)
