"""Offline snapshots: one self-contained HTML file of a dashboard over a time range.

Its stat cards as they read at the end of the range, then every plot of the dashboard (this machine's, a
spec's panels, the automatic plots of pushed metrics), drawn as the live page draws it
(:class:`~dashboard.ui.plots._PlotView`: axes and hovers in the time zone, units, outage bands,
annotations, alert thresholds and bands), from ``store.query``: the exact min and max of each of
``columns`` pixel columns, from memory or from the history on disk. Under them the alerts, the status
table of the sources and the list of annotations in the range; above them the title, the range and the
time zone. The file is Bokeh's standalone HTML with BokehJS inline (``bokeh.embed.file_html``): it opens
from ``file://`` with no network, and pans, zooms and hovers there.

Values travel as float32 (times as float64 milliseconds), which halves the file and is far finer than a
pixel. Every string from a source reaches the file as Bokeh canvas text, an escaped hover field or escaped
HTML (the status table and the annotation list).

``dash.save(path)`` / :func:`snapshot_html` in Python, ``GET /snapshot?from=&to=`` (or ``?window=``) on
``dashboard serve``, ``dashboard snapshot URL -o run.html`` from a shell, and a button on the served page.
"""

from __future__ import annotations

import asyncio
import html
import io
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from bokeh.embed import file_html
from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource, Div, Range1d
from bokeh.resources import Resources

from ..auth import ViewerRoute
from ..metrics.model import SeriesKey
from .alerts import render_alerts
from .flow import FILL
from .indicators import series_of
from .plots import TimeSeriesPlot, _PlotView, outages
from .status import render_rows

#: Pixel columns of each plot's data (a plot as wide as a large screen, at one column per pixel).
COLUMNS = 1200


class _BokehOnly(Resources):
    """BokehJS inline, and nothing that other libraries' models ask every page for: Panel's models name
    JavaScript files by a server path (``static/extensions/...``), which a file opened from disk cannot
    load. A snapshot holds Bokeh's own models only."""

    def _collect_external_resources(self, resource_attr: str) -> list[str]:
        return []

    def clone(self, **kwargs: Any) -> Resources:  # Bokeh's bundle clones it to drop unused components
        copy = super().clone(**kwargs)
        copy.__class__ = _BokehOnly
        return copy


class _StaticViewer:
    """What a plot view asks of its viewer, for a document that is written once: one fixed x range."""

    static = True  # a file: no live tools (downloads ask a server)

    def __init__(self, start: float, end: float) -> None:
        self.range = Range1d(start * 1000.0, end * 1000.0)
        self._shared: dict[str, Any] = {}

    def x_range(self) -> Range1d:
        return self.range

    def watch_ranges(self, _plot: Any) -> None:
        return None

    def shared(self, name: str, make: Callable[[], Any]) -> Any:
        if name not in self._shared:
            self._shared[name] = make()
        return self._shared[name]


def view_of(dash: Any) -> tuple[float, float]:
    """The range a dashboard shows now (epoch seconds): the held one, or its window up to now."""
    if not dash.live and dash.start is not None and dash.end is not None:
        return float(dash.start), float(dash.end)
    end = time.time()
    return end - (dash.window or dash.service.window), end


def snapshot_html(dash: Any, start: float | None = None, end: float | None = None,
                  columns: int = COLUMNS, drawn: list[Drawn] | None = None) -> str:
    """The HTML of ``dash`` (a :class:`~dashboard.ui.layout.MetricsDashboard`) from ``start`` to ``end``
    (epoch seconds; the dashboard's current view by default). ``drawn``: its plots' data, read before
    (:func:`snapshot_data`, which may run in another thread); the models are built here, in the thread of
    the event loop that serves the pages (Bokeh's model building is not safe beside a streaming document)."""
    if start is None or end is None:
        start, end = view_of(dash)
    if not end > start:
        raise ValueError(f"snapshot: expected start < end, got {start} and {end}")
    viewer = _StaticViewer(start, end)
    if drawn is None:
        drawn = snapshot_data(dash, start, end, columns)
    figures = [_figure(plot, viewer, start, end, data) for plot, data in drawn]
    tz = dash.timezone or "UTC"
    head = _div(_heading(dash.title, start, end, tz))
    cards = [_card(card, end) for card in dash.cards]
    status = _div(render_rows(dash.status.rows(now=end)))
    notes = _div(_annotation_list(dash.service, start, end, tz))
    alerts = _div(render_alerts(dash.alert_list.rows(now=end)) if dash.service._alert_engine else "")
    per_row = max(1, int(dash.columns))
    rows = [row(*figures[i:i + per_row], sizing_mode="stretch_width") for i in range(0, len(figures), per_row)]
    top = [row(*cards, sizing_mode="stretch_width")] if cards else []
    layout = column(head, *top, *rows, alerts, status, notes, sizing_mode="stretch_width")
    title = f"{dash.title}: {_when(start, tz)} to {_when(end, tz)}"
    return file_html(layout, resources=_BokehOnly(mode="inline"), title=title)


