"""Alerts in Chromium: a pushed metric whose label carries hostile text fires an alert; the page
notification, the alert list and the band's hover show the text literally, with no dialog and no injected
node; the threshold and the pending and firing bands appear on the plot, and GET /alerts lists it."""

from __future__ import annotations

import time

import httpx
import pytest

from ..support import poll
from .conftest import ServedApp, figure_js, hover_plot_titled
from .test_share import ALL_TEXT_JS
from .test_sources_page import DEEP_JS

pytestmark = [pytest.mark.browser, pytest.mark.server]

HOSTILE = "<img src=x onerror=alert(1)> </script> $$x$$"

# Rows of the plot's line.
LINE_ROWS = "const s = m.renderers.map(r => r.data_source).find(s => s && s.data.time); return s ? s.get_length() : 0;"

# Elements a hostile text would make (the notifications' own icons are <i class="notyf__icon...">).
MARKUP = "b, i:not([class^=notyf]), mjx-container, .katex"

# The plot's threshold lines, and its alert bands' colours.
MARKS_JS = figure_js("Temperature", """
    const sources = m.renderers.map(r => r.data_source).filter(s => s);
    const lines = sources.find(s => s.data.y && !s.data.time);
    const bands = sources.find(s => s.data.color);
    return {lines: lines ? Array.from(lines.data.y) : [], bands: bands ? Array.from(bands.data.color) : []};""")

# Where the bands are, as a fraction of the plot's width (the x range spans the whole window).
BANDS_AT_JS = figure_js("Temperature", """
    const s = m.renderers.map(r => r.data_source).find(s => s && s.data.color);
    const middle = (s.data.x0[0] + s.data.x1[s.data.x1.length - 1]) / 2;
    return (middle - m.x_range.start) / (m.x_range.end - m.x_range.start);""")


def alert_app():
    from dashboard.alerts.http import AlertsHandler
    from dashboard.server import ingest_patterns
    from dashboard.service import MetricsService
    from dashboard.ui import MetricsDashboard, TimeSeriesPlot
    from dashboard.ui.page import page

    svc = MetricsService([], window=60)
    MetricsService.set_shared(svc)
    patterns = [*ingest_patterns(svc, None), (r"/alerts", AlertsHandler, {"service": svc})]
    svc.add_alert(name="Hot", metric="temp", above=80, clear=75, for_=1.0, interval=0.2, severity="critical",
                  summary="{host} at {value:.0f}")

    def app():
        svc.start()
        return page(MetricsDashboard(service=svc, system=False, auto=False, title="alerts",
                                     panels=[TimeSeriesPlot(service=svc, metric="temp", title="Temperature")]))

    return ServedApp(app, service=svc, extra_patterns=patterns), svc


def push(served: ServedApp, value: float) -> None:
    body = [{"name": "temp", "value": value, "labels": {"host": HOSTILE}}]
    assert httpx.post(served.url + "ingest", json=body, timeout=10).json()["accepted"] == 1


def test_an_alert_fires_on_the_page_and_hostile_text_stays_text(page):
    served, svc = alert_app()
    served.start()
    try:
        page.goto(served.url)
        push(served, 50.0)
        poll(lambda: page.evaluate(figure_js("Temperature", LINE_ROWS)), timeout=60, what="the plot's first point")
        before = page.evaluate(DEEP_JS, "img, script")
        markup = page.evaluate(DEEP_JS, MARKUP)
        poll(lambda: page.evaluate(MARKS_JS)["lines"] == [80.0], timeout=30, what="the threshold line")

        deadline = time.monotonic() + 60
        while not [a for a in svc.alert_engine.alerts() if a.state.value == "firing"]:
            assert time.monotonic() < deadline, "the alert did not fire"
            push(served, 90.0)  # above the threshold for longer than `for`
            time.sleep(0.2)
        summary = f"{HOSTILE} at 90"
        poll(lambda: f"Hot firing: {summary}" in page.evaluate(ALL_TEXT_JS), timeout=30, what="the notification")
        poll(lambda: "firing" in page.evaluate(ALL_TEXT_JS) and summary in page.evaluate(ALL_TEXT_JS), timeout=30,
             what="the alert list")
        poll(lambda: set(page.evaluate(MARKS_JS)["bands"]) == {"#ff7f0e", "#d62728"}, timeout=30,
             what="the pending and firing bands")
        shown = page.evaluate(ALL_TEXT_JS).count(HOSTILE)
        poll(lambda: hover_plot_titled(page, "Temperature", page.evaluate(BANDS_AT_JS))
             and page.evaluate(ALL_TEXT_JS).count(HOSTILE) > shown,
             timeout=15, what="the band's hover")

        listed = httpx.get(served.url + "alerts", timeout=10).json()
        (alert,) = listed["alerts"]
        assert (alert["name"], alert["state"], alert["summary"]) == ("Hot", "firing", summary)
        assert listed["data"]["alerts"][0]["labels"]["host"] == HOSTILE

        push(served, 70.0)  # below the clear level
        poll(lambda: "Hot resolved:" in page.evaluate(ALL_TEXT_JS), timeout=30, what="the resolved notification")
        assert page.evaluate(DEEP_JS, "img, script") == before, "no element was injected"
        assert page.evaluate(DEEP_JS, MARKUP) == markup, "no markup, no TeX"
        assert not page.errors.messages, page.errors.messages
    finally:
        served.stop()
