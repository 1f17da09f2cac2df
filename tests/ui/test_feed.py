"""The feed and the components at the model tier: real Bokeh documents, real service, no browser."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from bokeh.document import Document
from bokeh.document.events import ColumnDataChangedEvent, ColumnsStreamedEvent
from bokeh.models import ColumnDataSource, Div, GlyphRenderer, Line, Plot

from dashboard.metrics.model import Batch, SeriesInfo, SeriesKey
from dashboard.service import MetricsService
from dashboard.ui import Feed, MetricsDashboard, SourceStatus, StatCard, TimeSeriesPlot

from ..support import ScriptedSource, async_poll

CPU = SeriesKey.of("cpu_percent")
CORE0 = SeriesKey.of("cpu_core_percent", cpu="0")
CORE1 = SeriesKey.of("cpu_core_percent", cpu="1")
INFO = {CPU: SeriesInfo("%"), CORE0: SeriesInfo("%"), CORE1: SeriesInfo("%")}


def write(svc: MetricsService, t: float, **values: float) -> None:
    keys = {"cpu": CPU, "core0": CORE0, "core1": CORE1}
    chosen = tuple(keys[k] for k in values)
    svc._write(Batch("sys", chosen, np.array([t]), np.array(list(values.values()), float).reshape(-1, 1), INFO))


class EventLog:
    """Counts the document events a viewer would be sent."""

    def __init__(self, doc: Document) -> None:
        self.events: list = []
        doc.on_change(self.events.append)

    def streams(self) -> list[ColumnsStreamedEvent]:
        return [e for e in self.events if isinstance(e, ColumnsStreamedEvent)]

    def updates(self) -> list:
        """Streams, and whole-column replacements (a viewer that fell further behind than the topic holds)."""
        return [e for e in self.events if isinstance(e, (ColumnsStreamedEvent, ColumnDataChangedEvent))]


@pytest.fixture
def svc():
    return MetricsService([])


def lines(model) -> list[GlyphRenderer]:
    """The line renderers of a plot (not its placeholder or its outage bands)."""
    return [r for r in model.select({"type": GlyphRenderer}) if isinstance(r.glyph, Line)]


def cds_of(model) -> set[ColumnDataSource]:
    return {r.data_source for r in lines(model)}


async def test_new_viewer_starts_from_the_store_then_streams_deltas(svc):
    for i in range(5):
        write(svc, 100.0 + i, cpu=float(i))
    plot = TimeSeriesPlot(service=svc, metric="cpu_percent")
    doc = Document()
    root = plot.get_root(doc)
    doc.add_root(root)
    (cds,) = cds_of(root)
    assert list(cds.data["time"]) == [100_000.0 + 1000 * i for i in range(5)]
    log = EventLog(doc)
    write(svc, 105.0, cpu=5.0)
    write(svc, 104.0, cpu=99.0)  # older than what the store holds: refused there, never drawn
    await async_poll(lambda: len(cds.data["time"]) == 6)
    (column,) = [c for c in cds.data if c != "time"]
    assert list(cds.data[column]) == [0, 1, 2, 3, 4, 5]
    (stream,) = log.streams()
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float64 for v in stream.data.values())
    assert stream.rollover == 6, "the viewer keeps the rows of the window"


async def test_one_stream_per_source_per_flush_whatever_the_rate(svc, feed_config):
    feed_config.flush_interval = 0.2
    write(svc, 0.0, cpu=0, core0=0, core1=0)
    plots = [TimeSeriesPlot(service=svc, metric="cpu_percent"),
             TimeSeriesPlot(service=svc, metric="cpu_core_percent")]
    doc = Document()
    roots = [p.get_root(doc) for p in plots]
    for r in roots:
        doc.add_root(r)
    log = EventLog(doc)
    for i in range(200):  # one batch per row, far faster than the flush interval
        write(svc, 1.0 + i, cpu=i, core0=i, core1=i)
    feed = Feed.for_document(doc)
    await async_poll(lambda: feed.rows_streamed == 200, timeout=5)
    streams = log.streams()
    assert len(streams) <= 2, f"{len(streams)} messages for 200 batches"
    assert cds_of(roots[0]) == cds_of(roots[1]), "plots of one viewer share one ColumnDataSource"
    assert len(Feed.open_feeds()) == 1 and svc.publisher.subscriber_count == 1
    (cds,) = cds_of(roots[0])
    assert sorted(cds.data) == ["s0", "s1", "s2", "time"] and len(cds.data["time"]) == 201


async def test_a_series_that_appears_later_gets_a_column_and_a_line(svc):
    write(svc, 1.0, core0=10.0)
    plot = TimeSeriesPlot(service=svc, metric="cpu_core_percent")
    doc = Document()
    root = plot.get_root(doc)
    doc.add_root(root)
    assert len(lines(root)) == 1
    write(svc, 2.0, core0=20.0, core1=21.0)
    await async_poll(lambda: len(lines(root)) == 2)
    (cds,) = cds_of(root)
    np.testing.assert_array_equal(cds.data["s1"], [np.nan, 21.0])
    fig = root.select_one({"type": Plot})
    assert [item.label.value for item in fig.legend[0].items] == ["cpu=0", "cpu=1"]


async def test_each_viewer_has_its_own_models_and_feed(svc):
    write(svc, 1.0, cpu=1.0)
    plot = TimeSeriesPlot(service=svc, metric="cpu_percent")
    doc_a, doc_b = Document(), Document()
    root_a, root_b = plot.get_root(doc_a), plot.get_root(doc_b)
    assert root_a is not root_b and cds_of(root_a).isdisjoint(cds_of(root_b))
    assert len(Feed.open_feeds()) == 2 and svc.publisher.subscriber_count == 1, "one subscription per process"
    plot._cleanup(root_a)
    assert len(Feed.open_feeds()) == 1 and svc.publisher.subscriber_count == 1, "a viewer that goes away leaves"
    plot._cleanup(root_b)
    assert svc.publisher.subscriber_count == 0 and Feed.open_feeds() == []


async def test_gaps_reach_the_plot_as_nan(svc):
    plot = TimeSeriesPlot(service=svc, metric="cpu_percent")
    doc = Document()
    doc.add_root(plot.get_root(doc))
    write(svc, 1.0, cpu=1.0)
    svc._write(Batch.gap("sys", 2.0, [CPU]))
    write(svc, 3.0, cpu=3.0)
    feed = Feed.for_document(doc)
    await async_poll(lambda: "sys" in feed.columns and len(feed.columns["sys"].cds.data["time"]) == 3)
    np.testing.assert_array_equal(feed.columns["sys"].cds.data["s0"], [1.0, np.nan, 3.0])


async def test_the_viewer_keeps_the_window_and_no_more():
    svc = MetricsService([ScriptedSource(name="sys", interval=1.0)], window=20)
    plot = TimeSeriesPlot(service=svc, metric="cpu_percent")
    doc = Document()
    for i in range(50):
        write(svc, float(i), cpu=float(i))
    doc.add_root(plot.get_root(doc))
    feed = Feed.for_document(doc)
    cds = feed.columns["sys"].cds
    assert list(cds.data["s0"]) == [float(i) for i in range(30, 50)], "starts with the window"
    for i in range(50, 200):
        write(svc, float(i), cpu=float(i))
    await async_poll(lambda: cds.data["s0"][-1] == 199.0)
    assert list(cds.data["time"]) == [1000.0 * i for i in range(180, 200)], "older rows would stretch the y range"


async def test_stat_card_shows_latest_value_unit_and_trend(svc):
    card = StatCard(service=svc, metric="cpu_percent", title="CPU", trend_seconds=60)
    doc = Document()
    root = card.get_root(doc)
    doc.add_root(root)
    view = Feed.for_document(doc).views[0]
    assert "no data" in view.model.text
    write(svc, 1.0, cpu=10.0)
    write(svc, 2.0, cpu=12.5)
    await async_poll(lambda: getattr(view, "value", None) == "12.5 %")
    assert view.trend == "▲ 2.5 % in 60s"
    assert ">12.5 %<" in view.model.text and "▲ 2.5 % in 60s" in view.model.text


async def test_stat_card_escapes_units_from_sources(svc):
    key = SeriesKey.of("evil")
    svc._write(Batch("sys", (key,), np.array([1.0]), np.array([[1.0]]), {key: SeriesInfo("<b>u</b>")}))
    card = StatCard(service=svc, metric="evil", title="<i>t</i>")
    doc = Document()
    card.get_root(doc)
    view = Feed.for_document(doc).views[0]
    assert "&lt;b&gt;u&lt;/b&gt;" in view.model.text and "&lt;i&gt;t&lt;/i&gt;" in view.model.text
    assert "<b>" not in view.model.text and "<i>" not in view.model.text


async def test_source_status_rows_follow_state_and_escape_markup(svc):
    src = ScriptedSource([1.0], name="<img src=x onerror=alert(1)>", interval=0.05)
    svc.add_source(src)
    status = SourceStatus(service=svc)
    doc = Document()
    root = status.get_root(doc)
    doc.add_root(root)
    div = root.select_one({"type": Div})
    assert status.rows()["state"] == ["idle"] and "state-idle" in div.text
    async with svc:
        await async_poll(lambda: "state-connected" in div.text, timeout=5)
    assert "&lt;img src=x onerror=alert(1)&gt;" in div.text
    assert "<img" not in div.text, "markup from a source never reaches the page unescaped"


async def test_dashboard_is_one_feed_with_one_source_per_metrics_source(svc):
    write(svc, 1.0, cpu=1.0, core0=1.0, core1=2.0)
    dash = MetricsDashboard(service=svc)
    doc = Document()
    doc.add_root(dash.get_root(doc))
    feed = Feed.for_document(doc)
    assert feed is not None and len(Feed.open_feeds()) == 1
    assert list(feed.columns) == ["sys"] and svc.publisher.subscriber_count == 1
    n_views = len(feed.views)
    assert n_views == len(dash.cards) + len(dash.plots) + 3  # the automatic plots, the alerts and the status
    dash._cleanup(doc.roots[0])
    assert svc.publisher.subscriber_count == 0


def fast_batch(t0: float, n: int, rate: float) -> Batch:
    t = t0 + np.arange(n) / rate
    return Batch("sys", (CPU, CORE0), t, np.vstack((np.sin(t * 7.0) * 50 + 50, t)), INFO)


async def test_a_fast_source_reaches_the_viewer_decimated_with_exact_min_and_max(feed_config):
    from dashboard.metrics.decimate import buckets, minmax

    svc = MetricsService([ScriptedSource(name="sys", interval=0.01)], window=10, capacity=200_000)
    feed_config.resolution = 100
    plot = TimeSeriesPlot(service=svc, metric="cpu_percent")
    doc = Document()
    svc._write(fast_batch(1000.0, 10, 10_000))
    doc.add_root(plot.get_root(doc))
    feed = Feed.for_document(doc)
    log = EventLog(doc)
    for i in range(1, 60):  # 6 s at 10 kHz, in 100 ms batches
        svc._write(fast_batch(1000.0 + i * 0.1, 1000, 10_000))
    t_raw, v_raw = svc.store.window(CPU)
    await async_poll(lambda: feed.columns["sys"].cds.data["time"][-1] == t_raw[-1] * 1000.0, timeout=5)
    sc = feed.columns["sys"]
    assert len(sc.cds.data["time"]) <= 2 * 101 + 16, "about two rows per bucket, not one per sample"
    assert sc.rollover == 2 * 100 + 16
    out_t, out_v, _ = minmax(t_raw, v_raw[None, :], buckets(t_raw, 10 / 100))
    held = len(sc.cds.data["time"])
    np.testing.assert_array_equal(sc.cds.data["time"], out_t[-held:] * 1000.0)
    np.testing.assert_array_equal(sc.cds.data["s0"], out_v[0, -held:])
    sent = sum(len(e.data["time"]) for e in log.streams())
    assert sent < 60_000 / 10, f"{sent} rows sent for 59,000 samples"


async def test_a_page_that_does_not_acknowledge_gets_no_more_than_max_in_flight_then_the_latest(svc, feed_config):
    feed_config.param.update(flush_interval=0.01, max_in_flight=2)
    plot = TimeSeriesPlot(service=svc, metric="cpu_percent")
    doc = Document()
    write(svc, 0.0, cpu=0.0)
    doc.add_root(plot.get_root(doc))
    (other,) = cds_of(plot.get_root(Document()))  # a second viewer, never acknowledging
    feed = Feed.for_document(doc)
    feed._delivered = lambda: True  # as if a page were connected (a plain document reaches none)
    write(svc, 1.0, cpu=1.0)
    await async_poll(lambda: feed.flushes == 1)
    feed.ack.painted = 1  # the page drew it
    assert feed.in_flight == 0
    for i in range(2, 40):
        before = (feed.flushes, feed.held_back)
        write(svc, float(i), cpu=float(i))
        await async_poll(lambda: (feed.flushes, feed.held_back) != before, timeout=5)  # noqa: B023
    assert feed.flushes == 3, "the acknowledged one, then two while the page had not acknowledged"
    assert feed.in_flight == 2 and feed.held_back == 36
    assert feed.columns["sys"].cds.data["s0"][-1] == 3.0
    await async_poll(lambda: other.data["s0"][-1] == 39.0, timeout=5, what="the other viewer, not held back")
    feed.ack.painted = feed.ack.sent  # the page catches up: one flush brings it to the newest state
    await async_poll(lambda: feed.columns["sys"].cds.data["s0"][-1] == 39.0, timeout=5)
    assert feed.flushes == 4


async def test_a_viewer_that_never_acknowledges_gets_one_flush_per_timeout(svc, feed_config):
    feed_config.param.update(flush_interval=0.01, ack_timeout=0.3, max_in_flight=2)
    svc.window = 10.0  # fine buckets: the feed's pace is its flush interval
    plot = TimeSeriesPlot(service=svc, metric="cpu_percent")
    doc = Document()
    write(svc, 0.0, cpu=0.0)
    doc.add_root(plot.get_root(doc))
    feed = Feed.for_document(doc)
    feed._delivered = lambda: True  # a page still rendering its first document: connected, no ack yet
    i = 0
    while feed.flushes < 4:
        i += 1
        before = (feed.flushes, feed.held_back)
        write(svc, float(i), cpu=float(i))
        await async_poll(lambda: (feed.flushes, feed.held_back) != before, timeout=5)  # noqa: B023
    assert i > 10 and feed.held_back >= i - feed.flushes - 1, "held back between the timeouts"
    assert feed.in_flight == 4, "two within max_in_flight, then one per timeout"


async def test_a_long_window_is_redrawn_at_most_four_times_per_bucket():
    svc = MetricsService([ScriptedSource(name="sys", interval=0.01)], window=3600)
    plot = TimeSeriesPlot(service=svc, metric="cpu_percent")
    doc = Document()
    write(svc, 0.0, cpu=0.0)
    doc.add_root(plot.get_root(doc))
    feed = Feed.for_document(doc)
    # 1,200 buckets of 3 s: four flushes per bucket is one every 0.75 s, slower than the 50 ms default
    assert feed._processor.min_interval == 0.75


async def test_at_most_one_flush_per_interval_whatever_the_rate(svc, feed_config):
    import time

    feed_config.flush_interval = 0.1
    plot = TimeSeriesPlot(service=svc, metric="cpu_percent")
    doc = Document()
    write(svc, 0.0, cpu=0.0)
    doc.add_root(plot.get_root(doc))
    feed = Feed.for_document(doc)
    log = EventLog(doc)
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < 1.0:  # a batch every time the loop is free, for one second
        i += 1
        write(svc, float(i), cpu=float(i))
        await asyncio.sleep(0)
    await async_poll(lambda: feed.columns["sys"].cds.data["s0"][-1] == float(i), timeout=5)
    elapsed = time.monotonic() - start
    assert i > 500, "the offered rate is far above one batch per flush"
    assert len(log.updates()) == feed.flushes <= elapsed / 0.1 + 1


def plotted(svc: MetricsService, metric: str) -> tuple[Document, Feed]:
    """A plot of ``metric`` in a live document, and the document's feed."""
    doc = Document()
    doc.add_root(TimeSeriesPlot(service=svc, metric=metric).get_root(doc))
    return doc, Feed.for_document(doc)


