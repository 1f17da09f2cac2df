"""One way of streaming metrics into Bokeh, served on loopback: the process the streaming benchmarks measure.

    python -m benchmarks.ways WAY --rate POINTS_PER_S --port PORT [--window-rows N] [--prefill SECONDS]

Every way shows the same 4 synthetic waves (:func:`dashboard.sources.synthetic.waves`: sample ``i`` is due
at ``start + i / rate``, and its time is that moment) on one 1-pixel-line canvas figure of one page, with a
10,000-row window by default:

* ``dashboard``: this project: the service collects every 50 ms, the feed decimates and sends at most one
  message per 50 ms (the app's real path: ``MetricsService`` + ``TimeSeriesPlot``);
  ``dashboard-nolegend`` the same without the plot's legend (what the legend costs the browser).
* ``handloop``: the hand-written loop: a 50 ms periodic callback per session that streams numpy arrays of
  every due row, with a rollover.
* ``perpoint``: the tutorial way: a thread per session hands each new row to
  ``doc.add_next_tick_callback`` as its own one-row ``source.stream``.
* ``holoviews``: a HoloViews ``Buffer`` fed every 50 ms with a DataFrame, drawn by a ``DynamicMap``.

``/stats`` answers this process's RSS, CPU seconds and the dashboard's feed and subscriber counts as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import threading
import time
from functools import partial
from typing import Any

import numpy as np
import panel as pn
import psutil
from bokeh.models import ColumnDataSource
from bokeh.plotting import figure
from tornado.web import RequestHandler

from dashboard.sources.synthetic import waves

SERIES = 4
TICK = 0.05
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]
START = time.time()


class Rows:
    """A session's cursor into the synthetic stream: every due row exactly once (``rate`` in points/s)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate / SERIES  # rows per second
        self.next = math.floor((time.time() - START) * self.rate)

    def due(self) -> tuple[np.ndarray, np.ndarray]:
        stop = math.floor((time.time() - START) * self.rate) + 1
        index = np.arange(self.next, stop, dtype=np.float64)
        self.next = max(self.next, stop)
        return waves(index, self.rate, START, SERIES)


def history(rate: float, rows: int) -> dict[str, np.ndarray]:
    """The last ``rows`` rows before now at ``rate`` points/s, as columns (time in ms)."""
    rows_per_s = rate / SERIES
    end = math.floor((time.time() - START) * rows_per_s)
    t, v = waves(np.arange(end - rows, end, dtype=np.float64), rows_per_s, START, SERIES)
    return {"time": t * 1000.0, **{f"s{i}": v[i] for i in range(SERIES)}}


def bare_figure(source: ColumnDataSource) -> Any:
    fig = figure(height=400, sizing_mode="stretch_width", x_axis_type="datetime", tools="xpan,xwheel_zoom,reset",
                 output_backend="canvas", title="synthetic")
    fig.toolbar.logo = None
    for i in range(SERIES):
        fig.line("time", f"s{i}", source=source, line_width=1, color=COLORS[i])
    return fig


def handloop(rate: float, window_rows: int, prefill: bool) -> Any:
    source = ColumnDataSource(history(rate, window_rows) if prefill else
                              {"time": np.zeros(0), **{f"s{i}": np.zeros(0) for i in range(SERIES)}})
    rows = Rows(rate)

    def tick() -> None:
        t, v = rows.due()
        if t.size:
            new = {"time": t[-window_rows:] * 1000.0, **{f"s{i}": v[i, -window_rows:] for i in range(SERIES)}}
            source.stream(new, rollover=window_rows)

    pn.state.add_periodic_callback(tick, period=int(TICK * 1000))
    return pn.pane.Bokeh(bare_figure(source), sizing_mode="stretch_width")


