"""Zoom in a served page: every plot moves, the range holds while data arrives, pixel resolution from the store,
and "Back to live" resumes with no gap."""

from __future__ import annotations

import time

import numpy as np
import pytest

from ..support import poll
from .conftest import ServedApp, hover_plot_titled

pytestmark = [pytest.mark.browser, pytest.mark.server]

FIGURES_JS = """() => {
  const out = {};
  for (const doc of Bokeh.documents) for (const m of doc.all_models) {
    if (m.type !== 'Figure') continue;
    const title = typeof m.title.text === 'string' ? m.title.text : m.title.text.text;
    const r = m.renderers.find(r => r.data_source && r.data_source.data.time && r.data_source.get_length());
    const xr = m.x_range;
    const t = r ? Array.from(r.data_source.data.time) : [];
    out[title] = {range: xr.id, start: xr.start, end: xr.end, times: t,
                  inside: t.filter(x => x >= xr.start && x <= xr.end).length};
  }
  return out;
}"""


def scope_app():
    """Two plots of a 1 kHz synthetic source (one wave each), window 60 s."""
    from dashboard.service import MetricsService
    from dashboard.sources.synthetic import SyntheticSource
    from dashboard.ui import MetricsDashboard, TimeSeriesPlot

    svc = MetricsService([SyntheticSource(name="scope", rate=1000, series_count=2, interval=0.05)], window=60)
    MetricsService.set_shared(svc)

    def app():
        svc.start()
        return MetricsDashboard(
            service=svc, system=False, auto=False, title="scope",
            panels=[TimeSeriesPlot(service=svc, metric="synthetic", labels={"wave": str(i)}, title=f"wave {i}")
                    for i in range(2)])

    return app, svc


def held_feed():
    from dashboard.ui import Feed

    feeds = [f for f in Feed.open_feeds() if not f.live]
    return feeds[0] if feeds else None


def test_a_zoom_moves_every_plot_holds_at_pixel_resolution_and_live_resumes_with_no_gap(page):
    app, svc = scope_app()
    served = ServedApp(app, service=svc).start()
    try:
        page.goto(served.url)
        poll(lambda: (f := page.evaluate(FIGURES_JS)).get("wave 0") and len(f["wave 0"]["times"]) > 2
             and f["wave 0"]["times"][-1] - f["wave 0"]["times"][0] > 12_000, timeout=60,
             what="12 s of both waves on the page")
        assert hover_plot_titled(page, "wave 0")

        def zoomed_in() -> bool:
            feed = held_feed()
            if feed is not None and feed.held[1] - feed.held[0] <= 5.0:
                return True
            page.mouse.wheel(0, -400)  # wheel zoom is active: no click first
            return False

        poll(zoomed_in, timeout=30, interval=0.3, what="the wheel to zoom into 5 s or less")
        start = held_feed().held[0] * 1000.0
        figures = poll(lambda: (f := page.evaluate(FIGURES_JS))["wave 0"]["start"] == pytest.approx(start)
                       and f["wave 0"]["inside"] >= 600 and f, timeout=10,
                       what="the held range drawn at pixel resolution")
        a, b = figures["wave 0"], figures["wave 1"]
        assert a["range"] == b["range"] and (b["start"], b["end"]) == (a["start"], a["end"]), "every plot moved"
        assert b["inside"] >= 600, "zooming into 5 s of a 1 kHz series draws at least 600 rows in that range"

        held = (a["start"], a["end"])
        collected = svc.store.stats()["samples_appended"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # checks, 4 a second, that the range holds while data arrives
            f = page.evaluate(FIGURES_JS)
            assert (f["wave 0"]["start"], f["wave 0"]["end"]) == held, "the zoom held (no snap back)"
            page.wait_for_timeout(250)
        assert svc.store.stats()["samples_appended"] > collected + 5000, "data kept arriving meanwhile"

        page.locator(".dashboard-live button").click()
        newest = time.time() * 1000.0

        def live_again():
            f = page.evaluate(FIGURES_JS)["wave 0"]
            return f["end"] > newest - 1000 and f["times"][-1] > newest - 1000 and f

        f = poll(live_again, timeout=10, what="the plots to follow the newest data again")
        times = np.asarray(f["times"])
        recent = times[times > held[0]]
        assert recent.size and np.diff(recent).max() < 1000.0, "no gap: what arrived while held is drawn"
        assert held_feed() is None
        assert page.errors.messages == []
    finally:
        served.stop()
