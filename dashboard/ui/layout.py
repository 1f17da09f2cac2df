"""``MetricsDashboard``: the default layout, a dashboard of this machine with no configuration.

Stat cards for the headline numbers, then a grid of plots (CPU total and per core, memory and swap, disk
and network throughput, load average, GPUs when the service has a GPU source), the panels a spec names,
a plot for every pushed metric that no panel names (:class:`~dashboard.ui.auto.AutoPlots`), and the
status of every source. Panels for metrics that a machine lacks (no disk counters, say) stay empty and
fill in if the series ever appears; swap shares the memory plot, so a machine without swap shows one
line there.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import panel as pn
import param

from ..options import DashboardOptions
from ..service import MetricsService
from ..sources.gpu import GpuSource
from ..spec import Spec, load_spec
from ..units import format_duration
from .auto import AutoPlots
from .base import LiveComponent, stretch_width
from .indicators import StatCard
from .plots import TimeSeriesPlot
from .status import SourceStatus


class MetricsDashboard(DashboardOptions, pn.custom.PyComponent):
    """Cards, plots and source status of a metrics service, laid out once (options:
    :class:`~dashboard.options.DashboardOptions`; Panel's layout params apply to the whole)."""

    service = param.ClassSelector(
        class_=MetricsService, default=None, allow_None=True,
        doc="The metrics service to show (the process's shared service by default).")

    sizing_mode = stretch_width()

    paused = param.Boolean(default=False, doc="Freeze every part of the dashboard (collection goes on); "
                                              "unpausing draws everything collected meanwhile.")

    window = param.Number(default=None, allow_None=True, bounds=(1, 7 * 86400),
                          doc="Seconds of history in view (None: the service's window); a change shows that "
                              "much history at once, from the store.")

    panels = param.List(default=[], doc="Further components (plots, cards) shown after this machine's plots.")

    auto = param.Boolean(default=True, doc="Add a plot for every pushed metric that no panel shows.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if self.service is None:
            self.service = MetricsService.shared()
        svc = self.service
        self.cards: list[StatCard] = self._system_cards() if self.system else []
        self.cards += [p for p in self.panels if isinstance(p, StatCard)]
        self.plots: list[Any] = self._system_plots() if self.system else []
        self.plots += [p for p in self.panels if not isinstance(p, StatCard)]
        named = [p.metric for p in [*self.cards, *self.plots] if getattr(p, "metric", None)]
        self.auto_plots = AutoPlots(service=svc, exclude=named) if self.auto else None
        self.status = SourceStatus(service=svc)
        self.pause_toggle = pn.widgets.Toggle.from_param(self.param.paused, name="Pause", width=90,
                                                         margin=(12, 10), css_classes=["dashboard-pause"])
        self.window_select = pn.widgets.Select(
            options=_window_options(self.window or svc.window), value=self.window or svc.window,
            width=110, margin=(12, 5), css_classes=["dashboard-window"])
        self.window_select.param.watch(lambda e: setattr(self, "window", e.new), "value")
        heading = pn.pane.Markdown(f"## {_escape_markdown(self.title)}", margin=(0, 10))
        parts: list[Any] = [pn.Row(heading, pn.HSpacer(), self.window_select, self.pause_toggle,
                                   sizing_mode="stretch_width")]
        if self.cards:
            parts.append(pn.Row(*self.cards, sizing_mode="stretch_width"))
        if self.plots:
            parts.append(pn.GridBox(*self.plots, ncols=self.columns, sizing_mode="stretch_width"))
        if self.auto_plots is not None:
            parts.append(self.auto_plots)
        parts.append(self.status)
        self._layout = pn.Column(*parts)
        if self.window is not None:
            self._window_parts()

    @param.depends("window", watch=True)
    def _window_parts(self) -> None:
        seconds = self.window or self.service.window
        if seconds not in self.window_select.options.values():
            self.window_select.options = _window_options(seconds)
        self.window_select.value = seconds
        for part in self._live_parts():
            part.view_window = self.window

    def _live_parts(self) -> list[LiveComponent]:
        parts = [*self.cards, *self.plots, self.auto_plots, self.status]
        return [p for p in parts if isinstance(p, LiveComponent)]

    @param.depends("paused", watch=True)
    def _pause_parts(self) -> None:
        for part in self._live_parts():
            part.paused = self.paused

    def _system_cards(self) -> list[StatCard]:
        svc = self.service
        return [
            StatCard(service=svc, metric="cpu_percent", title="CPU"),
            StatCard(service=svc, metric="memory_percent", labels={"type": "ram"}, title="Memory"),
            StatCard(service=svc, metric="load_average", labels={"period": "1m"}, title="Load (1 min)"),
            StatCard(service=svc, metric="process_count", title="Processes"),
        ]

    def _system_plots(self) -> list[TimeSeriesPlot]:
        svc = self.service
        plots = [
            TimeSeriesPlot(service=svc, metric="cpu_percent", title="CPU (all cores)"),
            TimeSeriesPlot(service=svc, metric="cpu_core_percent", title="CPU per core"),
            TimeSeriesPlot(service=svc, metric="memory_percent", title="Memory and swap"),
            TimeSeriesPlot(service=svc, metric="disk_io_bytes", title="Disk I/O"),
            TimeSeriesPlot(service=svc, metric="network_io_bytes", title="Network I/O"),
            TimeSeriesPlot(service=svc, metric="load_average", title="Load average"),
        ]
        if any(isinstance(s, GpuSource) for s in svc.sources.values()):
            plots += [
                TimeSeriesPlot(service=svc, metric="gpu_utilization_percent", title="GPU utilization"),
                TimeSeriesPlot(service=svc, metric="gpu_memory_used_bytes", title="GPU memory used"),
                TimeSeriesPlot(service=svc, metric="gpu_temperature_celsius", title="GPU temperature"),
                TimeSeriesPlot(service=svc, metric="gpu_power_watts", title="GPU power"),
            ]
        plots.append(TimeSeriesPlot(service=svc, metric="up", title="Sources up (1) or down (0)"))
        return plots

    @classmethod
    def from_spec(cls, spec: Spec | str | Path, service: MetricsService | None = None, **params: Any
                  ) -> MetricsDashboard:
        """The dashboard a spec (or a spec file) describes, showing ``service`` (by default a new one
        built from the spec); ``params`` go to the dashboard (``sizing_mode=...``)."""
        spec = spec if isinstance(spec, Spec) else load_spec(spec)
        service = service if service is not None else spec.service()
        panels: list[Any] = []
        for p in spec.panels:
            component = StatCard if p.type == "stat" else TimeSeriesPlot
            panels.append(component(service=service, metric=p.metric, **p.options))
        if not spec.system:
            panels.append(TimeSeriesPlot(service=service, metric="up", title="Sources up (1) or down (0)"))
        return cls(service=service, title=spec.title, system=spec.system, panels=panels, columns=spec.columns,
                   **params)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


#: The windows the dashboard's selector offers (any other is added when it is in use).
WINDOWS = {"1 min": 60.0, "5 min": 300.0, "15 min": 900.0, "1 h": 3600.0, "6 h": 21600.0, "24 h": 86400.0,
           "7 d": 604800.0}


def _window_options(current: float) -> dict[str, float]:
    """The selector's choices, with ``current`` among them."""
    options = dict(WINDOWS)
    if current not in options.values():
        options[format_duration(current)] = current
    return dict(sorted(options.items(), key=lambda item: item[1]))


def _escape_markdown(text: str) -> str:
    """Escape a title for the Markdown pane (which renders HTML)."""
    return html.escape(text).replace("*", r"\*").replace("_", r"\_").replace("`", r"\`").replace("$", r"\$")
