"""``TimeSeriesPlot``: one line per series of a metric, on a datetime axis that follows the window.

Names from sources become titles and axis labels as ``PlainText`` (a plain string containing ``$$...$$``
would be typeset as TeX). Lines are 1 pixel wide (2-pixel lines cost the browser about four times as much)
on the canvas backend (WebGL without a GPU falls back to SwiftShader, which is slower). Legends, titles and
hover fields are canvas text or escaped by Bokeh, so hostile metric names and label values stay inert.
An outage is visible twice: the line breaks (the service writes a gap), and a shaded band covers the
time a source of the plot was down (its ``up`` series was 0), from its last good sample to its next.
"""

from __future__ import annotations

import io
import time

import numpy as np
import pandas as pd
import param
from bokeh.models import (
    AdaptiveTicker,
    BasicTicker,
    BoxZoomTool,
    CDSView,
    ColumnDataSource,
    CrosshairTool,
    CustomJSHover,
    CustomJSTickFormatter,
    DataRange1d,
    DatetimeTicker,
    GlyphRenderer,
    Grid,
    HoverTool,
    Legend,
    LegendItem,
    Line,
    LinearAxis,
    LinearScale,
    NoOverlap,
    PlainText,
    Quad,
    Range1d,
    ResetTool,
    Span,
    Title,
)
from bokeh.palettes import Category10_10
from bokeh.plotting import figure

from ..metrics.model import SeriesKey
from ..options import PlotOptions
from ..service import MetricsService, SourceEvent
from ..units import FORMAT_JS, TIME_JS
from .alerts import AlertMarks
from .base import LiveComponent
from .downloads import add_tools, file_bytes, safe_name
from .feed import Feed
from .glyphs import bare
from .marks import AnnotationMarks, OutageBands
from .themes import FigureTheme


def series_label(key: SeriesKey, metric: str | None) -> str:
    """A short legend label: the labels when the plot has one metric, else the full key."""
    if metric is not None and key.labels:
        return ", ".join(f"{k}={v}" for k, v in key.labels)
    return str(key)


class TimeSeriesPlot(PlotOptions, LiveComponent):
    """A live line plot of every series of one metric (optionally filtered by labels).

    Its options (metric, labels, title, unit, window, legend, height) are
    :class:`~dashboard.options.PlotOptions`, the same params a spec's plot panel is checked against.
    """

    download = param.Dict(
        default=None, allow_None=True,
        doc="What names this plot to the server's /download route (set by a served dashboard): its toolbar "
            "then offers the samples in view as CSV and Parquet.")

    def accepts(self, key: SeriesKey) -> bool:
        """Whether this plot shows ``key``."""
        return key.matches(self.metric, self.labels)

    def _build(self, feed: Feed) -> _PlotView:
        return _PlotView(self, feed)

    def view_range(self) -> tuple[float, float]:
        """The range in view (epoch seconds): the held one, or the live window up to the newest sample."""
        if not self.live and self.start is not None and self.end is not None:
            return float(self.start), float(self.end)
        newest = [n for n in (f.newest() for f in self.feeds()) if n is not None]
        end = max(newest) if newest else time.time()
        return end - (self.view_window or self.window or self.service.window), end

    def view_frame(self, start: float | None = None, end: float | None = None, tz: str | None = None,
                   columns: int | None = None) -> pd.DataFrame:
        """Every stored sample in view (or from ``start`` to ``end``; at ``columns`` pixel columns, what is drawn),
        tidy: time (in ``tz``, by default the plot's time zone, UTC when it follows the browser's), metric,
        labels, value: what the downloads hold. ``svc.frame(metric, start=, end=)`` gives the same in UTC."""
        if start is None or end is None:
            start, end = self.view_range()
        frame = self.service.frame(self.metric, start=start, end=end, columns=columns, **self.labels)
        frame["time"] = frame["time"].dt.tz_convert(tz or self.timezone or "UTC")
        return frame

    def view_csv(self) -> io.BytesIO:
        """:meth:`view_frame` as CSV, times in ISO 8601 with their offset."""
        return io.BytesIO(file_bytes(self.view_frame(), "csv"))

    def view_parquet(self) -> io.BytesIO:
        """:meth:`view_frame` as Parquet (times as instants with the time zone)."""
        return io.BytesIO(file_bytes(self.view_frame(), "parquet"))

    def file_name(self) -> str:
        """A download's file name without extension, from the metric (a name from a source: only
        ``[\\w.-]`` kept)."""
        return safe_name(self.metric)


