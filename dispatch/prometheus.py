"""What the API's and the worker's metrics share: the multiprocess directory's variable, the build info."""

from __future__ import annotations

import platform
from collections.abc import Iterator
from functools import lru_cache
from importlib.metadata import version

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

DISTRIBUTION = "clr-service"
# prometheus_client's multiprocess mode: set before it is imported, each process writes its values there.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
# How a directory `clr-service worker` makes for it is named; the worker removes such a one as it stops.
WORKER_SCRATCH_PREFIX = "clr-worker-metrics-"


@lru_cache
def service_version() -> str:
    """The installed distribution's version."""
    return version(DISTRIBUTION)


class BuildInfo(Collector):
    """`clr_build_info{version, python} 1`."""

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "clr_build_info", "The running clr-service: its version and Python", labels=["version", "python"]
        )
        info.add_metric([service_version(), platform.python_version()], 1)
        yield info


def add_build_info(registry: CollectorRegistry) -> None:
    registry.register(BuildInfo())