def perpoint(rate: float, window_rows: int, prefill: bool) -> Any:
    source = ColumnDataSource({"time": [], **{f"s{i}": [] for i in range(SERIES)}})
    doc = pn.state.curdoc
    rows = Rows(rate)
    stop = threading.Event()

    def produce() -> None:  # the tutorial's reader thread: one next-tick callback per new reading
        while not stop.wait(0.02):
            t, v = rows.due()
            for j in range(t.size):
                row = {"time": [t[j] * 1000.0], **{f"s{i}": [v[i, j]] for i in range(SERIES)}}
                doc.add_next_tick_callback(partial(source.stream, row, window_rows))

    threading.Thread(target=produce, daemon=True).start()
    pn.state.on_session_destroyed(lambda _ctx: stop.set())
    return pn.pane.Bokeh(bare_figure(source), sizing_mode="stretch_width")


def holoviews(rate: float, window_rows: int, prefill: bool) -> Any:
    import holoviews as hv
    import pandas as pd

    hv.extension("bokeh", logo=False)
    empty = pd.DataFrame({"time": np.zeros(0), **{f"s{i}": np.zeros(0) for i in range(SERIES)}})
    buffer = hv.streams.Buffer(empty, length=window_rows, index=False)
    rows = Rows(rate)

    def curve(i: int, data: Any) -> Any:  # one DynamicMap per series: HoloViews streams a lone Curve's updates
        return hv.Curve(data, "time", f"s{i}").opts(color=COLORS[i], line_width=1)

    def tick() -> None:
        t, v = rows.due()
        if t.size:
            buffer.send(pd.DataFrame({"time": t * 1000.0, **{f"s{i}": v[i] for i in range(SERIES)}}))

    pn.state.add_periodic_callback(tick, period=int(TICK * 1000))
    overlay = hv.Overlay([hv.DynamicMap(partial(curve, i), streams=[buffer]) for i in range(SERIES)])
    return pn.pane.HoloViews(overlay.opts(responsive=True, height=400, title="synthetic"),
                             sizing_mode="stretch_width", height=400)


def dashboard_app(rate: float, window_rows: int, prefill: bool, legend: bool = True, history: bool = False) -> Any:
    from dashboard.service import MetricsService
    from dashboard.sources.synthetic import SyntheticSource
    from dashboard.ui import TimeSeriesPlot

    svc = SERVICE["svc"]
    if svc is None:
        rows_per_s = rate / SERIES
        # at least a second in view (at 1M points/s 10,000 rows are 40 ms): more data than the others draw
        window = max(1.0, window_rows / rows_per_s)
        source = SyntheticSource(rate=rows_per_s, interval=TICK, series_count=SERIES, start=START)
        stored = None
        if history:  # a fresh folder, kept as dashboard serve keeps it
            from dashboard.cli import SERVE_PRECISION
            from dashboard.history import History

            stored = History(tempfile.mkdtemp(prefix="dashboard-bench-history-"), precision=SERVE_PRECISION)
        svc = SERVICE["svc"] = MetricsService([source], window=window, history=stored,
                                              capacity=int(max(window * rows_per_s * 1.5, 1000)))
    svc.start()  # idempotent: the first session starts it in the server's loop
    import panel as pn

    paused = pn.state.session_args.get("paused", [b"0"])[0] == b"1"  # many_viewers --paused: a paused viewer
    return TimeSeriesPlot(service=svc, metric="synthetic", height=400, show_legend=legend, paused=paused)


def dashboard_page(rate: float, window_rows: int, prefill: bool) -> Any:
    """The same plot in the served page: a dashboard in its template, with the view's controls."""
    from dashboard.ui.layout import MetricsDashboard
    from dashboard.ui.page import page

    plot = dashboard_app(rate, window_rows, prefill)
    return page(MetricsDashboard(service=plot.service, system=False, auto=False, title="bench", panels=[plot]))


SERVICE: dict[str, Any] = {"svc": None}
WAYS = {"dashboard": dashboard_app, "dashboard-page": dashboard_page,
        "dashboard-nolegend": partial(dashboard_app, legend=False),
        "dashboard-history": partial(dashboard_app, history=True),
        "handloop": handloop, "perpoint": perpoint, "holoviews": holoviews}