class _PlotView:
    """One viewer's figure of a TimeSeriesPlot.

    What every plot of a viewer draws alike is one model per viewer (:meth:`Feed.shared`): the time axis'
    ticker and formatter, the label policy, the tickers and formatters of each unit, the time hover and the
    theme's hook. A page's plots cost a third fewer models to build and send, and a time zone or theme
    change is one change per viewer. The figure is not ``syncable``: the sizes the browser lays it out at
    are not sent back (a message a plot a page); its events (a zoom's ``RangesUpdate``, a reset) still are.
    """

    def __init__(self, component: TimeSeriesPlot, feed: Feed) -> None:
        self.component = component
        self.feed = feed
        # Plots without a window of their own share the viewer's x range: a zoom or a pan on one moves all.
        if component.window is None:
            x_range = feed.x_range()
        else:
            x_range = DataRange1d(follow="end", follow_interval=component.window * 1000.0, range_padding=0,
                                  only_visible=True, syncable=False)  # the browser computes it: no echo back
        # the y range follows the data's lines alone (set as they come): marks on the 0-1 range of outage,
        # annotation and alert bands never stretch it
        self.y_range = DataRange1d(only_visible=True, range_padding=0.05, syncable=False, **_limits(component))
        # a name from a source: never read as TeX ($$...$$) or anything but text
        title = component.title if component.title is not None else PlainText(text=component.metric or "metrics")
        scale = feed.shared("linear_scale", LinearScale)  # a template: each plot's frame clones it
        self.model = figure(
            title=Title(text=title), x_axis_type=None, output_backend="canvas", toolbar_location="above",
            tools="xpan,xwheel_zoom,xbox_zoom", active_scroll="xwheel_zoom", x_range=x_range,
            lod_timeout=150,  # the zoom's range reaches the server 150 ms after the wheel stops
            y_range=self.y_range, y_axis_type="log" if component.log_y else None, syncable=False)
        self.model.x_scale = scale
        self.model.add_tools(feed.shared("reset", ResetTool))  # (no state: one for all)
        box = next(t for t in self.model.tools if isinstance(t, BoxZoomTool))  # its overlay's look, shared
        box.overlay.handles = feed.shared("box_handles", lambda: box.overlay.handles)
        if not component.log_y:
            self.model.y_scale = scale
        labels = feed.shared("labels", NoOverlap)  # a narrow (phone) plot leaves out a label that would overlap
        ticker = feed.shared("time_ticker", DatetimeTicker)
        # Times in the display time zone (Bokeh draws them in UTC), the date under the first tick: a linear axis
        # with a datetime ticker is a DatetimeAxis (whose default ticker, twelve models, costs a third of a plot)
        self.x_axis = LinearAxis(ticker=ticker, formatter=self._time_ticks(component.timezone),
                                 major_label_policy=labels)
        self.model.add_layout(self.x_axis, "below")
        self.model.add_layout(Grid(dimension=0, ticker=ticker))
        if component.log_y:  # Bokeh's log axis, ticks and grid, as the figure made them
            self.y_axis = self.model.left[0]
        else:
            self.y_axis = LinearAxis(ticker=feed.shared("value_ticker", BasicTicker), major_label_policy=labels)
            self.model.add_layout(self.y_axis, "left")
            self.model.add_layout(Grid(dimension=1, ticker=self.y_axis.ticker))
        if component.window is None:
            feed.watch_ranges(self.model)
        if component.download is not None and not getattr(feed, "static", False):
            add_tools(self.model, component.download, x_range, self.x_axis, feed)
        self.model.toolbar.logo = None
        # Each series' value at the time under the pointer, in the plot's unit, and that time marked on every
        # plot of the viewer (one crosshair in all their toolbars; always on, so no toolbar button).
        self.time_hover = self._time_hover(component.timezone)
        self.hover = HoverTool(
            tooltips=[("series", "$name"), ("time", "@time{custom}"), ("value", "$snap_y{custom}")],
            formatters={"@time": self.time_hover, "$snap_y": self._value_hover("")}, renderers=[], mode="vline",
            name="series", visible=False)  # always on: no button of its own in the toolbar
        self.model.add_tools(self.hover, feed.shared("crosshair", lambda: CrosshairTool(
            dimensions="height", visible=False, overlay=Span(dimension="height", line_color="#888888", line_width=1,
                                                             line_dash="dashed"))))
        # Outage bands on a y range of their own (0 to 1, the plot's height), so they never stretch the data's.
        # (Assigning the ranges' renderer lists instead would recompute the live document's model graph
        # at every new series: seconds of a blocked event loop with a few sessions open.)
        self.model.extra_y_ranges = {"outages": feed.shared("band_range", lambda: Range1d(0, 1))}
        self.outages = OutageBands(self.model)  # drawn at the first outage
        # annotations and alert marks: drawn once the service has any for this plot (most plots never do)
        self.notes: AnnotationMarks | None = None
        self.alerts: AlertMarks | None = None
        self._rules_seen = 0
        self.sources: set[str] = set()
        self.keys: list[SeriesKey] = []
        self.lines: list[GlyphRenderer] = []
        self._outages_checked = -1.0
        self.legend: Legend | None = None
        if component.show_legend:  # built up front: a legend added to a live plot has no view in a notebook
            # outside the plot area, under it, in as many rows as it needs: it never covers a line
            self.legend = Legend(items=[], location="top_left", orientation="horizontal", click_policy="hide",
                                 label_text_font_size="8pt", background_fill_alpha=0, border_line_alpha=0,
                                 padding=0, margin=2, spacing=6, glyph_width=14, nrows="auto")
            self.model.add_layout(self.legend, "below")
        self.theme = FigureTheme(self.model, component.theme, feed)
        self.unit: str | None = None
        self.count = 0
        if not getattr(feed, "static", False):  # a snapshot's range is fixed
            self.anchor = self._window_anchor(component.window or feed.view_window)
            glyph = feed.shared("anchor_glyph", lambda: Quad(left="x0", right="x1", bottom=0, top=1, fill_alpha=0,
                                                             line_alpha=0))
            bare(self.model, self.anchor, glyph, y_range_name="outages", level="underlay",
                 view=feed.shared(f"rows_view:{self.anchor.id}", CDSView))
        if component.unit is not None:
            self._set_unit(component.unit)

    def _time_ticks(self, tz: str | None) -> CustomJSTickFormatter:
        return self.feed.shared(f"time_ticks:{tz or ''}", lambda: CustomJSTickFormatter(
            args={"tz": tz or ""}, code=TICK_JS))

    def _time_hover(self, tz: str | None) -> CustomJSHover:
        return self.feed.shared(f"time_hover:{tz or ''}", lambda: CustomJSHover(
            args={"tz": tz or ""}, code=f"{TIME_JS}\nreturn time(value, tz, null)"))

    def _value_hover(self, unit: str) -> CustomJSHover:
        """A hover value in ``unit``, by the rules of :mod:`dashboard.units` (the unit travels as data)."""
        return self.feed.shared(f"value_hover:{unit}", lambda: CustomJSHover(
            args={"unit": unit}, code=f"{FORMAT_JS}\nreturn format(value, unit)"))

    def accepts(self, key: SeriesKey) -> bool:
        return self.component.accepts(key)

    def add_series(self, key: SeriesKey, cds: ColumnDataSource, column: str) -> None:
        color = Category10_10[self.count % len(Category10_10)]
        # a bare renderer: figure.line() also builds selection, hover and muted glyphs this plot never uses
        # (about four models a line; a scrape that brings 200 series pays for each)
        # the lines of one source share its rows, and the view of them (one model, not two a line)
        view = self.feed.shared(f"rows_view:{cds.id}", CDSView)
        renderer = GlyphRenderer(data_source=cds, glyph=Line(x="time", y=column, line_width=1, line_color=color),
                                 view=view, name=str(key))
        self.model.renderers.append(renderer)
        self.lines.append(renderer)
        self.hover.renderers = [*self.hover.renderers, renderer]
        self.y_range.renderers = [*self.y_range.renderers, renderer]
        store = self.component.service.store
        if key in store:
            self.sources.add(store.source_of(key))
        self.keys.append(key)
        if self.notes is not None:
            self.notes.drawn = -1
        if self.legend is not None:
            label = series_label(key, self.component.metric)
            self.legend.items = [*self.legend.items, LegendItem(label=label, renderers=[renderer])]
        self.count += 1
        if self.unit is None:
            self._set_unit(self.component.unit or self.component.service.store.info(key).unit)

    def _set_unit(self, unit: str) -> None:
        """Axis ticks and hover values in ``unit`` (:mod:`dashboard.units`: IEC bytes, durations, SI); a
        percentage spans 0 to 100 % until the data leave it (:meth:`_percent_range`)."""
        self.unit = unit
        if self.component.log_y:  # a log axis keeps Bokeh's powers of ten; its unit goes on the axis label
            self.y_axis.axis_label = PlainText(text=unit) if unit else None
        else:  # each tick carries the unit, in steps that read round in it (KiB steps for bytes)
            if unit in ("B", "B/s"):
                ticker = self.feed.shared("bytes_ticker", lambda: AdaptiveTicker(
                    base=1024, mantissas=[1, 2, 4, 8, 16, 32, 64, 128, 256, 512], min_interval=1))
                self.y_axis.ticker = ticker
                for grid in self.model.ygrid:
                    grid.ticker = ticker
            self.y_axis.formatter = self.feed.shared(f"value_ticks:{unit}", lambda: CustomJSTickFormatter(
                args={"unit": unit}, code=f"{FORMAT_JS}\nreturn format(tick, unit)"))
            if unit == "%" and self.component.y_min is None and self.component.y_max is None:
                self.y_range.update(start=0, end=100)
            self._share_y(unit)
        self.hover.formatters = {"@time": self.time_hover, "$snap_y": self._value_hover(unit)}

    def _share_y(self, unit: str) -> None:
        """With ``share_y``, the viewer's one y range for ``unit`` (the first such plot's), over all their lines."""
        c = self.component
        if not c.share_y or c.y_min is not None or c.y_max is not None:
            return
        shared = self.feed.shared(f"y_range:{unit}", lambda: self.y_range)
        if shared is not self.y_range:
            shared.renderers = [*shared.renderers, *self.y_range.renderers]
            self.y_range = self.model.y_range = shared

    def _percent_range(self) -> None:
        """A percentage axis spans 0 to 100 %; once the data leave it, it follows them."""
        if self.unit != "%" or self.y_range.start != 0 or self.y_range.end != 100 or self.component.log_y:
            return
        for line in self.lines:
            values = np.asarray(line.data_source.data.get(line.glyph.y, ()), dtype=float)
            if values.size and (np.nanmax(values, initial=0.0) > 100 or np.nanmin(values, initial=0.0) < 0):
                renderers = self.y_range.renderers
                self.y_range = DataRange1d(only_visible=True, range_padding=0.05, syncable=False,
                                           renderers=renderers)
                self.model.y_range = self.y_range
                return

    def restyle(self, component: TimeSeriesPlot) -> None:
        """Show times in the component's time zone (axis ticks and hovers), in its theme."""
        self.theme.set(component.theme)
        hover = self._time_hover(component.timezone)
        if hover is not self.time_hover:
            self.time_hover = hover
            self.x_axis.formatter = self._time_ticks(component.timezone)
            self.hover.formatters = {**self.hover.formatters, "@time": hover}
            if self.notes is not None:
                self.notes.hover.formatters = {"@x0": hover}

    def _window_anchor(self, seconds: float) -> ColumnDataSource:
        """A band of no width and no colour ``seconds`` before the newest data (or now): the x range, which
        follows the end of the data capped at the window, then spans the whole window even while the data
        cover less of it. One per window a viewer shows, shared by its plots; it moves when the window
        changes (a band older than the newest data less the window still caps the range right)."""
        newest = self.feed.newest()
        t = ((newest if newest is not None else time.time()) - seconds) * 1000.0
        data = {"x0": np.array([t]), "x1": np.array([t])}
        anchor = self.feed.shared(f"window_anchor:{self.component.window or ''}",
                                  lambda: ColumnDataSource(data=data, tags=[seconds]))
        if anchor.tags != [seconds]:
            anchor.update(data=data, tags=[seconds])
        return anchor

    def marks(self, service: MetricsService) -> None:
        """Add the annotation marks once the service has an annotation, the alert marks once it has a rule
        on this plot's metric."""
        if self.notes is None and len(service.annotations):
            self.notes = AnnotationMarks(self.model, self.time_hover)
        engine = service._alert_engine
        if self.alerts is None and engine is not None and len(engine.groups) != self._rules_seen:
            self._rules_seen = len(engine.groups)  # the rules are looked through once per change, not per flush
            if any(r.metric == self.component.metric for r in engine.rules()):
                self.alerts = AlertMarks(self.model)

    def follow_window(self, seconds: float) -> None:
        """The viewer's view changed (its shared x range follows by itself): redraw the outage bands."""
        self._outages_checked = -1.0
        if self.component.window is None:
            self._window_anchor(seconds)
        if self.notes is not None:
            self.notes.drawn = -1

    def refresh(self, feed: Feed, events: list[SourceEvent]) -> None:
        """Lines update through the shared sources; the outage bands at a state change or once a second."""
        now = time.monotonic()
        held = feed.view_range() if self.component.window is None else None
        seconds = self.component.window or feed.view_window
        between = held or (time.time() - seconds, np.inf)
        self.marks(feed.service)
        if self.notes is not None:
            self.notes.update(feed.service.annotations, self.keys, between)
        if not self.sources or (not events and now - self._outages_checked < 1.0):
            return  # (no lines yet: the first ones redraw the marks at once)
        self._outages_checked = now
        self._percent_range()
        if self.alerts is not None:
            self.alerts.update(feed.service, self.component.metric, self.keys, between)
        self.outages.draw(*outages(feed.service, self.sources, seconds, held))