def snapshot_bytes(dash: Any) -> io.BytesIO:
    """The dashboard's current view as a snapshot file's bytes (what the page's button downloads)."""
    return io.BytesIO(snapshot_html(dash).encode("utf-8"))


def _plots(dash: Any) -> list[TimeSeriesPlot]:
    """The dashboard's plots, then one per pushed metric its automatic plots show."""
    plots = [p for p in dash.plots if isinstance(p, TimeSeriesPlot)]
    auto = dash.auto_plots
    if auto is not None:
        names = sorted({k.name for k in dash.service.store.keys() if auto.accepts(k)})
        plots += [auto.plot_for(name) for name in names]
    return plots


#: A plot and what it draws: its series, their times and values (decimated to pixel columns).
Drawn = tuple[TimeSeriesPlot, tuple[list[SeriesKey], np.ndarray, list[np.ndarray]]]


def snapshot_data(dash: Any, start: float, end: float, columns: int = COLUMNS) -> list[Drawn]:
    """Each plot's data from ``start`` to ``end``, decimated to ``columns`` pixel columns: the store's
    part of a snapshot, which needs no Bokeh model (a worker thread may read it)."""
    return [(plot, plot_data(plot, start, end, columns)) for plot in _plots(dash)]


def plot_data(plot: TimeSeriesPlot, start: float, end: float, columns: int = COLUMNS
              ) -> tuple[list[SeriesKey], np.ndarray, list[np.ndarray]]:
    """One plot's series, and their times and values from ``start`` to ``end`` in ``columns`` columns."""
    keys = [k for k in plot.service.store.keys(plot.metric) if plot.accepts(k)]
    t, values = plot.service.store.query(keys, start, end, columns) if keys else (np.empty(0), [])
    return keys, t, list(values)


def _figure(plot: TimeSeriesPlot, viewer: _StaticViewer, start: float, end: float,
            drawn: tuple[list[SeriesKey], np.ndarray, list[np.ndarray]]) -> Any:
    """One plot drawn over ``start`` to ``end`` from its data."""
    service = plot.service
    view = _PlotView(plot, viewer)  # type: ignore[arg-type]
    view.model.x_range = viewer.range
    view.model.update(sizing_mode="stretch_width", height=plot.height or 260)
    keys, t, values = drawn
    if keys:
        data: dict[str, Any] = {"time": t * 1000.0}
        data.update({f"s{i}": v.astype(np.float32) for i, v in enumerate(values)})
        cds = ColumnDataSource(data=data)
        for i, key in enumerate(keys):
            view.add_series(key, cds, f"s{i}")
    else:  # nothing to draw: a fixed y range (a data range of no data has nothing to start from)
        view.model.y_range = Range1d(0, 1)
    view.outages.draw(*outages(service, view.sources, end - start, (start, end)))
    view.marks(service)
    if view.notes is not None:
        view.notes.update(service.annotations, view.keys, (start, end))
    if view.alerts is not None:
        view.alerts.update(service, plot.metric, view.keys, (start, end))
    return view.model