class Stats(RequestHandler):
    """This process's figures; with $DASHBOARD_TRACEMALLOC set, ``?snapshot`` keeps a tracemalloc snapshot and
    ``?compare`` answers the allocations that grew most since it (the soak's memory hunt)."""

    baseline: Any = None

    def get(self) -> None:
        if os.environ.get("DASHBOARD_TRACEMALLOC") and (self.get_argument("snapshot", None) is not None
                                                        or self.get_argument("compare", None) is not None):
            self._trace()
            return
        proc = psutil.Process()
        cpu = proc.cpu_times()
        svc = SERVICE["svc"]
        from dashboard.ui.feed import Feed

        self.write(json.dumps({
            "rss": proc.memory_info().rss, "cpu": cpu.user + cpu.system, "wall": time.time(),
            "feeds": len(Feed.open_feeds()),
            "subscribers": svc.publisher.subscriber_count if svc is not None else 0,
        }))


    def _trace(self) -> None:
        import gc
        import tracemalloc

        gc.collect()
        snap = tracemalloc.take_snapshot()
        if self.get_argument("snapshot", None) is not None or Stats.baseline is None:
            Stats.baseline = snap
            self.write("snapshot taken")
            return
        top = snap.compare_to(Stats.baseline, "traceback")[:12]
        blocks = [f"{d.size_diff / 1024:.1f} KiB in {d.count_diff} blocks\n" + "\n".join(d.traceback.format())
                  for d in top]
        self.write("\n\n".join(blocks))


def prefill_store(rate: float, window_rows: int) -> None:
    """Fill the dashboard's store with the window's history before the first page (the long-window case)."""
    from dashboard.metrics.model import Batch, SeriesInfo, SeriesKey
    from dashboard.service import MetricsService
    from dashboard.sources.synthetic import SyntheticSource

    rows_per_s = rate / SERIES
    source = SyntheticSource(rate=rows_per_s, interval=TICK, series_count=SERIES, start=START)
    svc = MetricsService([source], window=window_rows / rows_per_s, capacity=window_rows + 100_000)
    keys = tuple(SeriesKey.of("synthetic", wave=str(i)) for i in range(SERIES))
    end = math.floor((time.time() - START) * rows_per_s)
    for lo in range(end - window_rows, end, 500_000):
        t, v = waves(np.arange(lo, min(lo + 500_000, end), dtype=np.float64), rows_per_s, START, SERIES)
        svc.store.append(Batch("synthetic", keys, t, v, {k: SeriesInfo() for k in keys}))
    SERVICE["svc"] = svc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("way", choices=sorted(WAYS))
    parser.add_argument("--rate", type=float, required=True, help="points per second (rows x 4 series)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--window-rows", type=int, default=10_000)
    parser.add_argument("--prefill", action="store_true", help="start with a full window of history")
    args = parser.parse_args()
    if args.way == "dashboard" and args.prefill:
        prefill_store(args.rate, args.window_rows)

    if os.environ.get("DASHBOARD_TRACEMALLOC"):
        import tracemalloc

        tracemalloc.start(12)
    if os.environ.get("DASHBOARD_MAX_IN_FLIGHT"):  # many_viewers: bokeh.client sessions cannot acknowledge
        from dashboard.config import config

        config.max_in_flight = int(os.environ["DASHBOARD_MAX_IN_FLIGHT"])

    def app() -> Any:
        return WAYS[args.way](args.rate, args.window_rows, args.prefill)

    pn.serve(app, port=args.port, address="127.0.0.1", show=False, websocket_origin=[f"127.0.0.1:{args.port}"],
             extra_patterns=[(r"/stats", Stats)], check_unused_sessions_milliseconds=1000,
             unused_session_lifetime_milliseconds=5000, title="bench")


if __name__ == "__main__":
    os.environ.setdefault("BOKEH_MINIFIED", "yes")
    main()
