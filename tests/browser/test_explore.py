"""Reading values across plots in a served page: one crosshair for every plot, values with their units."""

from __future__ import annotations

import time

import pytest

from ..support import poll
from .conftest import PLOT_STATE_JS, hover_plot_titled

pytestmark = [pytest.mark.browser, pytest.mark.server]

CROSSHAIRS_JS = """() => {
  const figures = [], tools = new Set();
  for (const d of Bokeh.documents) for (const m of d.all_models)
    if (m.type === 'Figure') figures.push(m);
  for (const f of figures) for (const t of f.toolbar.tools) if (t.type === 'CrosshairTool') tools.add(t);
  return {figures: figures.length, with: figures.filter(f => f.toolbar.tools.some(t => tools.has(t))).length,
          marks: [...tools].map(t => [t.overlay.id, t.overlay.location])};
}"""


def test_hovering_one_plot_marks_that_time_on_every_plot(served, page):
    page.goto(served.url)
    poll(lambda: (s := page.evaluate(PLOT_STATE_JS)).get("Load average") and s["Load average"]["rows"] > 2,
         timeout=30, what="plots with data")
    before = page.evaluate(CROSSHAIRS_JS)
    assert before["figures"] >= 7 and before["with"] == before["figures"], "a crosshair on every plot"
    assert len(before["marks"]) == 1, "one crosshair, and one line, for every plot"
    assert hover_plot_titled(page, "Load average")
    marks = poll(lambda: (c := page.evaluate(CROSSHAIRS_JS)["marks"])[0][1] is not None and c, timeout=10,
                 what="the crosshair to follow the pointer")
    at = marks[0][1] / 1000.0
    assert abs(at - time.time()) < 600, "a time within the window, in ms since the epoch"
    assert page.errors.messages == []


FIRST_LAST_JS = """(title) => {
  for (const doc of Bokeh.documents) for (const m of doc.all_models) {
    if (m.type !== 'Figure') continue;
    const text = typeof m.title.text === 'string' ? m.title.text : m.title.text.text;
    if (text !== title) continue;
    const r = m.renderers.find(r => r.data_source && r.data_source.data.time && r.data_source.get_length());
    if (!r) return null;
    const t = r.data_source.data.time;
    return [t[0], t[t.length - 1]];
  }
  return null;
}"""


def history_app():
    """A dashboard over a service whose store holds two hours of one sample a second, window 5 min."""
    import numpy as np

    from dashboard.metrics.model import Batch, SeriesInfo, SeriesKey
    from dashboard.service import MetricsService
    from dashboard.ui import MetricsDashboard, TimeSeriesPlot

    from ..support import ScriptedSource

    source = ScriptedSource([1.0], name="sys", metric="cpu_percent", interval=1.0)
    svc = MetricsService([source], window=300, capacity=100_000)
    MetricsService.set_shared(svc)
    now = time.time()
    t = now - 7200 + np.arange(7199, dtype=float)
    key = SeriesKey.of("cpu_percent", source="sys")
    svc.store.append(Batch("sys", (key,), t, np.sin(t / 600)[None, :], {key: SeriesInfo("%")}))

    def app():
        svc.start()
        return MetricsDashboard(service=svc, system=False, title="history",
                                panels=[TimeSeriesPlot(service=svc, metric="cpu_percent", title="stored")])

    return app


def test_a_window_change_shows_older_data_at_once(page):
    from .conftest import ServedApp

    served = ServedApp(history_app()).start()
    try:
        page.goto(served.url)
        first, last = poll(lambda: page.evaluate(FIRST_LAST_JS, "stored"), timeout=30, what="the stored plot")
        assert (last - first) / 1000 <= 300, "the service's 5 minutes"
        page.locator("select").first.select_option(label="1 h")
        first, last = poll(lambda: (r := page.evaluate(FIRST_LAST_JS, "stored")) and (r[1] - r[0]) / 1000 > 3000
                           and r, timeout=10, what="an hour of history on the page")
        assert (last - first) / 1000 <= 3600
        assert page.errors.messages == []
    finally:
        served.stop()
