"""Metrics sources. Each collects from one real place; none imports panel or bokeh."""

from .base import Source
from .synthetic import SyntheticSource
from .system import SystemSource

__all__ = ["Source", "SyntheticSource", "SystemSource"]