def counted_recomputes(monkeypatch) -> list[int]:
    """A list that grows by one at every recompute of a document's model graph (the real one still runs)."""
    from bokeh.document.models import DocumentModelManager

    recomputes: list[int] = []
    original = DocumentModelManager.recompute
    monkeypatch.setattr(DocumentModelManager, "recompute", lambda self: (recomputes.append(1), original(self)))
    return recomputes


async def test_many_series_at_once_cost_one_model_graph_recompute(svc, monkeypatch):
    """A scrape that brings 100 series into one plot of a live document: each list assignment (a line, the
    hover's renderers, the legend's items) would recompute the document's whole model graph; the feed
    defers that to one recompute per flush (100 series took 20 s before; counts, not times, are asserted)."""
    doc, feed = plotted(svc, "per_path")
    recomputes = counted_recomputes(monkeypatch)
    keys = tuple(SeriesKey.of("per_path", path=f"/{i}") for i in range(100))
    svc._write(Batch("web", keys, np.array([1.0]), np.ones((100, 1))))
    await async_poll(lambda: len(lines(doc.roots[0])) == 100, timeout=30, what="100 lines")
    assert len(recomputes) <= 3, f"{len(recomputes)} model-graph recomputes for 100 new series"
    assert len(feed.views[0].hover.renderers) == 100 and len(feed.views[0].legend.items) == 100


