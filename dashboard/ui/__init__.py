"""Panel components. ``feed`` is the only module that writes into a Bokeh document."""

from .base import LiveComponent, LivePane
from .feed import Feed, FeedSettings, settings
from .indicators import StatCard
from .layout import MetricsDashboard
from .plots import TimeSeriesPlot
from .status import SourceStatus

__all__ = [
    "Feed",
    "FeedSettings",
    "LiveComponent",
    "LivePane",
    "MetricsDashboard",
    "SourceStatus",
    "StatCard",
    "TimeSeriesPlot",
    "settings",
]
