"""Metrics sources. Each collects from one real place; none imports panel or bokeh."""

from .base import Source
from .gpu import GpuSource, gpu_status
from .prometheus import PrometheusQuery, PrometheusScrape
from .push import PushResult, PushSource
from .replay import ReplaySource
from .synthetic import SyntheticSource
from .system import SystemSource

__all__ = [
    "GpuSource",
    "PrometheusQuery",
    "PrometheusScrape",
    "PushResult",
    "PushSource",
    "ReplaySource",
    "Source",
    "SyntheticSource",
    "SystemSource",
    "gpu_status",
]