async def test_series_no_view_shows_cost_no_model_graph_recompute(svc, monkeypatch):
    """A source that also publishes series the viewer does not plot (the synthetic source's own, another
    metric): once looked at, they are not news. Each was queued again on every batch, and every flush left a
    freeze and recomputed the whole graph (70% of a served page's CPU at 1,000 points/s)."""
    write(svc, 1.0, cpu=1.0, core0=2.0)
    doc, feed = plotted(svc, "cpu_percent")
    recomputes = counted_recomputes(monkeypatch)
    for i in range(2, 8):
        flushes = feed.flushes
        write(svc, float(i), cpu=float(i), core0=2.0, core1=3.0)
        await async_poll(lambda n=flushes: feed.flushes > n, timeout=5, what="a flush")
    (cds,) = cds_of(doc.roots[0])
    assert list(cds.data["s0"]) == [float(i) for i in range(1, 8)]
    assert len(recomputes) <= 1, f"{len(recomputes)} model-graph recomputes for 6 flushes of known series"


def test_percent_axes_span_0_to_100_and_plots_of_one_unit_may_share_a_range(svc):
    write(svc, 100.0, cpu=99.5, core0=100.0, core1=99.9)
    plots = [TimeSeriesPlot(service=svc, metric="cpu_percent", share_y=True),
             TimeSeriesPlot(service=svc, metric="cpu_core_percent", share_y=True),
             TimeSeriesPlot(service=svc, metric="cpu_percent")]
    doc = Document()
    roots = [p.get_root(doc) for p in plots]
    figures = [r.select_one({"type": Plot}) for r in roots]
    assert [(f.y_range.start, f.y_range.end) for f in figures] == [(0, 100)] * 3, "a flat 100 % is no dip"
    assert figures[0].y_range is figures[1].y_range, "share_y: one range for the plots of one unit"
    assert figures[2].y_range is not figures[0].y_range, "a plot without share_y keeps its own"
    assert set(figures[0].y_range.renderers) == set(lines(roots[0])) | set(lines(roots[1]))


