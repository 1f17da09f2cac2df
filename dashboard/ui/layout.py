"""``MetricsDashboard``: the default layout, a dashboard of this machine with no configuration.

Stat cards for the headline numbers, then a grid of plots (CPU total and per core, memory and swap, disk
and network throughput, load average, GPUs when the service has a GPU source), the panels a spec names,
a plot for every pushed metric that no panel names (:class:`~dashboard.ui.auto.AutoPlots`), and the
status of every source. Panels for metrics that a machine lacks (no disk counters, say) stay empty and
fill in if the series ever appears; swap shares the memory plot, so a machine without swap shows one
line there.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import panel as pn
import param

from ..options import DashboardOptions, ViewOptions
from ..service import MetricsService
from ..sources.gpu import GpuSource
from ..spec import Spec, load_spec
from .alerts import AlertList
from .auto import AutoPlots
from .base import LiveComponent, check_timezone, resolve_view, show_view, stretch_width
from .controls import ViewControls
from .downloads import with_buttons
from .flow import column, escape_markdown, grid, wrap
from .indicators import StatCard
from .plots import TimeSeriesPlot
from .status import SourceStatus


class MetricsDashboard(DashboardOptions, ViewOptions, pn.custom.PyComponent):
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

    show_controls = param.Boolean(default=True, doc="Show the view's controls above the plots.")

    show_downloads = param.Boolean(default=True, doc="Offer the samples in each plot's view as CSV and "
                                                     "Parquet, with two buttons under it.")

    download_route = param.Boolean(
        default=False, doc="The server answers GET /download (dashboard serve): each plot offers its samples "
                           "through two tools of its toolbar instead of two buttons under it.")

    embed_names = param.Dict(default={}, doc="Names given to panels (a spec's ids), by the panel's id(): "
                                             "what /embed?panel= and /download call them.")

    show_title = param.Boolean(default=True, doc="Show the title above the plots (a served page shows it in "
                                                 "its template's header instead).")

    share_y = param.Boolean(default=False, doc="Plots of one unit share one y range (one scale to compare "
                                               "them by), as each plot's own share_y does.")

    def __init__(self, **params: Any) -> None:
        self._view_sync = False
        super().__init__(**params)
        if self.service is None:
            self.service = MetricsService.shared()
        svc = self.service
        self.cards: list[StatCard] = self._system_cards() if self.system else []
        self.cards += [p for p in self.panels if isinstance(p, StatCard)]
        self.plots: list[Any] = self._system_plots() if self.system else []
        self.plots += [p for p in self.panels if not isinstance(p, StatCard)]
        for plot in self.plots if self.share_y else []:
            if isinstance(plot, TimeSeriesPlot):
                plot.share_y = True
        self.cells = [self._cell(p) for p in self.plots]  # each plot with its downloads
        named = [p.metric for p in [*self.cards, *self.plots] if getattr(p, "metric", None)]
        self.auto_plots = AutoPlots(service=svc, exclude=named, download_route=self.download_route and
                                    self.show_downloads) if self.auto else None
        self.status = SourceStatus(service=svc)
        self.alert_list = AlertList(service=svc)
        self.controls = ViewControls(self)
        self._snapshot_button = pn.widgets.FileDownload(
            callback=self._snapshot_file, filename="dashboard-snapshot.html", label="Snapshot", embed=False,
            width=100, height=32, margin=(5, 10), description="This view as one HTML file that opens offline")
        self._title = pn.pane.Markdown(f"## {escape_markdown(self.title)}", margin=(0, 10))
        self.header = wrap(css_classes=["dashboard-header", "dashboard-controls"])
        self._show_header()
        parts: list[Any] = [self.header]
        if self.cards:  # at least two a row on a phone
            parts.append(grid(*self.cards, columns=len(self.cards), min_width=150, css_classes=["dashboard-cards"]))
        if self.plots:
            parts.append(grid(*self.cells, columns=self.columns, min_width=360, css_classes=["dashboard-plots"]))
        if self.auto_plots is not None:
            parts.append(self.auto_plots)
        parts += [self.alert_list, self.status]
        self._layout = column(*parts)
        for part in self._live_parts():
            part._view_observers.append(self._from_part)
        self.param.watch(self._view_params, [*VIEW_PARAMS, "window"])
        if self.start is not None and self.end is not None and "live" not in params:
            self._show_view(live=False)
        self._push_view({"start", "end", "live"} if not self.live else set())

    def _cell(self, plot: Any) -> Any:
        """A plot in the grid with its downloads (:mod:`dashboard.ui.downloads`): tools in its toolbar where
        the server has the route, else buttons under it (a plot's own layout params stay its own)."""
        if not self.show_downloads or not isinstance(plot, TimeSeriesPlot):
            return plot
        if self.download_route:
            plot.download = {"panel": next(n for n, p in self.named_panels().items() if p is plot)}
            # a cell of the grid: built right after the page's first answer (a figure is a page's costly
            # part); the placeholder is the cell itself, so nothing above it keeps the placeholder's size
            plot.deferred = True
            return plot
        return with_buttons(plot)

    @param.depends("show_controls", "show_title", watch=True)
    def _show_header(self) -> None:
        parts = [self._title] if self.show_title else []
        if self.show_controls:
            parts += [*self.controls.widgets(), self._snapshot_button]
        self.header.objects = parts
        self.header.visible = bool(parts)

    def _view_params(self, *events: param.parameterized.Event) -> None:
        """A view param changed in Python (or a control): every part follows."""
        if self._view_sync:
            return
        try:
            self._push_view({e.name for e in events})
        except ValueError:  # refused: the params keep the view the viewers show
            self._show_view(**{e.name: e.old for e in events})
            raise

    def _push_view(self, names: set[str]) -> None:
        if "timezone" in names:
            check_timezone(self.timezone)
        if "window" in names and not self.live:  # choosing a window goes back to live
            self._show_view(live=True, start=None, end=None)
        elif names & {"start", "end", "live"}:
            held = resolve_view(self, names)
            self._show_view(start=held[0] if held else None, end=held[1] if held else None, live=held is None)
        values = {"start": self.start, "end": self.end, "live": self.live, "refresh": self.refresh,
                  "timezone": self.timezone, "theme": self.theme, "view_window": self.window}
        self._view_sync = True  # the parts' observers call back here: nothing to learn from them now
        try:
            for part in self._live_parts():
                if not part.live and self.live:  # live first: a part going live forgets its range
                    part.live = True
                part.param.update(**values)
        finally:
            self._view_sync = False

    def _from_part(self, part: LiveComponent) -> None:
        """A viewer of a part changed the view (a zoom, a pan): the dashboard and its other parts follow."""
        if self._view_sync:
            return
        self._show_view(start=part.start, end=part.end, live=part.live, window=part.view_window)
        for other in self._live_parts():
            if other is not part:
                other._show_view(start=part.start, end=part.end, live=part.live, view_window=part.view_window)

    def _show_view(self, **values: Any) -> None:
        show_view(self, **values)

    def feeds(self) -> list[Any]:
        """The open feeds of this dashboard's viewers (one per document that shows it)."""
        unique = {id(feed): feed for part in self._live_parts() for feed in part.feeds()}
        return list(unique.values())

    def _live_parts(self) -> list[LiveComponent]:
        parts = [*self.cards, *self.plots, self.auto_plots, self.alert_list, self.status]
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
        plots.append(up_plot(svc))
        return plots

    @classmethod
    def from_spec(cls, spec: Spec | str | Path, service: MetricsService | None = None, **params: Any
                  ) -> MetricsDashboard:
        """The dashboard a spec (or a spec file) describes, showing ``service`` (by default a new one
        built from the spec); ``params`` go to the dashboard (``sizing_mode=...``)."""
        spec = spec if isinstance(spec, Spec) else load_spec(spec)
        service = service if service is not None else spec.service()
        panels: list[Any] = []
        ids: dict[int, str] = {}
        for p in spec.panels:
            component = StatCard if p.type == "stat" else TimeSeriesPlot
            panels.append(component(service=service, metric=p.metric, **p.options))
            if p.id:
                ids[id(panels[-1])] = p.id
        if not spec.system:
            panels.append(up_plot(service))
        return cls(service=service, title=spec.title, system=spec.system, panels=panels, columns=spec.columns,
                   embed_names=ids, **params)

    def save(self, path: str | Path, start: Any = None, end: Any = None, window: float | None = None) -> Path:
        """Write a snapshot (:mod:`dashboard.ui.snapshot`): one HTML file of every plot, the status table
        and the annotations, from ``start`` to ``end`` (epoch seconds, ISO 8601 or datetimes), or the last
        ``window`` seconds, or what the dashboard shows now; it opens from disk with no network."""
        from ..metrics.frames import to_epoch
        from .snapshot import snapshot_html, view_of

        if window is not None:
            t1 = to_epoch(end) if end is not None else time.time()
            t0 = t1 - float(window)
        elif start is not None or end is not None:
            shown = view_of(self)
            t0 = to_epoch(start) if start is not None else shown[0]
            t1 = to_epoch(end) if end is not None else shown[1]
        else:
            t0, t1 = view_of(self)
        out = Path(path)
        out.write_text(snapshot_html(self, t0, t1), encoding="utf-8")
        return out

    def _snapshot_file(self) -> Any:
        from .snapshot import snapshot_bytes

        return snapshot_bytes(self)

    def named_panels(self) -> dict[str, Any]:
        """Every card and plot by name, in page order: its ``id`` in the spec, by default its metric for a
        plot and ``METRIC-card`` for a card (a second panel of one name is ``NAME-2``): what
        ``/embed?panel=NAME`` serves alone and ``/download?panel=NAME`` downloads."""
        out: dict[str, Any] = {}
        for part in [*self.plots, *self.cards]:  # plots first: a plot keeps its metric's name
            metric = getattr(part, "metric", "") or type(part).__name__
            base = self.embed_names.get(id(part)) or (f"{metric}-card" if isinstance(part, StatCard) else metric)
            name, n = base, 2
            while name in out:
                name, n = f"{base}-{n}", n + 1
            out[name] = part
        return out

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


def up_plot(service: MetricsService) -> TimeSeriesPlot:
    """Each source's ``up``: 1 or 0, on an axis that shows both."""
    return TimeSeriesPlot(service=service, metric="up", title="Sources up (1) or down (0)", y_min=-0.1, y_max=1.1)


#: The view params a dashboard passes on to its parts.
VIEW_PARAMS = ("start", "end", "live", "refresh", "timezone", "theme")
