"""dashboard: live metrics for notebooks and servers, on Panel, Bokeh, param and pandas.

Param-driven services collect metrics from sources once per process, keep a bounded history in a store,
and stream batched updates into Bokeh plots, in a notebook cell or a served page::

    import dashboard
    svc = dashboard.MetricsService.shared()
    await svc.initialize()
    dashboard.MetricsDashboard(service=svc)

The collection and storage layers (``dashboard.core``, ``dashboard.metrics``, ``dashboard.sources``,
``dashboard.service``) never import panel or bokeh; the UI names below load them on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from .alerts import AlertRule, Receiver
from .config import Config, config
from .core import (
    BatchProcessor,
    CircuitBreaker,
    ConnectionState,
    ConnectionStateMachine,
    InvalidTransition,
    MetricsPublisher,
    ResourceManager,
    RetryPolicy,
    Service,
    ServiceRegistry,
    TTLCache,
    retry,
)
from .errors import DataError, ParseError, SourceUnavailable
from .metrics import Batch, SeriesInfo, SeriesKey, Store
from .service import MetricsService, SourceEvent
from .sources import (
    GpuSource,
    PrometheusQuery,
    PrometheusScrape,
    PushSource,
    ReplaySource,
    Source,
    SyntheticSource,
    SystemSource,
)

__version__ = "0.1.0"

_UI = {
    "AlertList": "dashboard.ui.alerts",
    "Feed": "dashboard.ui.feed",
    "MetricsDashboard": "dashboard.ui.layout",
    "SourceStatus": "dashboard.ui.status",
    "StatCard": "dashboard.ui.indicators",
    "TimeSeriesPlot": "dashboard.ui.plots",
    "build_app": "dashboard.server",
}

__all__ = [
    "AlertList",
    "AlertRule",
    "Batch",
    "BatchProcessor",
    "CircuitBreaker",
    "Config",
    "ConnectionState",
    "ConnectionStateMachine",
    "DataError",
    "Feed",
    "GpuSource",
    "InvalidTransition",
    "MetricsDashboard",
    "MetricsPublisher",
    "MetricsService",
    "ParseError",
    "PrometheusQuery",
    "PrometheusScrape",
    "PushSource",
    "Receiver",
    "ReplaySource",
    "ResourceManager",
    "RetryPolicy",
    "SeriesInfo",
    "SeriesKey",
    "Service",
    "ServiceRegistry",
    "Source",
    "SourceEvent",
    "SourceStatus",
    "SourceUnavailable",
    "StatCard",
    "Store",
    "SyntheticSource",
    "SystemSource",
    "TTLCache",
    "TimeSeriesPlot",
    "__version__",
    "build_app",
    "config",
    "retry",
]


def __getattr__(name: str) -> Any:
    """Load the UI (panel, bokeh) only when one of its names is asked for."""
    module = _UI.get(name)
    if module is None:
        raise AttributeError(f"module 'dashboard' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
