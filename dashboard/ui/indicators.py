"""``StatCard``: the latest value of one series, its unit and its trend.

A card is a small Bokeh ``Div``; its title, value and unit (the unit comes from a source) are escaped
with :func:`html.escape` at this one boundary. A ``Div`` costs the browser far less to build than a
figure, which keeps a new page's first paint fast.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
from bokeh.models import ColumnDataSource, Div

from ..metrics.model import SeriesKey
from ..options import StatOptions
from ..service import SourceEvent
from ..units import format_value
from .base import LiveComponent
from .feed import Feed
from .flow import FILL


class StatCard(StatOptions, LiveComponent):
    """The newest value of one series, with its change over ``trend_seconds`` (options:
    :class:`~dashboard.options.StatOptions`)."""

    def accepts(self, key: SeriesKey) -> bool:
        return key.matches(self.metric, self.labels)

    def _build(self, feed: Feed) -> _CardView:
        return _CardView(self, feed)

    def reading(self, store: Any, key: SeriesKey, end: float | None = None) -> tuple[str, str]:
        """(value, trend) as the card shows them: the newest value of ``key`` (up to ``end``, the newest
        sample by default) and its change over ``trend_seconds``."""
        unit = self.unit if self.unit is not None else store.info(key).unit
        if end is None:
            _t, v = store.window(key, self.trend_seconds)
        else:
            _t, values = store.between([key], end - self.trend_seconds, end)
            v = values[0]
        latest = _last_finite(v)
        trend = ""
        if v.size >= 2 and latest is not None and (first := _first_finite(v)) is not None:
            delta = latest - first
            arrow = "▲" if delta > 0 else "▼" if delta < 0 else "■"
            trend = f"{arrow} {format_value(abs(delta), unit)} in {self.trend_seconds:g}s"
        return format_value(latest, unit), trend

    def html(self, value: str, trend: str, series: str = "") -> str:
        """The card's HTML; every string escaped. ``series``: which of the metric's series it shows (its
        labels), when the metric has several."""
        title = html.escape(self.title or self.metric)
        which = f' <span class="series" style="font-weight:normal;color:#666">{html.escape(series)}</span>' \
            if series else ""
        return (f'<div class="dashboard-card" style="font-family:sans-serif;padding:4px 8px;'
                f'border:1px solid #e3e3e3;border-radius:4px;box-sizing:border-box;width:100%">'
                f'<div style="font-size:13px;font-weight:bold">{title}{which}</div>'
                f'<div class="value" style="font-size:28px;font-weight:bold">{html.escape(value)}</div>'
                f'<div class="trend" style="font-size:12px;color:#666">{html.escape(trend)}</div></div>')


class _CardView:
    """One viewer's card: a small HTML block whose every string is escaped here."""

    def __init__(self, component: StatCard, feed: Feed) -> None:
        self.component = component
        self.key: SeriesKey | None = None
        self.model = Div(text=self._html("no data", ""), disable_math=True, stylesheets=[FILL])  # $$..$$ stays text

    def _html(self, value: str, trend: str) -> str:
        return self.component.html(value, trend)

    def accepts(self, key: SeriesKey) -> bool:
        return self.key is None and self.component.accepts(key)

    def add_series(self, key: SeriesKey, cds: ColumnDataSource, column: str) -> None:
        self.key = key

    def refresh(self, feed: Feed, events: list[SourceEvent]) -> None:
        if self.key is None:
            return
        store = feed.service.store
        held = feed.view_range()  # a held range: the card reads at its end, as a snapshot's does
        self.value, self.trend = self.component.reading(store, self.key, held[1] if held else None)
        text = self.component.html(self.value, self.trend, series_of(self.key, store))
        if text != self.model.text:
            self.model.text = text


def series_of(key: SeriesKey, store: Any) -> str:
    """``key``'s labels when its metric has other series in ``store`` (a card names the one it shows)."""
    if not key.labels or len(store.keys(key.name)) < 2:
        return ""
    return ", ".join(f"{k}={v}" for k, v in key.labels)


def _last_finite(v: np.ndarray) -> float | None:
    finite = v[np.isfinite(v)]
    return float(finite[-1]) if finite.size else None


def _first_finite(v: np.ndarray) -> float | None:
    finite = v[np.isfinite(v)]
    return float(finite[0]) if finite.size else None
