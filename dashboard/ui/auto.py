"""``AutoPlots``: a plot for every pushed metric that no other panel names, appearing as data arrives.

One ``curl`` to ``/ingest`` (or one ``push()`` in a notebook) with a new metric name makes a plot appear on
every open page: one plot per metric name, a line per label set. The plots are built per viewer inside
the viewer's feed flush (the document lock is held there), so a new plot and its first points reach the
page in one message. Titles, legends and hovers are canvas text or escaped by Bokeh; hostile names stay
inert.
"""

from __future__ import annotations

import param
from bokeh.models import Column, ColumnDataSource

from ..metrics.model import SeriesKey
from ..service import SourceEvent
from ..sources.push import PushSource
from .base import LiveComponent
from .feed import Feed
from .plots import TimeSeriesPlot, _PlotView


class AutoPlots(LiveComponent):
    """Plots that appear for pushed metrics no other panel shows."""

    exclude = param.List(default=[], item_type=str, doc="Metric names that other panels already show.")

    plot_height = param.Integer(default=220, bounds=(60, 4000), doc="Height of each plot in pixels.")

    download_route = param.Boolean(default=False, doc="Offer each plot's samples through the server's "
                                                      "/download route (tools in its toolbar).")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._plots: dict[str, TimeSeriesPlot] = {}

    def accepts(self, key: SeriesKey) -> bool:
        """A series pushed to a push source, not the source's own bookkeeping, and shown nowhere else."""
        store = self.service.store
        if key.name in self.exclude or key.name in ("up", "dashboard_overflow_samples") or key not in store:
            return False
        return isinstance(self.service.sources.get(store.source_of(key)), PushSource)

    def plot_for(self, metric: str) -> TimeSeriesPlot:
        """The (shared) component of the plot of ``metric``."""
        plot = self._plots.get(metric)
        if plot is None:
            plot = self._plots[metric] = TimeSeriesPlot(
                service=self.service, metric=metric, height=self.plot_height, timezone=self.timezone,
                theme=self.theme, download={"metric": metric} if self.download_route else None)
        return plot

    def _build(self, feed: Feed) -> _AutoView:
        return _AutoView(self, feed)


class _AutoView:
    """One viewer's column of automatic plots."""

    def __init__(self, component: AutoPlots, feed: Feed) -> None:
        self.component = component
        self.feed = feed
        self.plots: dict[str, _PlotView] = {}
        self.model = Column(children=[])

    def accepts(self, key: SeriesKey) -> bool:
        return self.component.accepts(key)

    def add_series(self, key: SeriesKey, cds: ColumnDataSource, column: str) -> None:
        view = self.plots.get(key.name)
        if view is None:
            plot = self.component.plot_for(key.name)
            view = self.plots[key.name] = _PlotView(plot, self.feed)
            view.model.update(height=plot.height, sizing_mode="stretch_width")
            self.model.children = [*self.model.children, view.model]
        view.add_series(key, cds, column)

    def follow_window(self, seconds: float) -> None:
        for view in self.plots.values():
            view.follow_window(seconds)

    def restyle(self, component: AutoPlots) -> None:
        for view in self.plots.values():
            view.component.param.update(timezone=component.timezone, theme=component.theme)
            view.restyle(view.component)

    def refresh(self, feed: Feed, events: list[SourceEvent]) -> None:
        for view in self.plots.values():
            view.refresh(feed, events)
