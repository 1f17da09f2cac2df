"""Metrics sources. Each collects from one real place, registers its spec ``type`` where it is defined
(:func:`source_type`), and none imports panel or bokeh. Importing this package registers them all."""

from typing import Any as _Any

from .base import Source, source_type, source_types
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
    "default_sources",
    "gpu_status",
    "source_type",
    "source_types",
]


def default_sources(nvml: _Any = None) -> list[Source]:
    """The sources of the default dashboard: this machine, and its GPUs when NVML (``nvml``: the
    ``pynvml`` module by default) finds any."""
    sources: list[Source] = [SystemSource()]
    if gpu_status(nvml) is None:
        sources.append(GpuSource(nvml=nvml))
    return sources
