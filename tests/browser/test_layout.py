"""Panel's layout params in a served page, measured in Chromium: fixed widths, stretching plots, tabs."""

from __future__ import annotations

import panel as pn
import pytest

from dashboard.service import MetricsService
from dashboard.ui import MetricsDashboard, StatCard, TimeSeriesPlot

from ..support import poll
from .conftest import PLOT_STATE_JS, ServedApp

pytestmark = [pytest.mark.browser, pytest.mark.server]

# Each figure's size on the page, by title (a figure's view reports what it was laid out at).
SIZES_JS = """() => {
  const out = {};
  for (const view of Object.values(Bokeh.index)) {
    const walk = (v) => {
      if (v.model.type === 'Figure') {
        const t = v.model.title.text;
        out[typeof t === 'string' ? t : t.text] = [v.bbox.width, v.bbox.height];
      }
      for (const child of v.child_views ?? []) walk(child);
      for (const child of v.renderer_views?.values?.() ?? []) {}
    };
    walk(view);
  }
  return out;
}"""


def app():
    service = MetricsService.shared()
    service.start()
    return pn.Column(
        pn.Row(StatCard(metric="cpu_percent", title="CPU", width=200, css_classes=["card-200"]),
               StatCard(metric="process_count", title="Processes", width=200)),
        pn.Tabs(("stretching", TimeSeriesPlot(metric="cpu_core_percent", title="stretch both",
                                              sizing_mode="stretch_both", min_height=300)),
                ("fixed", TimeSeriesPlot(metric="cpu_percent", title="fixed 400", width=400, height=150,
                                         sizing_mode="fixed"))),
        MetricsDashboard(title="whole", sizing_mode="stretch_width"),
        sizing_mode="stretch_width")


@pytest.fixture
def layout_page(page):
    served = ServedApp(app).start()
    page.goto(served.url)
    yield page
    served.stop()


def test_layout_params_in_a_served_page(layout_page):
    page = layout_page
    state = poll(lambda: (s := page.evaluate(PLOT_STATE_JS)).get("stretch both") and s.get("CPU (all cores)")
                 and s, timeout=30, what="the stretching plot and the dashboard's plots with data")
    assert state["stretch both"]["rows"] > 0 and state["CPU (all cores)"]["rows"] > 0
    card = page.locator(".card-200").first.bounding_box()
    assert card is not None and 190 <= card["width"] <= 210, card
    sizes = poll(lambda: (s := page.evaluate(SIZES_JS)).get("stretch both") and s, timeout=10, what="sizes")
    width, height = sizes["stretch both"]
    assert width > 1000, "stretches across the 1280 px page"
    assert height >= 300, "at least its min_height"
    page.get_by_text("fixed", exact=True).click()
    sizes = poll(lambda: (s := page.evaluate(SIZES_JS)).get("fixed 400", [0])[0] and s, timeout=10,
                 what="the fixed plot's tab")
    assert sizes["fixed 400"] == [400, 150]
    assert page.errors.messages == []
