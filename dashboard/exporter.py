"""``GET /metrics`` on a served dashboard: the process's own metrics in Prometheus' exposition format.

prometheus_client's default registry (process CPU, memory, open files, Python GC) plus the dashboard's
own: samples stored, series, open viewers, and per source its state (``dashboard_source_up``), collections
and failures. A Prometheus server can scrape a dashboard like any other target, and the dashboard's own
``prometheus`` source can scrape itself (``examples/all-sources.yaml`` does).

It also exposes the latest value of every series the dashboard collects or receives (:class:`SeriesCollector`),
under the series' own name and labels plus ``source`` (the dashboard source it came from), so that a
Prometheus scraping a fleet of dashboards holds all their series. Counters are stored as per-second rates,
so they are exposed as gauges named ``<name>_per_second`` (without ``_total``). A name that is not a valid
Prometheus name has every other character replaced by ``_``; ``up`` and names of the process's own metrics
are left out (the scraping Prometheus has its own ``up``; ``dashboard_source_up`` says the same); a series
in a gap (its last value NaN) is left out until it has a value again. With history on disk, the history's
state is exposed too (``dashboard_history_ok``, bytes per tier, samples written and kept in memory only).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .auth import ViewerRoute, bearer_matches
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
        gaps = CounterMetricFamily("dashboard_source_gaps", "Gaps (NaN) written into a source's series: it "
                                   "failed, went silent, or the host stalled", labels=["source"])
        for name, source in svc.sources.items():
            up.add_metric([name], 1.0 if source.health in ("ok", "no data") else 0.0)
            collections.add_metric([name], source.collections)
            failures.add_metric([name], source.failures)
            gaps.add_metric([name], source.gaps)
        yield from (up, collections, failures, gaps)


_INVALID_NAME = re.compile(r"[^a-zA-Z0-9_:]")
_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9_]")
#: Prefixes of the process's own families, which the series export leaves out (and Prometheus' ``up``).
_OWN_PREFIXES = ("dashboard_", "process_", "python_")


def exported_name(name: str, kind: str) -> str:
    """The Prometheus name of a series: invalid characters as ``_``, counters (rates) as ``_per_second``."""
    if kind == "counter":
        name = name.removesuffix("_total") + "_per_second"
    name = _INVALID_NAME.sub("_", name)
    return f"_{name}" if name[:1].isdigit() else name


def exported_label(name: str) -> str:
    """A valid label name for ``name``: invalid characters as ``_``; one beginning with a digit or with
    ``__`` (reserved by Prometheus: a scrape refuses the whole exposition) gets a single ``_`` first."""
    label = _INVALID_LABEL.sub("_", name)
    if label.startswith("__"):
        label = label.lstrip("_")
    return f"_{label}" if not label or label[:1].isdigit() or name.startswith("__") else label


class SeriesCollector(Collector):
    """The latest value of every series in a service's store, one gauge family per name."""

    def __init__(self, service: MetricsService) -> None:
        self.service = service

    def collect(self) -> Iterator[Any]:
        store = self.service.store
        families: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
        helps: dict[str, str] = {}
        for key in store.keys():
            if key.name == "up" or key.name.startswith(_OWN_PREFIXES):
                continue
            _t, value = store.latest(key)
            if not math.isfinite(value):
                continue
            info = store.info(key)
            name = exported_name(key.name, info.kind)
            labels: dict[str, str] = {}
            for k, v in key.labels:
                labels.setdefault(exported_label(k), v)  # two names made one: the first is kept
            labels.setdefault("source", store.source_of(key))
            families[name].append((labels, value))
            helps.setdefault(name, info.help or f"{key.name}, as collected by the dashboard")
        for name, samples in families.items():
            yield _family(name, helps[name], samples)


def _family(name: str, help: str, samples: list[tuple[dict[str, str], float]]) -> GaugeMetricFamily:
    """One gauge family; of samples whose label sets came out alike (names made valid), the first."""
    label_names = sorted({k for labels, _ in samples for k in labels})
    family = GaugeMetricFamily(name, help, labels=label_names)
    seen: set[tuple[str, ...]] = set()
    for labels, value in samples:
        values = tuple(labels.get(k, "") for k in label_names)
        if values not in seen:
            seen.add(values)
            family.add_metric(list(values), value)
    return family


class HistoryCollector(Collector):
    """The state of a service's history on disk."""

    def __init__(self, service: MetricsService) -> None:
        self.service = service

    def collect(self) -> Iterator[Any]:
        history = self.service.history
        if history is None:
            return
        status = history.status()
        yield GaugeMetricFamily("dashboard_history_ok", "1 while writing history works",
                                value=0.0 if status["state"] != "ok" else 1.0)
        size = GaugeMetricFamily("dashboard_history_bytes", "Bytes of history on disk", labels=["tier"])
        for tier, value in status["bytes"].items():
            size.add_metric([tier], value)
        yield size
        yield CounterMetricFamily("dashboard_history_samples_written", "Samples logged to disk",
                                  value=status["samples_written"])
        yield CounterMetricFamily("dashboard_history_samples_lost", "Samples kept in memory only (disk failed)",
                                  value=status["samples_lost"])
        yield GaugeMetricFamily("dashboard_history_backlog_segments", "Log segments waiting to be converted",
                                value=status["backlog_segments"])
        yield GaugeMetricFamily("dashboard_history_backlog_seconds",
                                "How long the oldest log segment waiting has waited", value=status["backlog_seconds"])


class MetricsHandler(ViewerRoute):
    """Serves the process registry and the service's collector: to viewers who may open the page, and with
    logins on to a scraper without one when ``public`` or when it sends ``token`` as a bearer token."""

    def initialize(self, service: MetricsService, public: bool = False, token: str | None = None) -> None:
        self._public, self._token = public, token
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(ServiceCollector(service))
        self._registry.register(HistoryCollector(service))
        self._series = CollectorRegistry(auto_describe=False)
        self._series.register(SeriesCollector(service))

    def allowed_without_login(self) -> bool:
        return self._public or (self._token is not None
                                and bearer_matches(self.request.headers.get("Authorization", ""), self._token))

    def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        own = generate_latest(REGISTRY) + generate_latest(self._registry)
        taken = set(re.findall(rb"^# TYPE (\S+)", own, flags=re.M))
        series = b"".join(b"# HELP " + block for block in generate_latest(self._series).split(b"# HELP ")[1:]
                          if block.split(b" ", 1)[0] not in taken)  # a name the process uses already: left out
        self.write(own + series)