async def test_a_card_names_the_series_it_shows_when_its_metric_has_several(svc):
    write(svc, 100.0, core0=12.0, core1=30.0)
    write(svc, 101.0, cpu=20.0)
    doc = Document()
    for card in (StatCard(service=svc, metric="cpu_core_percent", title="A core"),
                 StatCard(service=svc, metric="cpu_percent", title="CPU")):
        doc.add_root(card.get_root(doc))
    core, cpu = Feed.for_document(doc).views
    await async_poll(lambda: getattr(cpu, "value", None) == "20 %")
    assert ">12 %<" in core.model.text and "cpu=0" in core.model.text, "the card says which core it shows"
    assert 'class="series"' not in cpu.model.text, "a metric of one series needs no name"


async def test_a_view_built_after_a_series_came_and_one_built_before_both_draw_it(svc):
    """Two plots of one metric in one viewer, one built before its first series came and one after it
    came but before the viewer's next flush (a served page's deferred plots): both draw it."""
    doc = Document()
    early = TimeSeriesPlot(service=svc, metric="cpu_percent").get_root(doc)
    write(svc, 100.0, cpu=5.0)  # delivered to the viewer at its next flush
    late = TimeSeriesPlot(service=svc, metric="cpu_percent").get_root(doc)
    assert len(lines(late)) == 1, "built from the store"
    await async_poll(lambda: len(lines(early)) == 1, what="the plot built before the series to draw it")
    assert len(lines(late)) == 1


