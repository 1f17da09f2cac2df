"""Failures that show: no data versus error, outage bands over the time a source was down."""

from __future__ import annotations

import numpy as np
from bokeh.document import Document

from dashboard.core.resilience import RetryPolicy
from dashboard.metrics.model import Batch, SeriesKey
from dashboard.service import MetricsService
from dashboard.sources.base import Source
from dashboard.ui.plots import TimeSeriesPlot, outages
from dashboard.ui.status import SourceStatus, render_rows

from .support import ScriptedSource, settle


class Quiet(Source):
    """A source that answers, with nothing (an exporter with no series yet)."""

    async def _collect(self) -> Batch:
        return Batch(self.name, (), np.array([]), np.empty((0, 0)))


async def test_no_data_and_error_look_different(clock, leak_check):
    quiet = Quiet(name="quiet", interval=1)
    broken = ScriptedSource([ConnectionError("refused")], name="broken", interval=1, clock=clock)
    svc = MetricsService([quiet, broken], clock=clock, sleep=clock.sleep, wall=clock, threaded=False,
                         retry=RetryPolicy(base=1, factor=1, cap=1, jitter=0))
    await svc.initialize()
    await settle(lambda: quiet.collections >= 2 and broken.failures >= 2, steps=500)
    await svc.shutdown()
    assert (quiet.health, quiet.failures) == ("no data", 0)
    assert (broken.health, broken.last_error) == ("error", "ConnectionError: refused")
    html = render_rows(SourceStatus(service=svc).rows())
    assert 'class="health-no-data">no data<' in html and 'class="health-error">error<' in html
    assert svc.store.latest(quiet.up_key)[1] == 1.0 and svc.store.latest(broken.up_key)[1] == 0.0


def test_outages_span_from_the_last_good_sample_to_the_next():
    svc = MetricsService([])
    up = SeriesKey.of("up", source="s")
    t = np.arange(10.0) + 1000
    v = np.array([1, 1, 0, 0, 1, 1, 0, 1, 1, 0], dtype=float)
    svc._write(Batch("s", (up,), t, v.reshape(1, -1)))
    x0, x1 = outages(svc, {"s"}, 1e12)
    assert (x0 / 1000).tolist() == [1001.0, 1005.0, 1008.0]
    assert (x1 / 1000).tolist()[:2] == [1004.0, 1007.0]
    assert x1[2] / 1000 > 1009.0, "an outage still going on reaches to now"


async def test_a_plot_shades_the_outage_of_its_source(clock):
    flaky = ScriptedSource([1.0, 2.0, OSError("down"), OSError("down"), 3.0, 4.0], name="flaky",
                           metric="value", interval=1, clock=clock)
    svc = MetricsService([flaky], clock=clock, sleep=clock.sleep, wall=clock, threaded=False,
                         retry=RetryPolicy(base=1, factor=1, cap=1, jitter=0))
    plot = TimeSeriesPlot(service=svc, metric="value")
    doc = Document()
    doc.add_root(plot.__panel__().get_root(doc))
    await svc.initialize()
    await settle(lambda: flaky.collections >= 4, steps=500)
    await svc.shutdown()
    from dashboard.ui.feed import Feed

    feed = Feed.for_document(doc)
    view = feed.views[0]
    view._outages_checked = -1.0
    view.refresh(feed, [])
    x0, x1 = view.outages.source.data["x0"], view.outages.source.data["x1"]
    assert len(x0) == 1, "one band over the one outage"
    t, v = svc.store.window(flaky.key, 1e9, now=clock())
    gap_t = t[np.isnan(v)]
    assert x0[0] <= gap_t.min() * 1000 and gap_t.max() * 1000 <= x1[0], "the band covers the gap"
    assert x0[0] == t[1] * 1000, "from the last good sample"
    feed.close()
