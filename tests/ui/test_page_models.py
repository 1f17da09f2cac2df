"""What a plot costs its viewer's document, counted: every model is built and serialized by the server for
each page and gets a view in the browser. Marks come only once there is something to draw; what plots draw
alike is one model per viewer."""

from __future__ import annotations

import numpy as np
import panel as pn
from bokeh.document import Document
from bokeh.models import BoxInteractionHandles, BoxZoomTool, CrosshairTool, GlyphRenderer, Plot, Quad, ResetTool

from dashboard.metrics.model import Batch, SeriesInfo, SeriesKey
from dashboard.service import MetricsService
from dashboard.ui import Feed, TimeSeriesPlot

METRICS = ("cpu", "memory", "load")

#: Models a plot of one series adds to a document that already shows one: figure, title, toolbar, its pan,
#: wheel zoom, box zoom (with its overlay) and hover, two axes and two grids, the y range, the legend and its
#: item, the line with its renderer, the window's anchor.
PER_PLOT = 19


def service() -> MetricsService:
    svc = MetricsService([], window=600)
    for name in METRICS:
        key = SeriesKey.of(name)
        svc._write(Batch("sys", (key,), np.array([1.0, 2.0]), np.array([[1.0, 2.0]]), {key: SeriesInfo("%")}))
    return svc


def page_of(svc: MetricsService, count: int) -> Document:
    doc = Document()
    doc.add_root(pn.Column(*[TimeSeriesPlot(service=svc, metric=m) for m in METRICS[:count]]).get_root(doc))
    return doc


def test_a_further_plot_adds_a_counted_number_of_models():
    svc = service()
    docs = [page_of(svc, n) for n in (1, 2, 3)]
    sizes = [len(doc.models) for doc in docs]
    for doc in docs:
        Feed.for_document(doc).close()
    assert sizes[2] - sizes[1] == sizes[1] - sizes[0] <= PER_PLOT, sizes


def outage_bands(doc: Document) -> list[GlyphRenderer]:
    return [r for r in doc.models if isinstance(r, GlyphRenderer) and r.name == "outages"]


def test_outage_bands_come_with_the_first_outage():
    doc = page_of(service(), 2)
    assert not outage_bands(doc)
    feed = Feed.for_document(doc)
    feed.views[0].outages.draw(np.array([1000.0]), np.array([2000.0]))
    bands = outage_bands(doc)
    assert len(bands) == 1 and list(bands[0].data_source.data["x0"]) == [1000.0]
    feed.views[0].outages.draw(np.array([1000.0]), np.array([2000.0]))
    assert outage_bands(doc) == bands, "the same band, not another"
    feed.close()


def test_plots_of_a_viewer_share_what_they_draw_alike():
    doc = page_of(service(), 3)
    boxes = [m for m in doc.models if isinstance(m, BoxZoomTool)]
    assert len(boxes) == 3
    assert len({id(b.overlay) for b in boxes}) == 3, "each plot's zoom box is its own (it moves with the drag)"
    assert len([m for m in doc.models if isinstance(m, BoxInteractionHandles)]) == 1, "one look for all"
    for tool in (CrosshairTool, ResetTool):  # in each plot's toolbar, without state of their own
        (shared,) = [m for m in doc.models if isinstance(m, tool)]
        assert all(shared in b.toolbar.tools for b in doc.models if isinstance(b, Plot)), tool
    anchors = [m for m in doc.models if isinstance(m, Quad)]
    assert len(anchors) == 1, "one glyph for the window's anchor of every plot"
    Feed.for_document(doc).close()
