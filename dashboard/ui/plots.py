"""``TimeSeriesPlot``: one line per series of a metric, on a datetime axis that follows the window.

Names from sources become titles and axis labels as ``PlainText`` (a plain string containing ``$$...$$``
would be typeset as TeX).

Lines are 1 pixel wide (2-pixel lines cost the browser about four times as much) on the canvas backend
(WebGL without a GPU falls back to SwiftShader, which is slower). Legends, titles and hover fields are
canvas text or escaped by Bokeh, so hostile metric names and label values stay inert.

An outage is visible twice: the line breaks (the service writes a gap), and a shaded band covers the
time a source of the plot was down (its ``up`` series was 0), from its last good sample to its next.
"""

from __future__ import annotations

import io
import re
import time
from typing import Any

import numpy as np
import pandas as pd
from bokeh.models import (
    AdaptiveTicker,
    ColumnDataSource,
    CrosshairTool,
    CustomJSHover,
    CustomJSTickFormatter,
    DataRange1d,
    GlyphRenderer,
    HoverTool,
    Legend,
    LegendItem,
    Line,
    PlainText,
    Quad,
    Range1d,
    Segment,
    Span,
)
from bokeh.palettes import Category10_10
from bokeh.plotting import figure

from ..annotations import Annotation, Annotations
from ..metrics.model import SeriesKey
from ..options import PlotOptions
from ..service import MetricsService, SourceEvent
from ..units import FORMAT_JS, TIME_JS
from .alerts import AlertMarks
from .base import LiveComponent
from .feed import Feed
from .glyphs import bare
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

    def view_frame(self) -> pd.DataFrame:
        """Every stored sample in view, tidy: time (in the plot's time zone, UTC when it follows the
        browser's), metric, labels, value: what the downloads hold. ``svc.frame(metric, start=, end=)``
        gives the same rows in UTC."""
        start, end = self.view_range()
        frame = self.service.frame(self.metric, start=start, end=end, **self.labels)
        frame["time"] = frame["time"].dt.tz_convert(self.timezone or "UTC")
        return frame

    def view_csv(self) -> io.BytesIO:
        """:meth:`view_frame` as CSV, times in ISO 8601 with their offset."""
        frame = self.view_frame()
        frame["time"] = frame["time"].map(lambda t: t.isoformat())
        return io.BytesIO(frame.to_csv(index=False).encode())

    def view_parquet(self) -> io.BytesIO:
        """:meth:`view_frame` as Parquet (times as instants with the time zone)."""
        out = io.BytesIO()
        self.view_frame().to_parquet(out, index=False)
        out.seek(0)
        return out

    def file_name(self) -> str:
        """A download's file name without extension, from the metric (a name from a source: only
        ``[\\w.-]`` kept)."""
        return re.sub(r"[^\w.-]+", "_", self.metric or "metrics")[:100] or "metrics"


