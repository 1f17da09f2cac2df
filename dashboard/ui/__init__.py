"""Panel components, each a ``pn.custom.PyComponent``; ``feed`` writes a viewer's updates into its Bokeh
document and ``transport`` delivers them (the only module that reads Bokeh's or Panel's private names)."""

from .alerts import AlertList
from .base import LiveComponent, LivePane
from .feed import Feed, LiveView
from .indicators import StatCard
from .layout import MetricsDashboard
from .plots import TimeSeriesPlot
from .status import SourceStatus

__all__ = [
    "AlertList",
    "Feed",
    "LiveComponent",
    "LivePane",
    "LiveView",
    "MetricsDashboard",
    "SourceStatus",
    "StatCard",
    "TimeSeriesPlot",
]