def _card(card: Any, end: float) -> Div:
    """A stat card as it read at the end of the range."""
    store = card.service.store
    key = next((k for k in store.keys(card.metric) if card.accepts(k)), None)
    value, trend = card.reading(store, key, end) if key is not None else ("no data", "")
    series = series_of(key, store) if key is not None else ""
    return Div(text=card.html(value, trend, series), sizing_mode="stretch_width", disable_math=True,
               stylesheets=[FILL])


def _div(text: str) -> Div:
    """HTML built here from escaped strings; ``$$...$$`` in them stays text (never typeset)."""
    return Div(text=text, sizing_mode="stretch_width", disable_math=True, stylesheets=[FILL])


def _heading(title: str, start: float, end: float, tz: str) -> str:
    return (f'<h2 style="font-family:sans-serif;margin:4px 0">{html.escape(title)}</h2>'
            f'<p class="snapshot-range" style="font:13px sans-serif;color:#555;margin:0 0 8px">'
            f'{html.escape(_when(start, tz))} to {html.escape(_when(end, tz))} ({html.escape(tz)}), '
            f'written {html.escape(_when(time.time(), tz))}</p>')


def _when(t: float, tz: str) -> str:
    return pd.Timestamp(t, unit="s", tz="UTC").tz_convert(tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def _annotation_list(service: Any, start: float, end: float, tz: str) -> str:
    """The annotations in the range as an HTML list, every string escaped."""
    notes = service.annotations.between(start, end)
    if not notes:
        return ""
    items = []
    for n in notes:
        span = _when(n.time, tz) + (f" to {_when(n.end, tz)}" if n.end is not None else "")
        labels = ", ".join(f"{k}={v}" for k, v in n.labels.items())
        items.append(f'<li><span style="font-weight:bold">{html.escape(span)}</span> {html.escape(n.text)}'
                     f"{f' <span style=color:#666>({html.escape(labels)})</span>' if labels else ''}</li>")
    return ('<div class="snapshot-annotations" style="font:13px sans-serif"><h3>Annotations</h3><ul>'
            + "".join(items) + "</ul></div>")


def parse_range(args: dict[str, str], now: float) -> tuple[float, float]:
    """A snapshot's range from ``from``/``to`` (epoch seconds or ISO 8601) or ``window`` (a duration up to
    now, or up to ``to``); ValueError naming the field otherwise."""
    from ..metrics.frames import to_epoch
    from ..viewurl import parse_duration

    def when(name: str) -> float | None:
        text = args.get(name)
        if text in (None, ""):
            return None
        try:
            return to_epoch(text)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None

    end = when("to") or now
    start = when("from")
    if start is None:
        try:
            window = parse_duration(args.get("window") or "1h")
        except ValueError as exc:
            raise ValueError(f"window: {exc}") from None
        start = end - window
    if not (math.isfinite(start) and math.isfinite(end) and end > start):
        raise ValueError(f"from/to: expected from < to, got {start} and {end}")
    return start, end


class SnapshotHandler(ViewerRoute):
    """``GET /snapshot?from=&to=`` (or ``?window=1h``, the default): the served dashboard's snapshot, as a
    file to save. Open to whoever may open the page (:class:`~dashboard.auth.ViewerRoute`); the store is
    read in a worker thread, the models built on the event loop (where every other document's models are
    built: Bokeh's are not safe to build beside them)."""

    def initialize(self, dashboard: Callable[[], Any]) -> None:
        self._dashboard = dashboard

    async def get(self) -> None:
        args = {k: self.get_query_argument(k) for k in ("from", "to", "window") if self.get_query_argument(k, None)}
        try:
            start, end = parse_range(args, time.time())
        except ValueError as exc:
            self.set_status(400)
            self.finish({"error": str(exc)})
            return
        dash = self._dashboard()
        tz = self.get_query_argument("tz", None)
        if tz:
            dash.timezone = tz
        # the store is read in a worker thread; the models are built here, on the pages' event loop
        drawn = await asyncio.get_running_loop().run_in_executor(None, snapshot_data, dash, start, end)
        text = snapshot_html(dash, start, end, drawn=drawn)
        stamp = pd.Timestamp(end, unit="s", tz="UTC").strftime("%Y%m%d-%H%M%S")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="dashboard-{stamp}.html"')
        self.finish(text)
