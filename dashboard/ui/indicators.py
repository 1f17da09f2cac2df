"""``StatCard``: the latest value of one series, its unit, its trend and a sparkline.

Everything is drawn on the canvas (title, value and trend are Bokeh ``Label``/title text), so a value or
unit that came from a source cannot inject markup.
"""

from __future__ import annotations

import math

import numpy as np
import param
from bokeh.models import ColumnDataSource, DataRange1d, Label
from bokeh.plotting import figure

from ..metrics.model import SeriesKey
from ..service import SourceEvent
from .base import LiveComponent
from .feed import Feed


def format_value(value: float, unit: str = "") -> str:
    """A short human form of ``value``: 12.3 %, 1.2 GB/s, 0.53."""
    if value is None or not math.isfinite(value):
        return "no data"
    if unit in ("B", "B/s"):
        for prefix in ("", "K", "M", "G", "T", "P"):
            if abs(value) < 1024 or prefix == "P":
                return f"{value:,.1f} {prefix}{unit}"
            value /= 1024
    number = f"{value:,.1f}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{number} {unit}".strip() if unit != "%" else f"{number} %"


class StatCard(LiveComponent):
    """The newest value of one series, with its change over ``trend_seconds`` and a sparkline."""

    metric = param.String(default="cpu_percent", doc="Metric name of the series shown.")

    labels = param.Dict(default={}, doc="Label values that pick one series of the metric.")

    title = param.String(default=None, allow_None=True, doc="Card title (the metric name by default).")

    unit = param.String(default=None, allow_None=True, doc="Unit shown (the series' own by default).")

    trend_seconds = param.Number(default=60.0, bounds=(1, None),
                                 doc="The trend compares the latest value with the value this long ago.")

    height = param.Integer(default=120, bounds=(60, 1000), doc="Height in pixels.")

    def accepts(self, key: SeriesKey) -> bool:
        return key.matches(self.metric, self.labels)

    def _build(self, feed: Feed) -> _CardView:
        return _CardView(self, feed)


class _CardView:
    """One viewer's card."""

    def __init__(self, spec: StatCard, feed: Feed) -> None:
        self.spec = spec
        self.key: SeriesKey | None = None
        self.model = figure(
            title=spec.title or spec.metric, height=spec.height, sizing_mode="stretch_width",
            toolbar_location=None, x_axis_type="datetime", output_backend="canvas",
            x_range=DataRange1d(follow="end", follow_interval=feed.service.window * 1000.0, range_padding=0),
            y_range=DataRange1d(range_padding=0.1))
        self.model.axis.visible = False
        self.model.grid.visible = False
        self.model.outline_line_alpha = 0.2
        self.value_label = Label(x=8, y=8, x_units="screen", y_units="screen", text="no data",
                                 text_font_size="22pt", text_font_style="bold")
        self.trend_label = Label(x=8, y=48, x_units="screen", y_units="screen", text="",
                                 text_font_size="10pt", text_color="#666666")
        self.model.add_layout(self.value_label)
        self.model.add_layout(self.trend_label)

    def accepts(self, key: SeriesKey) -> bool:
        return self.key is None and self.spec.accepts(key)

    def add_series(self, key: SeriesKey, source: ColumnDataSource, column: str) -> None:
        self.key = key
        self.model.line("time", column, source=source, line_width=1, color="#1f77b4", alpha=0.5)

    def refresh(self, feed: Feed, events: list[SourceEvent]) -> None:
        if self.key is None:
            return
        store = feed.service.store
        unit = self.spec.unit if self.spec.unit is not None else store.info(self.key).unit
        _t, v = store.window(self.key, self.spec.trend_seconds)
        latest = _last_finite(v)
        text = format_value(latest, unit)
        if text != self.value_label.text:
            self.value_label.text = text
        trend = ""
        if v.size >= 2 and latest is not None:
            first = _first_finite(v)
            if first is not None:
                delta = latest - first
                arrow = "▲" if delta > 0 else "▼" if delta < 0 else "■"
                trend = f"{arrow} {format_value(abs(delta), unit)} in {self.spec.trend_seconds:g}s"
        if trend != self.trend_label.text:
            self.trend_label.text = trend


def _last_finite(v: np.ndarray) -> float | None:
    finite = v[np.isfinite(v)]
    return float(finite[-1]) if finite.size else None


def _first_finite(v: np.ndarray) -> float | None:
    finite = v[np.isfinite(v)]
    return float(finite[0]) if finite.size else None
