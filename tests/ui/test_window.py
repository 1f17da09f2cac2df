"""A viewer's window as a param: a change refills every plot at once from the store, then follows it."""

from __future__ import annotations

import numpy as np
from bokeh.document import Document

from dashboard.metrics.model import Batch, SeriesInfo, SeriesKey
from dashboard.service import MetricsService
from dashboard.ui import Feed, MetricsDashboard, TimeSeriesPlot

from ..support import async_poll

CPU = SeriesKey.of("cpu_percent")


def history(seconds: int, end: float = 1_700_000_000.0) -> MetricsService:
    """A service whose store holds ``seconds`` of one sample a second, and whose own window is 5 min."""
    svc = MetricsService([], window=300, capacity=100_000)
    t = end - seconds + 1 + np.arange(seconds, dtype=float)
    svc.store.append(Batch("sys", (CPU,), t, (t - t[0])[None, :], {CPU: SeriesInfo("%")}))
    return svc


def span(feed: Feed) -> float:
    """Seconds between the first and the last row the viewer holds."""
    times = feed.columns["sys"].cds.data["time"]
    return (times[-1] - times[0]) / 1000.0


async def test_a_window_change_shows_that_much_history_at_once(feed_config):
    feed_config.flush_interval = 0.01
    svc = history(2 * 3600)
    dash = MetricsDashboard(service=svc, system=False, panels=[TimeSeriesPlot(service=svc, metric="cpu_percent")])
    doc = Document()
    doc.add_root(dash.get_root(doc))
    feed = Feed.for_document(doc)
    assert 290 <= span(feed) <= 300, "the service's 5 minutes"
    dash.window = 3600
    assert 3590 <= span(feed) <= 3600, "an hour, at once, from the store"
    assert len(feed.columns["sys"].cds.data["time"]) <= 2 * 1200 + 16, "decimated for the hour"
    assert dash.controls.window.value == 3600 and feed.view_window == 3600
    (plot_view,) = [v for v in feed.views if type(v).__name__ == "_PlotView"]
    assert plot_view.model.x_range.follow_interval == 3600_000
    t = 1_700_000_001.0
    svc._write(Batch("sys", (CPU,), np.array([t]), np.array([[-1.0]]), {CPU: SeriesInfo("%")}))
    cds = feed.columns["sys"].cds
    await async_poll(lambda: cds.data["time"][-1] == t * 1000.0, what="new data after the change")
    dash.window = None
    assert 290 <= span(feed) <= 301 and feed.view_window == 300, "back to the service's window"


def test_the_selector_offers_the_usual_windows_and_the_one_in_use():
    svc = history(10)
    dash = MetricsDashboard(service=svc, system=False, window=7 * 60)
    labels = list(dash.controls.window.options)
    assert labels == ["1 min", "5 min", "7 min", "15 min", "1 h", "6 h", "24 h", "7 d"]
    dash.controls.window.value = 21600.0
    assert dash.window == 21600.0 and all(p.view_window == 21600.0 for p in dash._live_parts())


async def test_a_window_nobody_shows_any_more_stops_being_decimated():
    svc = history(600)
    a, b = (TimeSeriesPlot(service=svc, metric="cpu_percent") for _ in range(2))
    doc_a, doc_b = Document(), Document()
    doc_a.add_root(a.get_root(doc_a))
    doc_b.add_root(b.get_root(doc_b))
    hub = Feed.for_document(doc_a).hub
    assert sorted(w for _, w in hub.topics) == [300.0], "one topic for both viewers of the 5 minutes"
    a.view_window = 3600
    assert sorted(w for _, w in hub.topics) == [300.0, 3600.0], "the other viewer still shows 5 minutes"
    b.view_window = 3600
    assert sorted(w for _, w in hub.topics) == [3600.0], "nobody shows 5 minutes any more"
    b._cleanup(doc_b.roots[0])
    assert sorted(w for _, w in hub.topics) == [3600.0]
    a._cleanup(doc_a.roots[0])
    assert hub.topics == {} and svc.publisher.subscriber_count == 0
