"""Holding a time range (a zoom, a pan, start and end as params) at pixel resolution, and going back to live."""

from __future__ import annotations

import numpy as np
import pytest
from bokeh.document import Document

from dashboard.config import config
from dashboard.metrics.model import Batch, SeriesInfo, SeriesKey
from dashboard.service import MetricsService
from dashboard.ui import Feed, MetricsDashboard, TimeSeriesPlot

from ..support import async_poll

A = SeriesKey.of("signal", ch="a")
B = SeriesKey.of("signal", ch="b")
END = 1_700_000_000.0
RATE = 1000  # samples a second


def kilohertz(seconds: int) -> MetricsService:
    """A service whose store holds ``seconds`` of two series at 1 kHz (a sine and a saw), ending at END."""
    svc = MetricsService([], window=3600, capacity=seconds * RATE + 10)
    t = END - seconds + np.arange(seconds * RATE) / RATE
    values = np.vstack([np.sin(t * 7.0), (t * 3.0) % 1.0])
    svc.store.append(Batch("scope", (A, B), t, values, {A: SeriesInfo("V"), B: SeriesInfo("V")}))
    return svc


def write(svc: MetricsService, t: float, a: float = 0.5) -> None:
    svc._write(Batch("scope", (A, B), np.array([t]), np.array([[a], [a]]), {A: SeriesInfo("V"), B: SeriesInfo("V")}))


def shown(svc: MetricsService, **params) -> tuple[MetricsDashboard, Feed, Document]:
    dash = MetricsDashboard(service=svc, system=False, auto=False,
                            panels=[TimeSeriesPlot(service=svc, metric="signal", labels={"ch": "a"}),
                                    TimeSeriesPlot(service=svc, metric="signal", labels={"ch": "b"})], **params)
    doc = Document()
    doc.add_root(dash.get_root(doc))
    return dash, Feed.for_document(doc), doc


def held_rows(feed: Feed) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    data = feed.columns["scope"].cds.data
    return np.asarray(data["time"]) / 1000.0, {k: np.asarray(v) for k, v in data.items() if k != "time"}


def test_zooming_into_five_seconds_of_an_hour_shows_every_sample_s_shape():
    svc = kilohertz(600)
    dash, feed, _ = shown(svc)
    live_rows = len(feed.columns["scope"].cds.data["time"])
    dash.param.update(start=END - 100.0, end=END - 95.0)
    assert not dash.live and feed.held == (END - 100.0, END - 95.0)
    t, columns = held_rows(feed)
    assert t.min() >= END - 100.0 and t.max() <= END - 95.0
    assert t.size >= 600 and t.size > live_rows / 2, "5,000 samples at pixel resolution, not 100 stretched buckets"
    expected_t, expected_v = svc.store.query([A, B], END - 100.0, END - 95.0, config.resolution)
    np.testing.assert_array_equal(t, expected_t)
    np.testing.assert_array_equal(columns["s0"], expected_v[0])
    # exact extremes of what is stored in the range
    _, raw_v = svc.store.between([A], END - 100.0, END - 95.0)
    assert columns["s0"].max() == raw_v[0].max() and columns["s0"].min() == raw_v[0].min()
    assert all(p.start == END - 100.0 and not p.live for p in dash._live_parts())


async def test_a_held_range_holds_while_data_arrives_and_live_draws_what_came_meanwhile(feed_config):
    feed_config.flush_interval = 0.01
    svc = kilohertz(60)
    dash, feed, _ = shown(svc)
    dash.param.update(start=END - 30.0, end=END - 20.0)
    before = held_rows(feed)
    streamed = feed.rows_streamed
    for i in range(1, 21):
        write(svc, END + i * 0.05, a=5.0)
        flushes = feed.paused_flushes
        await async_poll(lambda f=flushes: feed.paused_flushes > f, what="the feed to try a flush")
    after = held_rows(feed)
    np.testing.assert_array_equal(before[0], after[0])
    assert feed.rows_streamed == streamed, "nothing streamed to a held viewer"
    dash.live = True
    assert dash.start is None and dash.end is None and feed.live
    t, columns = held_rows(feed)
    assert t[-1] == pytest.approx(END + 1.0) and columns["s0"][-1] == 5.0, "what came meanwhile is drawn"
    assert t[-1] - t[0] >= 59, "the live window again, no gap"