def test_a_batch_stored_before_a_topic_read_the_store_and_delivered_after_is_not_drawn_twice(svc):
    """The collection thread stores a batch, then publishes it; a topic made in between (a new window)
    reads it from the store and then receives it: its rows stay in time order."""
    from dashboard.ui.topics import Topic

    for t in range(1, 11):
        write(svc, float(t), cpu=float(t))
    topic = Topic(svc, "sys", 100, window=60)
    for t in (8.0, 9.0, 10.0, 11.0):  # all but the last: already read from the store
        topic.add(Batch("sys", (CPU,), np.array([t]), np.array([[t]]), INFO))
    topic.advance()
    times, _values = topic.decimator.rows(0, topic.decimator.end, [topic.index[CPU]])
    assert list(times) == [float(t) for t in range(1, 12)]


def test_a_refill_under_a_held_document_drops_what_was_held_for_that_source():
    """A notebook's document is held until its comm sends, and a held change of a source's columns goes
    out with the columns as they are then: rows streamed after it were sent twice, the second time after
    newer rows (a line drawn back across the plot after a window change). A refill supersedes what was
    held for its source, and the rows streamed after it go with it."""
    from dashboard.ui import transport

    doc = Document()
    cds = ColumnDataSource(data={"time": np.array([1.0, 2.0]), "s0": np.array([1.0, 2.0])})
    doc.add_root(cds)
    doc.hold("combine")
    transport.replace(cds, {"time": np.array([1.0, 2.0, 3.0]), "s0": np.array([1.0, 2.0, 3.0])})
    transport.stream(doc, cds, {"time": np.array([4.0]), "s0": np.array([4.0])}, 100)
    transport.replace(cds, {"time": np.array([3.0, 4.0, 5.0]), "s0": np.array([3.0, 4.0, 5.0])})
    transport.stream(doc, cds, {"time": np.array([6.0]), "s0": np.array([6.0])}, 100)
    (held,) = doc.callbacks._held_events
    assert type(held).__name__ == "ColumnDataChangedEvent" and held.cols is None
    assert list(cds.data["time"]) == [3.0, 4.0, 5.0, 6.0], "what it sends: each row once, in time order"
    cds.data["s1"] = np.zeros(4)  # a new column, then a row: the column goes out whole with the row in it
    transport.stream(doc, cds, {"time": np.array([7.0]), "s0": np.array([7.0]), "s1": np.array([1.0])}, 100)
    (held,) = doc.callbacks._held_events
    assert held.cols is None and len(cds.data["s1"]) == 5