#: The x axis' ticks: clock times in the display time zone, as precise as the ticks' spacing, the date under the
#: first one.
TICK_JS = f"""{TIME_JS}
const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : 1000
const label = time(tick, tz, step)
return index == 0 && step < 86400000 ? label + '\\n' + day(tick, tz) : label
"""


def _limits(component: TimeSeriesPlot) -> dict[str, float]:
    """The y limits a plot was given (an end left out follows the data)."""
    return {name: value for name, value in (("start", component.y_min), ("end", component.y_max)) if value is not None}


def outages(service: MetricsService, sources: set[str], seconds: float,
            between: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (ms since the epoch) of every time one of ``sources`` was down within the last
    ``seconds`` (or ``between`` two times, epoch seconds): from the last good sample before the failure to
    the first good one after (or now, while down)."""
    starts, ends = [], []
    for name in sorted(sources):
        key = SeriesKey.of("up", source=name)
        if key not in service.store:
            continue
        if between is None:
            t, up = service.store.window(key, seconds)
        else:
            t, values = service.store.between([key], *between)
            up = values[0]
        down = up == 0
        if not down.any():
            continue
        edges = np.flatnonzero(np.diff(np.concatenate(([False], down, [False])).astype(np.int8)))
        for first, after in zip(edges[::2], edges[1::2], strict=True):
            starts.append(t[first - 1] if first > 0 else t[first])
            ends.append(t[after] if after < t.size else max(time.time(), t[-1]))
    return np.asarray(starts, dtype=np.float64) * 1000.0, np.asarray(ends, dtype=np.float64) * 1000.0
