"""``MetricsDashboard``: the default layout, a dashboard of this machine with no configuration.

Stat cards for the headline numbers, then a grid of plots (CPU total and per core, memory and swap, disk
and network throughput, load average) and the status of every source. Panels for metrics that a machine
lacks (no disk counters, say) stay empty and fill in if the series ever appears; swap shares the
memory plot, so a machine without swap shows one line there.
"""

from __future__ import annotations

import html
from typing import Any

import panel as pn
import param

from ..service import MetricsService
from .indicators import StatCard
from .plots import TimeSeriesPlot
from .status import SourceStatus


class MetricsDashboard(pn.viewable.Viewer):
    """Cards, plots and source status of a metrics service, laid out once."""

    service = param.ClassSelector(
        class_=MetricsService, default=None, allow_None=True,
        doc="The metrics service to show (the process's shared service by default).")

    title = param.String(default="dashboard: this machine", doc="Heading shown above the dashboard.")

    columns = param.Integer(default=2, bounds=(1, 6), doc="Plots per row.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if self.service is None:
            self.service = MetricsService.shared()
        svc = self.service
        self.cards = [
            StatCard(service=svc, metric="cpu_percent", title="CPU"),
            StatCard(service=svc, metric="memory_percent", labels={"type": "ram"}, title="Memory"),
            StatCard(service=svc, metric="load_average", labels={"period": "1m"}, title="Load (1 min)"),
            StatCard(service=svc, metric="process_count", title="Processes"),
        ]
        self.plots = [
            TimeSeriesPlot(service=svc, metric="cpu_percent", title="CPU (all cores)"),
            TimeSeriesPlot(service=svc, metric="cpu_core_percent", title="CPU per core"),
            TimeSeriesPlot(service=svc, metric="memory_percent", title="Memory and swap"),
            TimeSeriesPlot(service=svc, metric="disk_io_bytes", title="Disk I/O"),
            TimeSeriesPlot(service=svc, metric="network_io_bytes", title="Network I/O"),
            TimeSeriesPlot(service=svc, metric="load_average", title="Load average"),
            TimeSeriesPlot(service=svc, metric="up", title="Sources up (1) or down (0)"),
        ]
        self.status = SourceStatus(service=svc)
        self._layout = pn.Column(
            pn.pane.Markdown(f"## {_escape_markdown(self.title)}", margin=(0, 10)),
            pn.Row(*self.cards, sizing_mode="stretch_width"),
            pn.GridBox(*self.plots, ncols=self.columns, sizing_mode="stretch_width"),
            self.status,
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


def _escape_markdown(text: str) -> str:
    """Escape a title for the Markdown pane (which renders HTML)."""
    return html.escape(text).replace("*", r"\*").replace("_", r"\_").replace("`", r"\`").replace("$", r"\$")