def test_a_zoom_in_the_browser_holds_and_reaching_now_goes_live():
    svc = kilohertz(600)
    dash, feed, _ = shown(svc)
    feed.browser_range((END - 300.0) * 1000, (END - 240.0) * 1000)  # a zoom in the middle
    assert feed.held == (END - 300.0, END - 240.0)
    assert (dash.start, dash.end, dash.live) == (END - 300.0, END - 240.0, False), "the params follow the viewer"
    assert dash.controls.live.visible and "Held" in dash.controls.held.value
    xr = feed.x_range()
    assert xr.tags[-1]["hold"] == [(END - 300.0) * 1000, (END - 240.0) * 1000], "the browser is told to hold"
    feed.browser_range((END - 120.0) * 1000, (END + 0.5) * 1000)  # panned back to now
    assert feed.live and dash.live and dash.window == 120.5, "live again, with the span in view as the window"
    assert xr.tags[-1]["live"] == 120_500 and xr.follow_interval == 120_500
    feed.browser_range((END - 300.0) * 1000, (END - 240.0) * 1000)
    feed.browser_reset()
    assert feed.live and dash.live and dash.start is None, "the reset tool goes back to live"


def test_every_plot_of_a_viewer_shares_one_x_range_and_wheel_zoom_is_active():
    svc = kilohertz(10)
    _, feed, _ = shown(svc)
    plots = [v.model for v in feed.views if hasattr(v, "hover")]
    assert len(plots) == 2 and plots[0].x_range is plots[1].x_range is feed.x_range()
    for plot in plots:
        assert type(plot.toolbar.active_scroll).__name__ == "WheelZoomTool"
        assert {type(t).__name__ for t in plot.tools} >= {"PanTool", "WheelZoomTool", "BoxZoomTool", "ResetTool"}


def test_a_held_viewer_costs_the_others_nothing():
    svc = kilohertz(60)
    _, watching, _ = shown(svc)
    dash, zoomed, _ = shown(svc)
    topics = dict(watching.hub.topics)
    dash.param.update(start=END - 30.0, end=END - 29.0)
    assert watching.hub.topics == topics, "no topic made or dropped for a zoom"
    assert watching.live and watching.columns["scope"].cds is not zoomed.columns["scope"].cds


def test_live_false_alone_holds_what_is_in_view_and_a_window_goes_live_again():
    svc = kilohertz(60)
    dash, feed, _ = shown(svc)
    dash.live = False
    assert dash.end == pytest.approx(END, abs=0.01) and dash.end - dash.start == pytest.approx(3600)
    dash.window = 300
    assert dash.live and feed.live and feed.view_window == 300


def test_refresh_rate_paces_the_viewer_and_off_freezes_it():
    svc = kilohertz(10)
    dash, feed, _ = shown(svc)
    dash.refresh = 5.0
    assert feed.refresh == 5.0 and feed._processor.min_interval >= 5.0
    dash.refresh = None
    assert feed.frozen and dash.controls.refresh.value == -1.0
    dash.controls.refresh.value = 0.0
    assert dash.refresh == 0.0 and not feed.frozen


def test_bad_view_params_are_refused_with_what_was_expected():
    svc = kilohertz(10)
    dash, _, _ = shown(svc)
    with pytest.raises(ValueError, match="expected start < end"):
        dash.param.update(start=END, end=END - 10)
    with pytest.raises(ValueError, match=r"IANA time zone.*'Mars/Olympus'"):
        dash.timezone = "Mars/Olympus"
