"""Pause and resume, per viewer, as a param first: nothing drawn while paused, everything on resume."""

from __future__ import annotations

import numpy as np
from bokeh.document import Document
from bokeh.document.events import ColumnsPatchedEvent, ColumnsStreamedEvent
from bokeh.models import ColumnDataSource, GlyphRenderer, Line

from dashboard.metrics.model import Batch, SeriesInfo, SeriesKey
from dashboard.service import MetricsService, SourceEvent
from dashboard.ui import Feed, MetricsDashboard, TimeSeriesPlot

from ..support import ScriptedSource, async_poll

CPU = SeriesKey.of("cpu_percent")
OTHER = SeriesKey.of("cpu_percent", cpu="x")


def write(svc: MetricsService, t: float, value: float, key: SeriesKey = CPU) -> None:
    svc._write(Batch("sys", (key,), np.array([t]), np.array([[value]]), {key: SeriesInfo("%")}))


def rows_events(doc: Document) -> list:
    events: list = []
    doc.on_change(lambda e: events.append(e) if isinstance(e, (ColumnsStreamedEvent, ColumnsPatchedEvent)) else None)
    return events


def paused_plot(feed_config) -> tuple[MetricsService, TimeSeriesPlot, Document, Feed, ColumnDataSource]:
    """A plot of one sample in a document, paused: its service, the plot, the document, its feed and the
    plot's source of rows."""
    feed_config.flush_interval = 0.01
    svc = MetricsService([], window=600)
    write(svc, 1.0, 1.0)
    plot = TimeSeriesPlot(service=svc, metric="cpu_percent")
    doc = Document()
    doc.add_root(plot.get_root(doc))
    (feed,) = plot.feeds()
    plot.paused = True
    return svc, plot, doc, feed, feed.columns["sys"].cds


async def test_a_paused_plot_draws_nothing_then_everything_on_resume(feed_config):
    svc, plot, doc, feed, cds = paused_plot(feed_config)
    assert feed.paused
    events = rows_events(doc)
    for i in range(2, 30):
        write(svc, float(i), float(i))
        before = feed.paused_flushes
        await async_poll(lambda b=before: feed.paused_flushes > b, what="the feed to try a flush")
    before = feed.paused_flushes
    write(svc, 30.0, 30.0, OTHER)  # a new series while paused: its line waits too
    await async_poll(lambda: feed.paused_flushes > before, what="one more held flush")
    assert events == [] and list(cds.data["time"]) == [1000.0], "nothing drawn while paused"
    assert len([r for r in doc.roots[0].select({"type": GlyphRenderer}) if isinstance(r.glyph, Line)]) == 1
    plot.paused = False
    await async_poll(lambda: len(cds.data["time"]) == 30, what="everything collected during the pause")
    assert list(cds.data["s0"][:29]) == [float(i) for i in range(1, 30)]
    await async_poll(lambda: len([r for r in doc.roots[0].select({"type": GlyphRenderer})
                                  if isinstance(r.glyph, Line)]) == 2, what="the new series' line")


async def test_the_dashboard_pauses_every_part_and_its_status_still_follows(feed_config):
    feed_config.flush_interval = 0.01
    svc = MetricsService([])
    write(svc, 1.0, 1.0)
    dash = MetricsDashboard(service=svc, system=False, panels=[TimeSeriesPlot(service=svc, metric="cpu_percent")])
    doc = Document()
    doc.add_root(dash.get_root(doc))
    feed = Feed.for_document(doc)
    dash.paused = True
    assert feed.paused and all(p.paused for p in [*dash.plots, dash.status])
    status_view = next(v for v in feed.views if type(v).__name__ == "_StatusView")
    text = status_view.model.text
    svc.add_source(ScriptedSource(name="late"))
    svc.publisher.publish(SourceEvent("late", "connecting", "starting", 2.0))
    await async_poll(lambda: status_view.model.text != text, what="the status table to follow a state change")
    assert "late" in status_view.model.text
    second = Document()
    second.add_root(dash.get_root(second))
    assert Feed.for_document(second).paused, "a new viewer of a paused dashboard starts paused"
    dash.paused = False
    assert not feed.paused and not Feed.for_document(second).paused
    Feed.for_document(second).close()


async def test_a_resume_from_another_thread_is_drawn_on_the_feed_s_loop(feed_config):
    """A widget of another notebook cell (JupyterLab hands its messages to a thread of their own) resumes
    the plot: the document changes on the feed's loop, never in that thread."""
    import threading

    svc, plot, doc, feed, cds = paused_plot(feed_config)
    for i in range(2, 10):
        write(svc, float(i), float(i))
    await async_poll(lambda: feed.paused_flushes > 0, what="a held flush")
    changed_in: set[int] = set()
    doc.on_change(lambda _event: changed_in.add(threading.get_ident()))
    widget = threading.Thread(target=lambda: setattr(plot, "paused", False))
    widget.start()
    widget.join(timeout=10)
    await async_poll(lambda: len(cds.data["time"]) == 9, what="the rows collected during the pause")
    assert changed_in == {threading.get_ident()}
