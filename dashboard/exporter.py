"""``GET /metrics`` on a served dashboard: the process's own metrics in Prometheus' exposition format.

prometheus_client's default registry (process CPU, memory, open files, Python GC) plus the dashboard's
own: samples stored, series, open viewers, and per source its state (``dashboard_source_up``), collections
and failures. A Prometheus server can scrape a dashboard like any other target, and the dashboard's own
``prometheus`` source can scrape itself (``examples/all-sources.yaml`` does).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import tornado.web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .service import MetricsService


class ServiceCollector(Collector):
    """Exposes a :class:`MetricsService`'s own numbers."""

    def __init__(self, service: MetricsService) -> None:
        self.service = service

    def collect(self) -> Iterator[Any]:
        svc = self.service
        yield CounterMetricFamily("dashboard_samples_stored", "Samples written to the store",
                                  value=svc.store.samples_appended)
        yield GaugeMetricFamily("dashboard_series", "Series in the store", value=len(svc.store))
        yield GaugeMetricFamily("dashboard_viewers", "Open viewers (publisher subscriptions)",
                                value=svc.publisher.subscriber_count)
        up = GaugeMetricFamily("dashboard_source_up", "1 when the source's last collection succeeded",
                               labels=["source"])
        collections = CounterMetricFamily("dashboard_source_collections", "Successful collections",
                                          labels=["source"])
        failures = CounterMetricFamily("dashboard_source_failures", "Failed collections", labels=["source"])
        for name, source in svc.sources.items():
            up.add_metric([name], 1.0 if source.health in ("ok", "no data") else 0.0)
            collections.add_metric([name], source.collections)
            failures.add_metric([name], source.failures)
        yield from (up, collections, failures)


class MetricsHandler(tornado.web.RequestHandler):
    """Serves the process registry and the service's collector."""

    def initialize(self, service: MetricsService) -> None:
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(ServiceCollector(service))

    def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.write(generate_latest(REGISTRY) + generate_latest(self._registry))
