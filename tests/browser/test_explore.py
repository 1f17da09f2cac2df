"""Reading values across plots in a served page: one crosshair for every plot, values with their units."""

from __future__ import annotations

import time

import pytest

from ..support import poll
from .conftest import PLOT_STATE_JS, hover_plot_titled

pytestmark = [pytest.mark.browser, pytest.mark.server]

CROSSHAIRS_JS = """() => {
  const out = [];
  for (const d of Bokeh.documents) for (const m of d.all_models)
    if (m.type === 'CrosshairTool') out.push([m.overlay.id, m.overlay.location]);
  return out;
}"""


def test_hovering_one_plot_marks_that_time_on_every_plot(served, page):
    page.goto(served.url)
    poll(lambda: (s := page.evaluate(PLOT_STATE_JS)).get("Load average") and s["Load average"]["rows"] > 2,
         timeout=30, what="plots with data")
    before = page.evaluate(CROSSHAIRS_JS)
    assert len(before) >= 7 and len({span for span, _ in before}) == 1, "one span shared by every plot"
    assert hover_plot_titled(page, "Load average")
    marks = poll(lambda: (c := page.evaluate(CROSSHAIRS_JS))[0][1] is not None and c, timeout=10,
                 what="the crosshair to follow the pointer")
    at = marks[0][1] / 1000.0
    assert abs(at - time.time()) < 600, "a time within the window, in ms since the epoch"
    assert page.errors.messages == []
