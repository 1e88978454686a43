"""The service's version, as installed, and the `clr_build_info` metric that tells it to Prometheus."""

from __future__ import annotations

import platform
from collections.abc import Iterator
from functools import lru_cache
from importlib.metadata import version

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

DISTRIBUTION = "clr-service"


@lru_cache
def service_version() -> str:
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