class _PlotView:
    """One viewer's figure of a TimeSeriesPlot."""

    def __init__(self, component: TimeSeriesPlot, feed: Feed) -> None:
        self.component = component
        # Plots without a window of their own share the viewer's x range: a zoom or a pan on one moves all.
        if component.window is None:
            x_range = feed.x_range()
        else:
            x_range = DataRange1d(follow="end", follow_interval=component.window * 1000.0, range_padding=0,
                                  only_visible=True, syncable=False)  # the browser computes it: no echo back
        self.model = figure(
            title=component.title or component.metric or "metrics", x_axis_type="datetime",
            tools="xpan,xwheel_zoom,xbox_zoom,reset", active_scroll="xwheel_zoom", output_backend="canvas",
            x_range=x_range, lod_timeout=150,  # the zoom's range reaches the server 150 ms after the wheel stops
            y_range=DataRange1d(only_visible=True, range_padding=0.05, syncable=False, **_limits(component)),
            y_axis_type="log" if component.log_y else "linear",
        )
        if component.window is None:
            feed.watch_ranges(self.model)
        if component.title is None:  # a name from a source: never read as TeX ($$...$$) or anything but text
            self.model.title.text = PlainText(text=component.metric or "metrics")
        self.model.toolbar.logo = None
        self.model.xaxis.axis_label = None
        # Each series' value at the time under the pointer, in the plot's unit, and that time marked on every
        # plot of the viewer (one Span shared by their crosshairs; always on, so no toolbar button).
        self.time_hover = CustomJSHover(args={"tz": component.timezone or ""},
                                        code=f"{TIME_JS}\nreturn time(value, tz, null)")
        self.hover = HoverTool(
            tooltips=[("series", "$name"), ("time", "@time{custom}"), ("value", "$snap_y{custom}")],
            formatters={"@time": self.time_hover, "$snap_y": _hover_formatter("")}, renderers=[], mode="vline",
            name="series")
        # Times in the display time zone (Bokeh draws them in UTC): the date under the first tick
        self.model.xaxis.formatter = CustomJSTickFormatter(args={"tz": component.timezone or ""}, code=TICK_JS)
        crosshair = feed.shared("crosshair", lambda: Span(dimension="height", line_color="#888888", line_width=1,
                                                           line_dash="dashed"))
        self.model.add_tools(self.hover, CrosshairTool(overlay=crosshair, dimensions="height", visible=False))
        # Outage bands on a y range of their own (0 to 1, the plot's height), so they never stretch the data's.
        # (Assigning the ranges' renderer lists instead would recompute the live document's model graph
        # at every new series: seconds of a blocked event loop with a few sessions open.)
        self.model.extra_y_ranges = {"outages": Range1d(0, 1)}
        self.outages = ColumnDataSource(data={"x0": np.empty(0), "x1": np.empty(0)})
        self.outage_renderer = bare(
            self.model, self.outages, Quad(left="x0", right="x1", bottom=0, top=1, fill_color="#d62728",
                                           fill_alpha=0.15, line_alpha=0), y_range_name="outages", level="underlay")
        # annotations and alert marks: drawn once the service has any for this plot (most plots never do)
        self.notes: AnnotationMarks | None = None
        self.alerts: AlertMarks | None = None
        self._rules_seen = 0
        self.sources: set[str] = set()
        self.keys: list[SeriesKey] = []
        self._outages_checked = -1.0
        self.legend: Legend | None = None
        if component.show_legend:  # built up front: a legend added to a live plot has no view in a notebook
            self.legend = Legend(items=[], location="top_left", click_policy="hide", label_text_font_size="8pt",
                                 background_fill_alpha=0.6)
            self.model.add_layout(self.legend)
        self.theme = FigureTheme(self.model, component.theme)
        self._unit_set = False
        self.count = 0
        if component.unit is not None:
            self._set_unit(component.unit)

    def accepts(self, key: SeriesKey) -> bool:
        return self.component.accepts(key)

    def add_series(self, key: SeriesKey, cds: ColumnDataSource, column: str) -> None:
        color = Category10_10[self.count % len(Category10_10)]
        # a bare renderer: figure.line() also builds selection, hover and muted glyphs this plot never uses
        # (about four models a line; a scrape that brings 200 series pays for each)
        renderer = GlyphRenderer(data_source=cds, glyph=Line(x="time", y=column, line_width=1, line_color=color),
                                 name=str(key))
        self.model.renderers.append(renderer)
        self.hover.renderers = [*self.hover.renderers, renderer]
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
        if not self._unit_set:
            self._set_unit(self.component.unit or self.component.service.store.info(key).unit)

    def _set_unit(self, unit: str) -> None:
        """Axis ticks and hover values in ``unit`` (:mod:`dashboard.units`: IEC bytes, durations, SI)."""
        self._unit_set = True
        if self.component.log_y:  # a log axis keeps Bokeh's powers of ten; its unit goes on the axis label
            self.model.yaxis.axis_label = PlainText(text=unit) if unit else None
        else:  # each tick carries the unit, in steps that read round in it (KiB steps for bytes)
            if unit in ("B", "B/s"):
                self.model.yaxis.ticker = AdaptiveTicker(base=1024, mantissas=[1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
                                                         min_interval=1)
            self.model.yaxis.formatter = CustomJSTickFormatter(args={"unit": unit},
                                                               code=f"{FORMAT_JS}\nreturn format(tick, unit)")
        self.hover.formatters = {"@time": self.time_hover, "$snap_y": _hover_formatter(unit)}

    def restyle(self, component: TimeSeriesPlot) -> None:
        """Show times in the component's time zone (axis ticks and hovers), in its theme."""
        self.theme.set(component.theme)
        tz = component.timezone or ""
        if self.time_hover.args.get("tz") != tz:
            self.time_hover.args = {"tz": tz}
            self.model.xaxis.formatter.args = {"tz": tz}

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
            return
        self._outages_checked = now
        if self.alerts is not None:
            self.alerts.update(feed.service, self.component.metric, self.keys, between)
        x0, x1 = outages(feed.service, self.sources, seconds, held)
        old = self.outages.data
        if x0.size != len(old["x0"]) or not (np.array_equal(x0, old["x0"]) and np.array_equal(x1, old["x1"])):
            self.outages.data = {"x0": x0, "x1": x1}


class AnnotationMarks:
    """A plot's annotations: a dotted line at each one's time and a light band over its span, on the
    outage bands' 0-1 y range, the text and labels on hover (fields Bokeh escapes)."""

    def __init__(self, fig: figure, time_hover: CustomJSHover) -> None:
        self.source = ColumnDataSource(data=annotation_columns([]))
        self.drawn = -1  # the annotations' version drawn (-1: draw at the next refresh)
        band = bare(fig, self.source, Quad(left="x0", right="x1", bottom=0, top=1, fill_color="#7f7f7f",
                                           fill_alpha=0.15, line_alpha=0), y_range_name="outages", level="underlay")
        line = bare(fig, self.source, Segment(x0="x0", y0=0, x1="x0", y1=1, line_color="#555555", line_width=1,
                                              line_dash="dotted"), y_range_name="outages")
        fig.add_tools(HoverTool(renderers=[band, line], tooltips=[("event", "@text"), ("labels", "@labels"),
                                                                  ("at", "@x0{custom}")],
                                formatters={"@x0": time_hover}, description="Annotations", name="annotations"))

    def update(self, annotations: Annotations, keys: list[SeriesKey], between: tuple[float, float]) -> None:
        """Draw the annotations within ``between`` that apply to ``keys`` (when they or the view changed)."""
        if annotations.version == self.drawn:
            return
        self.drawn = annotations.version
        notes = [n for n in annotations.between(*between) if keys and n.applies_to(keys)]
        self.source.data = annotation_columns(notes)


def annotation_columns(notes: list[Annotation]) -> dict[str, Any]:
    """Columns of annotation marks: start and end (ms; an instant ends where it starts), text, labels."""
    return {"x0": np.array([n.time * 1000.0 for n in notes], dtype=np.float64),
            "x1": np.array([(n.end if n.end is not None else n.time) * 1000.0 for n in notes], dtype=np.float64),
            "text": [n.text for n in notes],
            "labels": [", ".join(f"{k}={v}" for k, v in n.labels.items()) for n in notes]}


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


def _hover_formatter(unit: str) -> CustomJSHover:
    """A hover value in ``unit``, by the rules of :mod:`dashboard.units` (the unit travels as data)."""
    return CustomJSHover(args={"unit": unit}, code=f"{FORMAT_JS}\nreturn format(value, unit)")


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
